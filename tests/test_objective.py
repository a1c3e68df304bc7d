"""Ranking finished trials by the study's objectives, constraints, and the Pareto set."""

from __future__ import annotations

import math

import pytest

from nasforge.architecture import Architecture
from nasforge.objective import (
    Constraint,
    Objective,
    contradiction_problems,
    hypervolume_reference,
    pareto_trials,
    rank,
    trials_hypervolume,
)
from nasforge.trial import Candidate, Result, Status, Trial, TrialState


def trial(number: int, state: TrialState = TrialState.COMPLETE, **metrics: float) -> Trial:
    status = Status.OK if state is TrialState.COMPLETE else Status.FAILED
    result = Result(metrics=metrics, status=status, reason=None if status is Status.OK else "x")
    return Trial(0, number, Candidate(Architecture({"d": number})), state, result)


def test_rank_puts_the_best_first_and_ties_to_the_earlier_trial() -> None:
    trials = [trial(0, acc=90), trial(1, acc=95), trial(2, acc=95), trial(3, acc=80)]
    ranked = rank(trials, [Objective(metric="acc", direction="max")])
    assert [t.number for t in ranked] == [1, 2, 0, 3]


def test_rank_minimises_and_leaves_out_failed_and_infeasible_trials() -> None:
    objectives = [Objective(metric="loss", direction="min"),
                  Objective(metric="params", direction="min", limit=100)]
    trials = [trial(0, loss=0.5, params=50), trial(1, loss=0.1, params=500),
              trial(2, TrialState.FAILED), trial(3, loss=0.3, params=90)]
    assert [t.number for t in rank(trials, objectives)] == [3, 0]


# -- constraints ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "metric", "low", "high"),
    [
        ("params <= 1e5", "params", None, 1e5),
        ("latency_ms<=5", "latency_ms", None, 5.0),
        ("val_accuracy >= 90", "val_accuracy", 90.0, None),
        ("5 >= latency_ms", "latency_ms", None, 5.0),
        ("90 <= val_accuracy", "val_accuracy", 90.0, None),
        ("1e3 <= params <= 1e5", "params", 1e3, 1e5),
        ("1e5 >= params >= 1e3", "params", 1e3, 1e5),
        ("val_mse <= -0.5", "val_mse", None, -0.5),
    ],
)
def test_constraint_strings_parse(
    text: str, metric: str, low: float | None, high: float | None
) -> None:
    c = Constraint.model_validate(text)
    assert (c.metric, c.min, c.max) == (metric, low, high)
    assert Constraint.model_validate(str(c)) == c  # the printed form reads back


def test_constraint_mapping_form_equals_the_string_form() -> None:
    assert Constraint.model_validate({"metric": "params", "max": 1e5}) == Constraint.model_validate(
        "params <= 1e5"
    )


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("params < 5", "use <= or >="),
        ("params == 5", "use <= or >="),
        ("params <= many", "is not METRIC <= NUMBER"),
        ("params", "cannot read 'params'"),
        ("1 <= params >= 3", "cannot read"),
        ({"metric": "params"}, "neither min nor max"),
        ({"metric": "params", "min": 10, "max": 1}, "nothing can be feasible: params >= 10"),
        ({"metric": "params", "max": 1, "bound": 3}, "Extra inputs"),
    ],
)
def test_bad_constraints_are_explained(value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Constraint.model_validate(value)


def test_violation_names_the_value_and_the_bound() -> None:
    c = Constraint.model_validate("params <= 1e5")
    assert c.violation({"params": 1e5}) is None  # inclusive
    assert c.violation({"params": 2e5}) == "params = 200000 breaks params <= 100000"
    assert c.violation({}) == "params is not reported, so params <= 100000 cannot be checked"
    assert c.violation({"params": math.nan}) is not None


def test_contradictions_name_both_bounds() -> None:
    constraints = [Constraint.model_validate(t) for t in
                   ("params <= 1e3", "flops <= 1e9", "params >= 1e4", "val_accuracy >= 101")]
    problems = contradiction_problems(constraints)
    assert [p.field for p in problems] == ["constraints.0", "constraints.3"]
    assert "constraints.2 needs params >= 10000 but constraints.0 needs params <= 1000" in (
        problems[0].message)
    assert "above its largest value 100" in problems[1].message
    limit = [Objective(metric="params", direction="min", limit=10)]
    (problem,) = contradiction_problems([Constraint.model_validate("params >= 100")], limit)
    assert "objectives.0.limit needs params <= 10" in problem.message
    assert contradiction_problems([Constraint.model_validate("1 <= params <= 1")]) == []


# -- the Pareto set and the hypervolume of trials ---------------------------------------------

ACC_PARAMS = [Objective(metric="acc", direction="max"), Objective(metric="params", direction="min")]


def test_pareto_trials_are_feasible_non_dominated_and_ordered() -> None:
    trials = [
        trial(0, acc=90, params=100),
        trial(1, acc=80, params=10),
        trial(2, acc=70, params=50),  # dominated by 1
        trial(3, acc=95, params=200),
        trial(4, acc=99, params=5000),  # breaks the constraint
        trial(5, TrialState.FAILED),
        trial(6, acc=90, params=100),  # equal to 0: both stay, the earlier first
        trial(7, acc=97),  # no params: cannot be placed
    ]
    constraints = [Constraint.model_validate("params <= 1000")]
    front = pareto_trials(trials, ACC_PARAMS, constraints)
    assert [t.number for t in front] == [3, 0, 6, 1]
    assert [t.number for t in pareto_trials(trials, ACC_PARAMS)] == [4, 3, 0, 6, 1]
    # one objective: the trials tied for the best value
    assert [t.number for t in pareto_trials(trials, ACC_PARAMS[:1], constraints)] == [3]


def test_hypervolume_reference_comes_from_the_spec_then_the_bounds_then_the_trials() -> None:
    trials = [trial(0, acc=90, params=100), trial(1, acc=80, params=10),
              trial(2, acc=60, params=400)]
    constraints = [Constraint.model_validate("params <= 500")]
    found = hypervolume_reference(trials, ACC_PARAMS, constraints)
    assert found == ({"acc": 60.0, "params": 500.0},
                     {"acc": "worst feasible trial", "params": "constraint"})
    given = hypervolume_reference(trials, ACC_PARAMS, constraints, {"acc": 50, "params": 1000})
    assert given is not None and given[0] == {"acc": 50.0, "params": 1000.0}
    assert hypervolume_reference([trial(0, TrialState.FAILED)], ACC_PARAMS) is None
    front = pareto_trials(trials, ACC_PARAMS, constraints)
    assert [t.number for t in front] == [0, 1]  # trial 2 is dominated by trial 0
    # boxes [50, 90] x [100, 1000] and [50, 80] x [10, 1000], overlapping above params 100
    expected = 40 * 900 + 30 * 90
    value = trials_hypervolume(front, ACC_PARAMS, {"acc": 50, "params": 1000})
    assert value == pytest.approx(expected)
