"""Zero-cost guidance: the warm-up helper, proxy budgets and ZCLocalSearch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluate.proxy.base import PROXIES, Proxy
from nasforge.space.base import SearchSpace
from nasforge.strategy import _bananas, _bo, _zc  # noqa: F401  (registers the strategies)
from nasforge.strategy._local_search import LocalSearch
from nasforge.strategy._zc import ProxyBudget, ZCLocalSearch, zc_warmup
from nasforge.testing.strategy_contract import OBJECTIVES, run_async
from nasforge.testing.toys import ToySpace, toy_optimum, toy_score

BIG = ToySpace(n_decisions=6, n_options=4)


class CountingProxy(Proxy):
    """The toy score as a proxy (NaN for one chosen architecture); counts its calls."""

    calls = 0

    def __init__(self, *, nan_for: str = "") -> None:
        self.nan_for = nan_for

    def score(self, arch: Architecture, space: SearchSpace) -> float:
        type(self).calls += 1
        if str(arch) == self.nan_for:
            return math.nan
        return toy_score(arch, space)  # type: ignore[arg-type]


if "test_counting_proxy" not in PROXIES:
    PROXIES.register("test_counting_proxy")(CountingProxy)
PROXY = {"name": "test_counting_proxy"}


def test_zc_warmup_keeps_the_best_by_proxy() -> None:
    CountingProxy.calls = 0
    top = zc_warmup(BIG, CountingProxy(), np.random.default_rng(0), n_scored=50, n_keep=5)
    assert CountingProxy.calls == 50
    assert len(top) == 5
    scores = [toy_score(a, BIG) for a in top]
    assert scores == sorted(scores, reverse=True)
    again = zc_warmup(BIG, CountingProxy(), np.random.default_rng(0), n_scored=50, n_keep=5)
    assert again == top


def test_zc_warmup_respects_a_budget_and_ranks_nan_last() -> None:
    space = ToySpace(n_decisions=2, n_options=2)
    best = Architecture({"d0": 1, "d1": 1})
    budget = ProxyBudget(CountingProxy(nan_for=str(best)), max_scores=3)
    ranked = zc_warmup(space, budget, np.random.default_rng(0), n_scored=10, n_keep=10)
    assert budget.used == 3 and len(ranked) == 3
    unscored = next(a for a in space.enumerate() if budget.known(a) is None)
    assert budget.score(unscored, space) is None  # budget spent
    budget = ProxyBudget(CountingProxy(nan_for=str(best)), max_scores=10)
    ranked = zc_warmup(space, budget, np.random.default_rng(0), n_scored=10, n_keep=10)
    assert len(ranked) == 4 and ranked[-1] == best


def test_proxy_budget_caches_and_pickles() -> None:
    import pickle

    budget = ProxyBudget(PROXY, max_scores=2)
    arch = toy_optimum(BIG)
    assert budget.score(arch, BIG) == 1.0
    assert budget.score(arch, BIG) == 1.0
    assert budget.used == 1
    clone = pickle.loads(pickle.dumps(budget))
    assert clone._proxy is None and clone.scores == budget.scores


def test_zc_local_search_starts_from_the_proxy_best_and_climbs_in_proxy_order() -> None:
    strategy = ZCLocalSearch(n_initial=1, proxy=PROXY, n_proxy_warmup=50, max_proxy_scores=400)
    strategy.setup(BIG, OBJECTIVES, 0)
    run = run_async(strategy, BIG, 40, n_pending=1)
    # With the exact score as proxy, every neighbour asked is the best unasked one: the walk
    # reaches the optimum in a few steps.
    assert toy_optimum(BIG) in run.archs[:15]
    assert 0 < strategy.n_proxy_scores <= 400
    assert len(set(run.archs)) == len(run.archs)


def test_zc_local_search_beats_plain_local_search() -> None:
    def steps_to_optimum(strategy: LocalSearch, seed: int) -> int:
        strategy.setup(BIG, OBJECTIVES, seed)
        run = run_async(strategy, BIG, 200, n_pending=1)
        return run.archs.index(toy_optimum(BIG)) if toy_optimum(BIG) in run.archs else 200

    seeds = range(3)
    guided = [steps_to_optimum(ZCLocalSearch(proxy=PROXY), s) for s in seeds]
    plain = [steps_to_optimum(LocalSearch(n_initial=5), s) for s in seeds]
    assert np.mean(guided) < np.mean(plain)


def test_max_proxy_scores_is_respected() -> None:
    strategy = ZCLocalSearch(n_initial=2, proxy=PROXY, n_proxy_warmup=30, max_proxy_scores=45)
    strategy.setup(BIG, OBJECTIVES, 1)
    run = run_async(strategy, BIG, 60)
    assert strategy.n_proxy_scores == 45
    assert len(set(run.archs)) == 60


def test_without_a_proxy_it_is_a_local_search() -> None:
    strategy = ZCLocalSearch()
    strategy.setup(BIG, OBJECTIVES, 0)
    run_async(strategy, BIG, 30)
    assert strategy.n_proxy_scores == 0


def test_bad_proxy_spec() -> None:
    with pytest.raises(ConfigError, match="proxy"):
        ZCLocalSearch(proxy={"metric": "naswot"})
