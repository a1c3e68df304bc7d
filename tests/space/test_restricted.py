"""RestrictedSpace: forbids and pins narrow every space operation, and bad steps are named."""

from __future__ import annotations

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError
from nasforge.space import SPACES
from nasforge.space.restricted import RestrictedSpace, Restriction
from nasforge.testing.toys import ToySpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGE = "cell.edge_1_0"


@pytest.fixture
def nb201() -> object:
    return SPACES.create("nb201")


def _view(space: object, restriction: Restriction) -> RestrictedSpace:
    return RestrictedSpace(space=space, restriction=restriction)  # type: ignore[arg-type]


def test_forbid_an_op_everywhere(nb201: object) -> None:
    view = _view(nb201, Restriction().forbid("avg_pool_3x3"))
    assert view.size == 4**6
    rng = np.random.default_rng(0)
    for _ in range(200):
        arch = view.sample(rng)
        assert "avg_pool_3x3" not in arch.values()
        assert view.contains(arch)
        mutated = view.mutate(arch, rng)
        assert mutated != arch and "avg_pool_3x3" not in mutated.values()
    neighbours = view.neighbours(arch)
    assert len(neighbours) == 6 * 3
    assert all("avg_pool_3x3" not in n.values() for n in neighbours)
    assert sum(1 for _ in view.enumerate()) == 4**6


def test_pin_and_forbid_one_decision(nb201: object) -> None:
    view = _view(nb201, Restriction().pin("nor_conv_3x3", EDGE).forbid("none", "cell.edge_3_2"))
    assert view.size == 5**4 * 4
    rng = np.random.default_rng(1)
    for _ in range(100):
        arch = view.sample(rng)
        assert arch[EDGE] == "nor_conv_3x3" and arch["cell.edge_3_2"] != "none"
    assert all(n[EDGE] == "nor_conv_3x3" for n in view.neighbours(arch))


def test_architectures_from_before_the_restriction_are_projected(nb201: object) -> None:
    """An evolution's parents may use a forbidden op: what mutate and neighbours return does
    not."""
    view = _view(nb201, Restriction().forbid("avg_pool_3x3"))
    old = Architecture({f"cell.edge_{j}_{i}": "avg_pool_3x3"
                        for j in range(1, 4) for i in range(j)})
    assert not view.contains(old)
    with pytest.raises(InvalidArchitectureError, match="forbidden by steering"):
        view.validate(old)
    rng = np.random.default_rng(2)
    assert view.contains(view.mutate(old, rng))
    neighbours = view.neighbours(old)
    assert neighbours and all(view.contains(n) for n in neighbours)
    assert neighbours[0] == Architecture({k: "none" for k in old})  # the first allowed option


def test_encode_build_and_parse_are_the_full_spaces(nb201: object) -> None:
    view = _view(nb201, Restriction().forbid("avg_pool_3x3"))
    arch = nb201.sample(np.random.default_rng(3))  # type: ignore[attr-defined]
    assert np.array_equal(view.encode(arch), nb201.encode(arch))  # type: ignore[attr-defined]
    assert view.parse(view.format(arch)) == arch


def test_a_view_of_a_view_narrows_the_original(nb201: object) -> None:
    first = _view(nb201, Restriction().forbid("avg_pool_3x3"))
    second = _view(first, Restriction().forbid("none"))
    assert second.space is nb201 and second.size == 3**6
    assert [str(s) for s in second.restriction.steps] == ["forbid op=avg_pool_3x3",
                                                          "forbid op=none"]


def test_typed_values_match_their_text() -> None:
    space = SPACES.create("mlp", {"depths": [1, 2], "widths": [16, 32]})
    name = next(n for n in space.decisions if n.endswith("width"))  # type: ignore[attr-defined]
    view = _view(space, Restriction().pin("32", name))
    rng = np.random.default_rng(4)
    assert all(view.sample(rng)[name] == 32 for _ in range(20))


def test_rules_of_the_space_are_kept() -> None:
    space = SPACES.create("nb201", {"rules": [{"forbid": {EDGE: "none"}}]})
    view = _view(space, Restriction().forbid("avg_pool_3x3"))
    rng = np.random.default_rng(5)
    assert all(view.sample(rng)[EDGE] not in ("none", "avg_pool_3x3") for _ in range(100))


@pytest.mark.parametrize(
    ("restriction", "match"),
    [
        pytest.param(Restriction().forbid("max_pool"), r"no decision of the space offers "
                     r"'max_pool'.*avg_pool_3x3", id="unknown-op"),
        pytest.param(Restriction().forbid("none", "cell.edge_9_0"),
                     r"no decision 'cell.edge_9_0'.*cell.edge_1_0", id="unknown-decision"),
        pytest.param(Restriction().pin("max_pool", EDGE),
                     r"decision 'cell.edge_1_0' has no option 'max_pool'", id="unknown-option"),
        pytest.param(Restriction().pin("none", EDGE).forbid("none"),
                     r"forbid op=none: it leaves decision 'cell.edge_1_0' with no option",
                     id="empties-a-pinned-decision"),
    ],
)
def test_bad_restrictions_name_the_problem(nb201: object, restriction: Restriction,
                                           match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _view(nb201, restriction)


def test_forbidding_every_op_names_the_emptied_decision(nb201: object) -> None:
    restriction = Restriction()
    for op in OPS[:-1]:
        restriction = restriction.forbid(op)
    _view(nb201, restriction)  # one op left: fine
    with pytest.raises(ConfigError, match=r"leaves decision 'cell.edge_1_0' with no option "
                       r"\(it had \['avg_pool_3x3'\]\)"):
        _view(nb201, restriction.forbid(OPS[-1]))


def test_a_space_without_a_table_is_refused() -> None:
    with pytest.raises(ConfigError, match="ToySpace has no decision table"):
        _view(ToySpace(), Restriction().forbid("a"))
