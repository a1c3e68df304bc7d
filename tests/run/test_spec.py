"""The run spec: YAML layout, overrides, error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nasforge.errors import ConfigError
from nasforge.run.spec import Budget, ComponentSpec, RunSpec, apply_overrides, load_spec, parse_spec

TOY: dict[str, Any] = {"task": "toy", "space": "toy", "evaluator": "toy", "executor": "inline"}


def test_component_sections_flat_or_string() -> None:
    assert ComponentSpec.model_validate("mnist1d") == ComponentSpec(name="mnist1d")
    flat = ComponentSpec.model_validate({"name": "nb201", "dims": 1})
    assert flat.params == {"dims": 1} and flat.to_yaml_dict() == {"name": "nb201", "dims": 1}


def test_defaults_make_a_complete_spec() -> None:
    spec = RunSpec()
    assert spec.task is None  # the evaluator's own task, else mnist1d
    assert spec.space.name == "nb201"
    assert spec.objectives[0].metric == "val_accuracy"


def test_budget_needs_a_limit_and_reports_which() -> None:
    with pytest.raises(ValueError, match="at least one of trials"):
        Budget()
    budget = Budget(trials=3, cost_s=10)
    assert budget.exhausted(2, 0.0, 0.0) is None
    assert budget.exhausted(3, 0.0, 0.0) == "trial budget of 3 reached"
    assert budget.exhausted(1, 0.0, 10.0) == "cost budget of 10 s reached"
    assert Budget(minutes=1).exhausted(0, 61.0, 0.0) == "time budget of 1 min reached"


@given(st.integers(min_value=1, max_value=10**6), st.booleans(),
       st.lists(st.integers(0, 9), max_size=4))
def test_overrides_parse_values_as_yaml(trials: int, flag: bool, items: list[int]) -> None:
    data = apply_overrides({"task": "mnist1d"}, [f"budget.trials={trials}",
                                                 f"reproducible={'true' if flag else 'false'}",
                                                 f"space.widths={items}", "task.seed=3"])
    assert data["budget"]["trials"] == trials
    assert data["reproducible"] is flag
    assert data["space"]["widths"] == items
    assert data["task"] == {"name": "mnist1d", "seed": 3}


@given(st.text(max_size=20).filter(lambda s: "=" not in s))
def test_overrides_without_equals_are_rejected(item: str) -> None:
    with pytest.raises(ConfigError, match="--set"):
        apply_overrides({}, [item])


def test_unknown_top_level_key_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match=r"budgt: unknown parameter.*did you mean 'budget'"):
        parse_spec({**TOY, "budgt": {"trials": 1}})


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec({**TOY, "seed": -1, "strategy": {"name": "random", "bogus": 1},
                    "space": {"name": "toy", "n_options": 0}})
    fields = {p.field for p in info.value.problems}
    assert {"seed", "strategy.bogus", "space.n_options"} <= fields


def test_load_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_spec(tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_spec(path)


def test_objective_metric_must_be_reported_by_the_evaluator() -> None:
    with pytest.raises(ConfigError, match=r"objectives\.0\.metric: 'accuracy' is not reported "
                                          r"by evaluator 'train'.*val_accuracy"):
        parse_spec({"objectives": [{"metric": "accuracy"}]})
    spec = parse_spec({"objectives": [{"metric": "val_accuracy"},
                                      {"metric": "params", "direction": "min", "limit": 1e6}]})
    assert [o.metric for o in spec.objectives] == ["val_accuracy", "params"]


def test_a_spec_stored_by_an_older_nasforge_still_parses() -> None:
    spec = parse_spec({"task": "digits", "space": "mlp", "ordered": True}, check=False)
    assert spec.reproducible is True


def test_a_spec_without_a_task_trains_on_mnist1d() -> None:
    from nasforge.run.parts import build_parts

    parts = build_parts(RunSpec(executor=ComponentSpec(name="inline")))
    assert parts.task.name == "mnist1d"
