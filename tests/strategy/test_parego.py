"""ParEGO: the augmented Tchebycheff scalarisation, per-ask weights, failed trials left out."""

from __future__ import annotations

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.strategy import ParEGO
from nasforge.strategy._parego import tchebycheff
from nasforge.testing.strategy_contract import (
    TWO_OBJECTIVES,
    make_trial,
    run_async,
    toy_two_objective_result,
)
from nasforge.testing.toys import ToySpace
from nasforge.trial import Candidate, Result


@pytest.mark.parametrize("normalise", ["rank", "range"])
def test_a_weight_on_one_objective_ranks_by_it(normalise: str) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(20, 2))
    scores = tchebycheff(values, np.array([1.0, 0.0]), 0.05, normalise)  # type: ignore[arg-type]
    assert np.argmax(scores) == np.argmax(values[:, 0])
    assert np.all(np.diff(scores[np.argsort(values[:, 0])]) >= 0)


def test_the_augmentation_breaks_ties_in_favour_of_the_dominating_point() -> None:
    # Same worst weighted cost (objective 0), but the second point is better in objective 1.
    values = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 2.0]])
    weights = np.array([0.9, 0.1])
    assert tchebycheff(values, weights, rho=0.0, normalise="range")[0] == pytest.approx(
        tchebycheff(values, weights, rho=0.0, normalise="range")[1])
    with_rho = tchebycheff(values, weights, rho=0.05, normalise="range")
    assert with_rho[1] > with_rho[0]


def test_rank_normalisation_ignores_an_outlier() -> None:
    # (accuracy, -cost): a network at chance accuracy squashes the accuracy range, so with
    # range normalisation 91% vs 90% costs almost nothing and a weight of 0.8 on accuracy still
    # prefers the cheaper network; by rank the more accurate one wins, as the weight asks.
    values = np.array([[91.0, -20.0], [90.0, -10.0], [10.0, -5.0]])
    weights = np.array([0.8, 0.2])
    by_range = tchebycheff(values, weights, normalise="range")
    by_rank = tchebycheff(values, weights, normalise="rank")
    assert by_range[1] > by_range[0]
    assert by_rank[0] > by_rank[1]


def test_weights_are_drawn_per_ask_and_seeded() -> None:
    space = ToySpace()

    def weights(seed: int) -> list[list[float]]:
        strategy = ParEGO(n_initial=3)
        strategy.setup(space, TWO_OBJECTIVES, seed)
        drawn = []
        for number in range(8):
            candidate = strategy.ask(number)
            assert candidate is not None
            if strategy.weights is not None:
                drawn.append(strategy.weights.round(12).tolist())
            strategy.tell(make_trial(number, candidate,
                                     toy_two_objective_result(candidate.arch, space)))
        return drawn

    first = weights(0)
    assert len(first) == 5 and len({tuple(w) for w in first}) == 5
    assert all(sum(w) == pytest.approx(1.0) for w in first)
    assert weights(0) == first and weights(1) != first


def test_failed_results_are_left_out_of_the_surrogate_data() -> None:
    space = ToySpace()
    strategy = ParEGO(n_initial=2)
    strategy.setup(space, TWO_OBJECTIVES, 0)
    ok = Architecture({f"d{i}": 1 for i in range(4)})
    strategy.tell(make_trial(0, Candidate(ok), toy_two_objective_result(ok, space)))
    strategy.tell(make_trial(1, Candidate(ok.replace(d0=0)), Result.failed("boom")))
    strategy.tell(make_trial(2, Candidate(ok.replace(d0=2)), Result(metrics={"params": 1.0})))
    assert [a for a, _ in strategy._data] == [ok]


def test_finds_most_of_a_two_objective_toy_front() -> None:
    from nasforge.testing.strategy_contract import toy_front

    space = ToySpace(n_decisions=5, n_options=4)
    strategy = ParEGO(n_initial=8)
    strategy.setup(space, TWO_OBJECTIVES, 0)
    run = run_async(strategy, space, 80, outcome=lambda a: toy_two_objective_result(a, space))
    front = set(toy_front(space))
    assert len(front & set(run.archs)) >= len(front) // 2
