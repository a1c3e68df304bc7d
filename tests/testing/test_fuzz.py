"""Every user input fuzzed (nasforge.testing.fuzz): works or a clear error, never uncaught.

A small derandomised sample of each target runs in ``make test``; the full count (>= 10,000
inputs) is the slow test and ``benchmarks/fuzz.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from nasforge.testing.fuzz import CLEAR, OK, Target, Uncaught, classify, targets

pytest.importorskip("fastapi")

TARGETS = targets()


def _fuzz(target: Target, examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(target.inputs())
    def prop(value: object) -> None:
        target.check(value)

    prop()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", list(TARGETS))
def test_a_sample_of_inputs_works_or_is_refused_clearly(name: str) -> None:
    _fuzz(TARGETS[name], 8 if name == "function_space" else 25)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_ten_thousand_inputs_none_uncaught() -> None:
    fresh = targets()
    for target in fresh.values():
        _fuzz(target, 1200)
    assert sum(sum(t.counts.values()) for t in fresh.values()) >= 10_000


def test_classify_tells_clear_errors_from_findings() -> None:
    from nasforge.errors import ConfigError

    def refuse() -> None:
        raise ConfigError("budget.trials: must be >= 1")

    def crash() -> None:
        raise KeyError("x")

    assert classify(lambda: None) == OK
    assert classify(refuse) == CLEAR
    with pytest.raises(Uncaught, match="KeyError"):
        classify(crash)


def test_yaml_tags_are_refused_not_run(tmp_path: object) -> None:
    target = targets()["spec_yaml"]
    assert target.check("!!python/object/apply:os.system ['echo pwned']") == CLEAR
    assert target.check("name: a\nname: b\n") in (OK, CLEAR)
