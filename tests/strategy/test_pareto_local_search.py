"""Pareto local search: the archive is the front of the told results, asks walk along it."""

from __future__ import annotations

import numpy as np

from nasforge import metrics
from nasforge.architecture import Architecture
from nasforge.objective import Objective
from nasforge.pareto import pareto_set
from nasforge.strategy import ParetoLocalSearch
from nasforge.strategy._pareto_local_search import _insert
from nasforge.testing.strategy_contract import (
    TWO_OBJECTIVES,
    make_trial,
    run_async,
    toy_two_objective_result,
)
from nasforge.testing.toys import ToySpace
from nasforge.trial import Candidate, Result


def test_insert_keeps_a_non_dominated_archive() -> None:
    archive: list[tuple[Architecture, tuple[float, ...]]] = []
    a, b, c, d = (Architecture({"d0": i}) for i in range(4))
    assert _insert(archive, a, (1.0, 1.0))
    assert _insert(archive, b, (2.0, 0.0))  # a trade-off: both stay
    assert not _insert(archive, c, (0.5, 0.5))  # dominated by a
    assert _insert(archive, d, (2.0, 2.0))  # dominates both: they leave
    assert archive == [(d, (2.0, 2.0))]


def test_archive_is_the_front_of_the_feasible_told_results() -> None:
    space = ToySpace()
    limited = [TWO_OBJECTIVES[0], Objective(metric=metrics.PARAMS, direction="min", limit=12.0)]
    strategy = ParetoLocalSearch(n_initial=5)
    strategy.setup(space, limited, 3)

    def outcome(arch: Architecture) -> Result:
        if arch["d0"] == 2:
            return Result.failed("boom")
        return toy_two_objective_result(arch, space)

    run = run_async(strategy, space, 60, outcome=outcome)
    usable = [t for t in run.told if t.result is not None and t.result.ok
              and t.result.metrics["params"] <= 12.0]
    points = [(t.metrics["val_accuracy"], t.metrics["params"]) for t in usable]
    front = {str(usable[i].arch) for i in pareto_set(points, ["max", "min"])}
    assert {str(a) for a, _ in strategy.archive} == front
    assert all(a["d0"] != 2 for a, _ in strategy.archive)


def test_asks_neighbours_of_archive_members_after_the_initial_draws() -> None:
    space = ToySpace(n_decisions=5, n_options=4)
    strategy = ParetoLocalSearch(n_initial=6)
    strategy.setup(space, TWO_OBJECTIVES, 0)
    walked = 0
    for number in range(60):
        members = [a for a, _ in strategy.archive]
        candidate = strategy.ask(number)
        assert candidate is not None
        if number >= 6:
            near = any(candidate.arch in space.neighbours(m) for m in members)
            walked += near
        strategy.tell(make_trial(number, candidate,
                                 toy_two_objective_result(candidate.arch, space)))
    # Every ask after the start is a neighbour of a member, except kicks at a local optimum set.
    assert walked >= 45


def test_single_objective_climbs_to_the_toy_optimum() -> None:
    space = ToySpace(n_decisions=4, n_options=4)
    strategy = ParetoLocalSearch(n_initial=3)
    strategy.setup(space, TWO_OBJECTIVES[:1], 0)
    run = run_async(strategy, space, 80, outcome=lambda a: toy_two_objective_result(a, space))
    scores = [toy_two_objective_result(a, space).metrics["val_accuracy"] for a in run.archs]
    assert max(scores) == 100.0
    assert len(strategy.archive) == 1 and strategy.archive[0][1] == (100.0,)


def test_failed_results_never_join_the_archive() -> None:
    space = ToySpace()
    strategy = ParetoLocalSearch(n_initial=2)
    strategy.setup(space, TWO_OBJECTIVES, 0)
    rng = np.random.default_rng(0)
    for number in range(10):
        strategy.tell(make_trial(number, Candidate(space.sample(rng)), Result.failed("boom")))
    assert strategy.archive == []
    assert strategy.ask(10) is not None  # a random draw, since there is no front to walk
