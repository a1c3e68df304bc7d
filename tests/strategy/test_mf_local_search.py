"""Multi-fidelity local search: low-fidelity climbing, full queries in low-fidelity order."""

from __future__ import annotations

import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluate.proxy.base import PROXIES, Proxy
from nasforge.objective import Objective
from nasforge.space.base import SearchSpace
from nasforge.strategy import MultiFidelityLocalSearch
from nasforge.testing.toys import ToySpace, toy_optimum, toy_result, toy_score
from nasforge.trial import Candidate, Result, Trial, TrialState


def _setup(**params: object) -> tuple[MultiFidelityLocalSearch, ToySpace]:
    space = ToySpace()
    strategy = MultiFidelityLocalSearch(**params)  # type: ignore[arg-type]
    strategy.setup(space, [Objective(metric="val_accuracy")], seed=0)
    return strategy, space


def _tell(strategy: MultiFidelityLocalSearch, space: ToySpace, n: int, cand: Candidate) -> Trial:
    fraction = 0.3 if cand.fidelity == strategy.low_fidelity else 1.0
    result: Result = toy_result(cand.arch, space, fraction)
    trial = Trial(0, n, cand, TrialState.COMPLETE, result)
    strategy.tell(trial)
    return trial


def test_ratio_of_low_to_full_and_full_queries_follow_low_ranking() -> None:
    strategy, space = _setup(low_fidelity=3, ratio=4)
    low_values: dict[str, float] = {}
    queried: set[str] = set()
    for n in range(60):
        cand = strategy.ask(n)
        assert cand is not None
        if cand.fidelity is None:
            # The best low-fidelity architecture not yet queried at full fidelity.
            unqueried = {a: v for a, v in low_values.items() if a not in queried}
            assert low_values[str(cand.arch)] == max(unqueried.values())
            queried.add(str(cand.arch))
        else:
            assert cand.fidelity == 3
        trial = _tell(strategy, space, n, cand)
        if cand.fidelity == 3:
            low_values[str(cand.arch)] = trial.metrics["val_accuracy"]
    assert 60 // 5 - 1 <= len(queried) <= 60 // 5 + 1  # one full query per 4 low-fidelity runs


def test_finds_the_toy_optimum_at_full_fidelity() -> None:
    strategy, space = _setup(low_fidelity=3, ratio=4)
    target = toy_optimum(space)
    for n in range(200):
        cand = strategy.ask(n)
        assert cand is not None
        _tell(strategy, space, n, cand)
        if cand.arch == target and cand.fidelity is None:
            return
    pytest.fail("the optimum was never queried at full fidelity")


def test_restarts_at_a_low_fidelity_local_optimum() -> None:
    strategy, space = _setup(low_fidelity=3, ratio=100)
    for n in range(150):
        cand = strategy.ask(n)
        assert cand is not None
        _tell(strategy, space, n, cand)
    assert strategy.n_restarts >= 1  # the unimodal toy: the optimum is reached, then restart


def test_bad_fidelities_are_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="high_fidelity: must be above low_fidelity"):
        MultiFidelityLocalSearch(low_fidelity=12, high_fidelity=12)
    with pytest.raises(ConfigError, match="ratio"):
        MultiFidelityLocalSearch(ratio=0)


class _ToyScoreProxy(Proxy):
    """The toy score itself: a perfect proxy."""

    def score(self, arch: Architecture, space: SearchSpace) -> float:
        return toy_score(arch, space)  # type: ignore[arg-type]


if "test_mf_toy_proxy" not in PROXIES:
    PROXIES.register("test_mf_toy_proxy")(_ToyScoreProxy)


def test_proxy_ranks_the_start_points_within_its_budget() -> None:
    strategy, space = _setup(low_fidelity=3, ratio=4, proxy={"name": "test_mf_toy_proxy"},
                             n_proxy_warmup=64, max_proxy_scores=64)
    first = strategy.ask(0)
    assert first is not None and first.fidelity == 3
    assert strategy.n_proxy_scores == 64
    # The first start is the best of the 64 scored architectures, not a random draw.
    rng_draws = MultiFidelityLocalSearch(low_fidelity=3, ratio=4)
    rng_draws.setup(space, [Objective(metric="val_accuracy")], seed=0)
    plain_first = rng_draws.ask(0)
    assert plain_first is not None
    assert toy_score(first.arch, space) >= toy_score(plain_first.arch, space)
    for n in range(1, 40):
        cand = strategy.ask(n)
        assert cand is not None
        _tell(strategy, space, n, cand)
    assert strategy.n_proxy_scores == 64  # never more than the budget
