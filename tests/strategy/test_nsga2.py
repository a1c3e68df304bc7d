"""NSGA-II: objective vectors, crossover, survivors by rank and crowding, two objectives."""

from __future__ import annotations

import numpy as np
import pytest

from nasforge import metrics
from nasforge.architecture import Architecture
from nasforge.objective import Objective
from nasforge.pareto import crowding_distance, hypervolume, non_dominated_sort, pareto_set
from nasforge.strategy import NSGA2
from nasforge.strategy._nsga2 import objective_vector, uniform_crossover
from nasforge.testing.strategy_contract import (
    TWO_OBJECTIVES,
    RuledToySpace,
    make_trial,
    run_async,
    toy_two_objective_result,
)
from nasforge.testing.toys import ToySpace
from nasforge.trial import Candidate, Result, Trial


def _trial(number: int, arch: Architecture, result: Result) -> Trial:
    return make_trial(number, Candidate(arch), result)


def test_objective_vector_orients_and_marks_the_unusable() -> None:
    arch = Architecture({"d0": 0})
    ok = _trial(0, arch, Result(metrics={"val_accuracy": 90.0, "params": 5.0}))
    assert objective_vector(ok, TWO_OBJECTIVES) == (90.0, -5.0)
    failed = _trial(1, arch, Result.failed("boom"))
    missing = _trial(2, arch, Result(metrics={"val_accuracy": 90.0}))
    limited = [TWO_OBJECTIVES[0], Objective(metric=metrics.PARAMS, direction="min", limit=4.0)]
    assert objective_vector(failed, TWO_OBJECTIVES) is None
    assert objective_vector(missing, TWO_OBJECTIVES) is None
    assert objective_vector(ok, limited) is None  # params 5 breaks the limit 4: infeasible


def test_uniform_crossover_mixes_both_parents() -> None:
    first = Architecture({f"d{i}": 0 for i in range(8)})
    second = Architecture({f"d{i}": 1 for i in range(8)} | {"extra": 3})
    rng = np.random.default_rng(0)
    children = [uniform_crossover(first, second, rng) for _ in range(50)]
    assert all(list(c) == list(first) for c in children)  # first's decisions, in order
    values = {v for c in children for v in c.values()}
    assert values == {0, 1}
    share = np.mean([v for c in children for v in c.values()])
    assert 0.35 < share < 0.65


def test_children_breaking_a_rule_fall_back_to_mutation() -> None:
    # Each parent has one zero; a crossover child often has two, which the rule forbids.
    space = RuledToySpace(n_decisions=4, n_options=3, max_zeros=1)
    strategy = NSGA2(population=4, crossover_prob=1.0)
    strategy.setup(space, TWO_OBJECTIVES, 0)
    first = Architecture({"d0": 0, "d1": 1, "d2": 1, "d3": 1})
    second = Architecture({"d0": 1, "d1": 0, "d2": 2, "d3": 2})
    for seed in range(100):
        child = strategy._child(first, second, np.random.default_rng(seed))
        assert space.contains(child)


def test_survivors_are_ranked_by_front_then_crowding() -> None:
    space = ToySpace()
    strategy = NSGA2(population=6)
    strategy.setup(space, TWO_OBJECTIVES, 0)
    rng = np.random.default_rng(1)
    archs = [space.sample(rng) for _ in range(30)]
    results = [toy_two_objective_result(a, space) for a in archs]
    for i, (a, r) in enumerate(zip(archs, results, strict=True)):
        strategy.tell(_trial(i, a, r))
    strategy.tell(_trial(30, archs[0], Result.failed("boom")))
    points = [(r.metrics["val_accuracy"], r.metrics["params"]) for r in results]
    fronts = non_dominated_sort(points, ["max", "min"])
    survivors = strategy.survivors
    assert len(survivors) == 6
    ranks = [rank for _, rank, _ in survivors]
    assert ranks == sorted(ranks)
    # The first front is kept whole while it fits; the rest come by crowding from the next one.
    expected: list[int] = []
    for front in fronts:
        if len(expected) + len(front) <= 6:
            expected += front
        else:
            crowding = crowding_distance([points[i] for i in front], ["max", "min"])
            order = sorted(range(len(front)), key=lambda k: (-crowding[k], front[k]))
            expected += [front[k] for k in order[: 6 - len(expected)]]
            break
    assert sorted(str(archs[i]) for i in expected) == sorted(str(a) for a, _, _ in survivors)


