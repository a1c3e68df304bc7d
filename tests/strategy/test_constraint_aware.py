"""Constraint-aware strategies: the feasibility helpers, the study's check, Deb's ranking."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nasforge.testing.toys  # noqa: F401  (registers the toy space, task and evaluator)
from nasforge import metrics
from nasforge.architecture import Architecture
from nasforge.evaluate.costs import count_params
from nasforge.objective import Constraint, violation_amount
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.strategy import REINFORCE, ParEGO, ParetoLocalSearch, RandomSearch
from nasforge.testing.strategy_contract import (
    CONSTRAINED_SPACE,
    COST_CONSTRAINT,
    COST_LIMIT,
    OBJECTIVES,
    TWO_OBJECTIVES,
    ToyCostCheck,
    make_trial,
    toy_constrained_result,
    toy_cost,
)
from nasforge.testing.toys import ToySpace, ToyTask
from nasforge.trial import Candidate, Result, Status, TrialState


def _infeasible(number: int, arch: Architecture, cost: float) -> Any:
    return make_trial(number, Candidate(arch), Result(
        metrics={metrics.PARAMS: cost}, status=Status.INFEASIBLE, reason="breaks"))


def test_violation_amount_sums_relative_excess() -> None:
    bounds = [Constraint.model_validate("params <= 100"),
              Constraint.model_validate("val_accuracy >= 50")]
    assert violation_amount({"params": 50.0, "val_accuracy": 60.0}, bounds) == 0.0
    assert violation_amount({"params": 150.0, "val_accuracy": 25.0}, bounds) == 1.0
    assert violation_amount({"params": 150.0}, bounds) == float("inf")


def test_helpers_reject_infeasible_draws_and_fall_back_to_the_last() -> None:
    space = CONSTRAINED_SPACE
    check = ToyCostCheck()
    strategy = RandomSearch()
    strategy.setup(space, OBJECTIVES, 0, constraints=[COST_CONSTRAINT], feasible=check)
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert toy_cost(strategy.sample_feasible(rng)) <= COST_LIMIT
    heavy = Architecture({f"d{i}": 3 for i in range(6)})
    assert all(toy_cost(a) <= COST_LIMIT for a in strategy.feasible_neighbours(heavy)) is True
    child = strategy.mutate_feasible(Architecture({f"d{i}": 0 for i in range(6)}), rng)
    assert toy_cost(child) <= COST_LIMIT
    # Nothing feasible: the last draw comes back (the study stores it INFEASIBLE).
    strict = RandomSearch()
    strict.setup(space, OBJECTIVES, 0, feasible=lambda a: "never")
    assert strict.sample_feasible(rng, max_tries=5) is not None
    assert strict.first_feasible([heavy]) == heavy and strict.first_feasible([]) is None
    # Answers are remembered per architecture: the check runs once for each.
    fresh = Architecture({"d0": 1, "d1": 2, "d2": 3, "d3": 0, "d4": 1, "d5": 2})
    strategy._infeasibility.pop(fresh, None)
    calls = check.calls
    assert not strategy.is_feasible(fresh) and not strategy.is_feasible(fresh)
    assert check.calls == calls + 1


def test_a_check_that_raises_counts_as_feasible() -> None:
    def broken(arch: Architecture) -> str | None:
        raise RuntimeError("cannot build")

    strategy = RandomSearch()
    strategy.setup(ToySpace(), OBJECTIVES, 0, feasible=broken)
    assert strategy.is_feasible(Architecture({"d0": 0, "d1": 0, "d2": 0, "d3": 0}))


def test_without_a_check_the_asks_are_unchanged() -> None:
    """No check (no cheap constraint) or constraint_aware=False: the plain draws, exactly."""
    def asks(**setup: Any) -> list[Architecture]:
        strategy = RandomSearch(constraint_aware=setup.pop("aware", True))
        strategy.setup(CONSTRAINED_SPACE, OBJECTIVES, 3, **setup)
        return [strategy.ask(n).arch for n in range(20)]  # type: ignore[union-attr]

    plain = asks()
    assert asks(feasible=None) == plain
    assert asks(feasible=ToyCostCheck(), aware=False) == plain
    assert asks(feasible=ToyCostCheck()) != plain


def test_reinforce_learns_from_rejected_draws() -> None:
    """A rejected (infeasible) policy draw gets the worst reward's step: the options that make
    candidates infeasible lose probability, without a trial spent on them."""
    space = CONSTRAINED_SPACE
    aware = REINFORCE()
    aware.setup(space, OBJECTIVES, 0, constraints=[COST_CONSTRAINT], feasible=ToyCostCheck())
    blind = REINFORCE(constraint_aware=False)
    blind.setup(space, OBJECTIVES, 0, constraints=[COST_CONSTRAINT], feasible=ToyCostCheck())
    for strategy in (aware, blind):
        for number in range(30):
            candidate = strategy.ask(number)
            assert candidate is not None
            strategy.tell(make_trial(number, candidate,
                                     toy_constrained_result(candidate.arch, space)))
    # The last decision weighs most in toy_cost: its costliest option is the one to avoid.
    assert aware.probabilities()["d5"][3] < blind.probabilities()["d5"][3]


def test_pareto_local_search_walks_from_the_least_violating_result() -> None:
    space = ToySpace()
    strategy = ParetoLocalSearch(n_initial=2)
    strategy.setup(space, TWO_OBJECTIVES, 0, constraints=[Constraint(metric="params", max=2.0)])
    near = Architecture({"d0": 3, "d1": 0, "d2": 0, "d3": 0})
    far = Architecture({"d0": 3, "d1": 3, "d2": 3, "d3": 3})
    strategy.tell(_infeasible(0, far, 30.0))
    strategy.tell(_infeasible(1, near, 3.0))
    asked = strategy.ask(2)
    assert asked is not None and asked.arch in space.neighbours(near)


def test_parego_ranks_violators_below_every_feasible_result() -> None:
    space = ToySpace()
    strategy = ParEGO(n_initial=2)
    strategy.setup(space, TWO_OBJECTIVES, 0, constraints=[Constraint(metric="params", max=10.0)])
    archs = [Architecture({"d0": i, "d1": 0, "d2": 0, "d3": 0}) for i in range(4)]
    assert strategy.ask(0) is not None and strategy.ask(1) is not None  # the initial draws
    strategy.tell(make_trial(0, Candidate(archs[0]), Result(
        metrics={"val_accuracy": 10.0, "params": 1.0})))
    strategy.tell(_infeasible(1, archs[1], 30.0))
    strategy.tell(make_trial(2, Candidate(archs[2]), Result(
        metrics={"val_accuracy": 50.0, "params": 5.0})))
    strategy.tell(_infeasible(3, archs[3], 12.0))
    assert strategy.ask(4) is not None
    values = dict(strategy._data)
    assert min(values[archs[0]], values[archs[2]]) > values[archs[3]] > values[archs[1]]


def _toy_params(d0: int) -> float:
    space = ToySpace(n_decisions=2, n_options=4)
    return float(count_params(space.build(Architecture({"d0": d0, "d1": 0}), ToyTask().info())))


@pytest.mark.parametrize("aware", [True, False])
def test_a_study_hands_its_strategy_the_check(aware: bool) -> None:
    """The loop builds the check from the evaluator's cheap metrics and the cheap constraints:
    an aware strategy has no INFEASIBLE trial; a blind one (only filtered) has some."""
    limit = (_toy_params(1) + _toy_params(2)) / 2  # d0 in {0, 1}: half the space
    spec = parse_spec({
        "name": "aware", "seed": 1, "task": "toy",
        "space": {"name": "toy", "n_decisions": 2, "n_options": 4},
        "strategy": {"name": "random", "constraint_aware": aware},
        "evaluator": "toy", "executor": "inline", "budget": {"trials": 8},
        "constraints": [f"params <= {limit}"], "export_best": False,
    })
    study = Study.create(spec, in_memory=True)
    study.run()
    states = [t.state for t in study.trials()]
    n_infeasible = states.count(TrialState.INFEASIBLE)
    assert len(states) == 8
    if aware:
        assert n_infeasible == 0
        assert all(t.arch["d0"] in (0, 1) for t in study.trials())
    else:
        assert n_infeasible > 0
