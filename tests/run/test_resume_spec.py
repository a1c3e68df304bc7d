"""The settings a resume may change, through both front doors."""

from __future__ import annotations

from typing import Any

import pytest

import nasforge.testing.toys  # noqa: F401
from nasforge.errors import ConfigError
from nasforge.run.resume import resume_spec
from nasforge.run.spec import parse_spec

BASE: dict[str, Any] = {
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 3},
    "strategy": "random",
    "evaluator": "toy",
    "executor": {"name": "process", "workers": 2},
    "budget": {"trials": 10, "minutes": 5},
}


def test_python_and_cli_forms_give_the_same_spec() -> None:
    spec = parse_spec(BASE)
    by_python = resume_spec(spec, {"budget": {"trials": 60}, "executor": {"workers": 3}})
    by_cli = resume_spec(spec, overrides=["budget.trials=60", "executor.workers=3"])
    assert by_python == by_cli
    assert by_python.budget.trials == 60
    assert by_python.budget.minutes == 5  # merged, not replaced
    assert by_python.executor.params == {"workers": 3}


def test_a_new_executor_name_starts_from_its_defaults() -> None:
    spec = resume_spec(parse_spec(BASE), {"executor": {"name": "inline"}})
    assert spec.executor.name == "inline" and spec.executor.params == {}


def test_nothing_to_change_keeps_the_spec() -> None:
    spec = parse_spec(BASE)
    assert resume_spec(spec) is spec


def test_other_settings_are_refused_in_each_front_doors_syntax() -> None:
    spec = parse_spec(BASE)
    with pytest.raises(ConfigError, match=r"--set: 'space' cannot change on resume") as cli:
        resume_spec(spec, overrides=["space.n_decisions=4"])
    assert "budget.*" in str(cli.value)
    with pytest.raises(ConfigError, match=r"resume\(seed=\.\.\.\): 'seed' cannot change") as py:
        resume_spec(spec, {"seed": 3})
    assert "budget=" in str(py.value) and "--set" not in str(py.value)


def test_invalid_values_are_named() -> None:
    with pytest.raises(ConfigError, match=r"budget\.trials"):
        resume_spec(parse_spec(BASE), {"budget": {"trials": 0}})