def test_failed_results_are_never_survivors_and_violators_only_fill_places() -> None:
    """Deb's constrained domination: feasible results first; results that break an objective
    limit only fill the places feasible ones leave, least violation first."""
    space = ToySpace()
    limited = [TWO_OBJECTIVES[0], Objective(metric=metrics.PARAMS, direction="min", limit=6.0)]
    strategy = NSGA2(population=4)
    strategy.setup(space, limited, 0)
    rng = np.random.default_rng(2)
    told = 0
    while told < 40:
        arch = space.sample(rng)
        result = toy_two_objective_result(arch, space)
        if told % 3 == 0:
            result = Result.failed("boom")
        strategy.tell(_trial(told, arch, result))
        told += 1
    params = [toy_two_objective_result(a, space).metrics["params"] for a, _, _ in
              strategy.survivors]
    assert len(params) == 4
    n_feasible = sum(p <= 6.0 for p in params)
    assert all(p <= 6.0 for p in params[:n_feasible])  # feasible ones first
    violators = params[n_feasible:]
    assert violators == sorted(violators) and all(p > 6.0 for p in violators)
    ranks = [rank for _, rank, _ in strategy.survivors]
    assert ranks == sorted(ranks)


def test_violators_rank_by_how_much_they_break_the_constraint() -> None:
    """With no feasible result yet, the least-violating results are the parents."""
    from nasforge.objective import Constraint
    from nasforge.trial import Status

    space = ToySpace()
    strategy = NSGA2(population=3)
    limit = Constraint(metric=metrics.PARAMS, max=2.0)
    strategy.setup(space, TWO_OBJECTIVES, 0, constraints=[limit])
    archs = [Architecture({"d0": 3, "d1": d, "d2": 0, "d3": 0}) for d in range(4)]
    for number, arch in enumerate(archs):
        cost = 3.0 + 2.0 * arch["d1"]
        strategy.tell(_trial(number, arch, Result(
            metrics={metrics.PARAMS: cost}, status=Status.INFEASIBLE,
            reason=f"params = {cost:g} breaks params <= 2")))
    assert [a for a, _, _ in strategy.survivors] == archs[:3]
    assert strategy.violation_amount(_trial(9, archs[0], Result(
        metrics={metrics.PARAMS: 3.0}, status=Status.INFEASIBLE, reason="x"))) == 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_two_objective_front_improves_on_the_initial_population(seed: int) -> None:
    space = ToySpace(n_decisions=6, n_options=4)
    strategy = NSGA2(population=10)
    strategy.setup(space, TWO_OBJECTIVES, seed)
    run = run_async(strategy, space, 100, outcome=lambda a: toy_two_objective_result(a, space))
    points = [(toy_two_objective_result(a, space).metrics["val_accuracy"],
               toy_two_objective_result(a, space).metrics["params"]) for a in run.archs]
    reference = (0.0, 100.0)
    initial = hypervolume(points[:10], ["max", "min"], reference=reference)
    final = hypervolume(points, ["max", "min"], reference=reference)
    assert final > 1.05 * initial
    # Rank 0 survivors are exactly the non-dominated told results (none failed here).
    front = {str(run.archs[i]) for i in pareto_set(points, ["max", "min"])}
    assert {str(a) for a, rank, _ in strategy.survivors if rank == 0} <= front
