"""GP-BO and TPE specifics: search quality on a toy problem, pools, parameters."""

from __future__ import annotations

import numpy as np
import pytest

from nasforge.errors import ConfigError
from nasforge.strategy import _bananas, _bo, _zc  # noqa: F401  (registers the strategies)
from nasforge.strategy._bo import GPBO, TPE
from nasforge.strategy._random import RandomSearch
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.testing.strategy_contract import OBJECTIVES, run_async
from nasforge.testing.toys import ToySpace, toy_score

BIG = ToySpace(n_decisions=6, n_options=4)


def best_of(strategy: Strategy, budget: int, seed: int, space: ToySpace = BIG) -> float:
    strategy.setup(space, OBJECTIVES, seed)
    run = run_async(strategy, space, budget, n_pending=1)
    return max(toy_score(a, space) for a in run.archs)


@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(lambda: GPBO(n_initial=8), id="gp_bo-ei"),
        pytest.param(lambda: GPBO(n_initial=8, kernel="tanimoto", acquisition="ucb"), id="gp-ucb"),
        pytest.param(lambda: GPBO(n_initial=8, candidates="mutation"), id="gp_bo-mutation"),
        pytest.param(lambda: TPE(n_initial=8), id="tpe"),
    ],
)
def test_beats_random_on_a_toy_problem(factory: object) -> None:
    seeds = range(3)
    model = [best_of(factory(), 30, s) for s in seeds]  # type: ignore[operator]
    random = [best_of(RandomSearch(), 30, s) for s in seeds]
    assert np.mean(model) > np.mean(random)


def test_gp_bo_finds_the_optimum_of_4096_in_40_trials() -> None:
    assert [best_of(GPBO(n_initial=8), 40, s) for s in range(3)] == [1.0, 1.0, 1.0]


def test_tpe_handles_spaces_it_has_not_seen_values_of() -> None:
    # Two options per decision: the domain is learnt from samples.
    space = ToySpace(n_decisions=3, n_options=2)
    strategy = TPE(n_initial=2)
    strategy.setup(space, OBJECTIVES, 0)
    run = run_async(strategy, space, 8)
    assert len(set(run.archs)) == 8
    assert strategy.ask(8) is None


def test_parameters_are_validated() -> None:
    with pytest.raises(ConfigError, match="kernel"):
        STRATEGIES.create("gp_bo", {"kernel": "matern"})
    with pytest.raises(ConfigError, match="gamma"):
        STRATEGIES.create("tpe", {"gamma": 1.5})
    assert STRATEGIES.create("gp_bo", GPBO(beta=2.0).get_params()) == GPBO(beta=2.0)
