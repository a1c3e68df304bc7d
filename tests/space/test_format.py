"""The readable ``decision=value`` form: typed round trips, quoting, and hand-written input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nasforge.architecture import Architecture
from nasforge.errors import InvalidArchitectureError
from nasforge.space import Choice, Repeat, StructuredSpace
from nasforge.space.base import format_decisions, format_value, parse_decisions


class _Space(StructuredSpace):
    """Decisions of every value type, some of which read like another type."""

    def declaration(self) -> Any:
        return {
            "kernel": Choice(["3", "5"]),  # strings that look like ints
            "dropout": Choice([0.0, 0.5]),
            "skip": Choice([True, False]),
            "act": Choice(["relu", "true", "a b"]),
            "blocks": Repeat({"width": Choice([8, 16])}, depth=Choice([1, 2])),
        }

    def build(self, arch: Architecture, task: Any) -> Any:
        raise NotImplementedError


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (5, "5"), (-3, "-3"), (0.5, "0.5"), (2.0, "2.0"),
     (1e-05, "1e-05"), ("relu", "relu"), ("5", '"5"'), ("true", '"true"'), ("1e3", '"1e3"'),
     ("a b", '"a b"'), ("", '""'), ('say "hi"', '"say \\"hi\\""'), ("{x", '"{x"'),
     ("nan", "nan"), ("3x3", "3x3")],
)
def test_values_print_so_their_type_reads_back(value: Any, text: str) -> None:
    assert format_value(value) == text
    assert parse_decisions(f"k={text}")["k"] == value
    assert type(parse_decisions(f"k={text}")["k"]) is type(value)


def test_structured_spaces_print_in_table_order() -> None:
    space = _Space()
    arch = Architecture({"kernel": "5", "dropout": 0.0, "skip": True, "act": "a b",
                         "blocks.depth": 2, "blocks.0.width": 8, "blocks.1.width": 16})
    text = space.format(arch)
    assert text == ('kernel="5" dropout=0.0 skip=true act="a b" blocks.depth=2 '
                    "blocks.0.width=8 blocks.1.width=16")
    assert space.parse(text) == arch
    assert space.parse(str(arch)) == arch  # the canonical JSON form still reads


def test_hand_written_values_take_the_declared_types() -> None:
    space = _Space()
    arch = space.parse("kernel=5 dropout=0 skip=True act=relu blocks.depth=1 "
                       "blocks.0.width=16.0")
    assert arch == Architecture({"kernel": "5", "dropout": 0.0, "skip": True, "act": "relu",
                                 "blocks.depth": 1, "blocks.0.width": 16})


def test_values_outside_the_options_are_refused_with_the_options() -> None:
    with pytest.raises(InvalidArchitectureError, match=r"kernel.*one of \['3', '5'\]; got 7"):
        _Space().parse("kernel=7 dropout=0.0 skip=true act=relu blocks.depth=1 "
                       "blocks.0.width=8")


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "no decisions"), ("   ", "no decisions"), ("depth", "no '=' after 'depth'"),
     ("depth =2", "no '=' after 'depth'"), ("=2", "a decision without a name"),
     ("depth=", "no value for 'depth'"), ('op="conv', "unterminated quoted string"),
     ('op="a"b', "text right after the value of 'op'"), ('{"a": ', "expected JSON object")],
)
def test_malformed_text_is_explained(text: str, problem: str) -> None:
    with pytest.raises(InvalidArchitectureError, match=problem):
        parse_decisions(text)


def test_a_decision_given_twice_is_refused() -> None:
    with pytest.raises(InvalidArchitectureError, match="'depth' appears twice"):
        parse_decisions("depth=1 depth=2")


def test_empty_architecture() -> None:
    assert format_decisions(Architecture()) == "{}"
    assert parse_decisions("{}") == Architecture()


_VALUES = st.one_of(
    st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(),
)


@given(st.dictionaries(st.text(min_size=1), _VALUES, min_size=1, max_size=6))
def test_any_architecture_round_trips(decisions: dict[str, Any]) -> None:
    arch = Architecture(decisions)
    text = format_decisions(arch)
    assert "\n" not in text  # one line: strings with line breaks are quoted and escaped
    assert parse_decisions(text) == arch
