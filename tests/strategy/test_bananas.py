"""BANANAS and the shared predictor code: fits, acquisition, search quality, proxies."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluate.proxy.base import PROXIES, Proxy
from nasforge.space.base import SearchSpace
from nasforge.strategy import _bananas, _bo, _zc  # noqa: F401  (registers the strategies)
from nasforge.strategy._bananas import BANANAS
from nasforge.strategy._predictors import GaussianProcess, MLPEnsemble, acquire
from nasforge.strategy._random import RandomSearch
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.testing.strategy_contract import OBJECTIVES, run_async
from nasforge.testing.toys import ToySpace, toy_optimum, toy_score

BIG = ToySpace(n_decisions=6, n_options=4)  # 4096 architectures


class ToyScoreProxy(Proxy):
    """A test proxy: the toy score plus a deterministic per-architecture perturbation."""

    def __init__(self, *, noise: float = 0.1) -> None:
        self.noise = noise

    def score(self, arch: Architecture, space: SearchSpace) -> float:
        jitter = int(arch.arch_id[:6], 16) / 0xFFFFFF - 0.5
        return toy_score(arch, space) + self.noise * jitter  # type: ignore[arg-type]


if "test_toy_score_proxy" not in PROXIES:
    PROXIES.register("test_toy_score_proxy")(ToyScoreProxy)
PROXY = {"name": "test_toy_score_proxy", "noise": 0.1}


def best_of(strategy: Strategy, space: ToySpace, budget: int, seed: int) -> float:
    strategy.setup(space, OBJECTIVES, seed)
    run = run_async(strategy, space, budget, n_pending=1)
    return max(toy_score(a, space) for a in run.archs)


def test_mlp_ensemble_fits_a_simple_function() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((200, 20)) < 0.3).astype(np.float32)
    w = rng.standard_normal(20)
    y = x @ w + 50.0
    model = MLPEnsemble(n_members=3, hidden=16, steps=300, lr=0.01).fit(
        x[:150], y[:150], np.random.default_rng(1)
    )
    members = model.predict(x[150:])
    assert members.shape == (3, 50)
    pred = members.mean(0)
    r2 = 1 - ((pred - y[150:]) ** 2).sum() / ((y[150:] - y[150:].mean()) ** 2).sum()
    assert r2 > 0.9


def test_mlp_ensemble_is_deterministic_and_members_differ() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((30, 10)) < 0.5).astype(np.float32)
    y = x.sum(1)
    a = MLPEnsemble(steps=20).fit(x, y, np.random.default_rng(3)).predict(x)
    b = MLPEnsemble(steps=20).fit(x, y, np.random.default_rng(3)).predict(x)
    np.testing.assert_array_equal(a, b)
    unseen = np.eye(10, dtype=np.float32)
    spread = MLPEnsemble(steps=20).fit(x, y, np.random.default_rng(3)).predict(unseen).std(0)
    assert spread.max() > 0


@pytest.mark.parametrize("kernel", ["rbf", "tanimoto"])
def test_gaussian_process_interpolates(kernel: str) -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((40, 12)) < 0.5).astype(np.float64)
    y = x[:, :3].sum(1) * 2.0 + 10.0
    gp = GaussianProcess(kernel).fit(x, y)  # type: ignore[arg-type]
    mean, std = gp.predict(x)
    assert np.abs(mean - y).max() < 0.5
    assert (std >= 0).all()


def test_acquisition_functions() -> None:
    mean = np.array([0.0, 1.0, 0.5])
    std = np.array([0.1, 0.1, 2.0])
    rng = np.random.default_rng(0)
    assert int(np.argmax(acquire("ucb", rng, mean=mean, std=std, beta=0.0))) == 1
    assert int(np.argmax(acquire("ucb", rng, mean=mean, std=std, beta=3.0))) == 2
    assert int(np.argmax(acquire("ei", rng, mean=mean, std=std, best=1.0))) == 2
    members = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    ts = acquire("ts", rng, mean=mean, std=std, members=members)
    assert any((ts == row).all() for row in members)
    assert acquire("its", rng, mean=mean, std=std).shape == (3,)


@pytest.mark.parametrize("candidates", ["auto", "mutation"])
def test_bananas_beats_random_on_a_toy_problem(candidates: str) -> None:
    budget, seeds = 30, range(3)
    params = {"n_initial": 8, "steps": 60, "candidates": candidates, "pool_size": 100}
    bananas = [best_of(BANANAS(**params), BIG, budget, s) for s in seeds]
    random = [best_of(RandomSearch(), BIG, budget, s) for s in seeds]
    assert np.mean(bananas) > np.mean(random)
    assert max(bananas) == 1.0  # the unique optimum of 4096 architectures, in 30 trials


def test_never_asks_twice_with_pending_asks() -> None:
    space = ToySpace(n_decisions=3, n_options=3)
    strategy = BANANAS(n_initial=3, steps=10)
    strategy.setup(space, OBJECTIVES, 0)
    run = run_async(strategy, space, 27, n_pending=4)
    assert len(set(run.archs)) == len(run.archs) == 27
    assert strategy.ask(27) is None


def test_proxy_scores_are_counted_and_capped() -> None:
    strategy = BANANAS(
        n_initial=5, steps=20, proxy=PROXY, max_proxy_scores=60, n_proxy_warmup=40,
        proxy_per_ask=8,
    )
    assert strategy.get_params()["proxy"] == PROXY
    strategy.setup(BIG, OBJECTIVES, 0)
    run = run_async(strategy, BIG, 20, n_pending=1)
    assert strategy.n_proxy_scores == 60  # 40 for the warm-up, then 8 per ask until spent
    # The initial design is the proxy's top 5 of its 40 warm-up draws.
    scores = strategy._budget.scores
    warm = sorted(list(scores.items())[:40], key=lambda kv: -kv[1])[:5]
    assert run.archs[:5] == [a for a, _ in warm]
    assert len(set(run.archs)) == 20


def test_proxy_guidance_helps_on_a_toy_problem() -> None:
    plain = [best_of(BANANAS(n_initial=5, steps=40), BIG, 12, s) for s in range(3)]
    guided = [
        best_of(BANANAS(n_initial=5, steps=40, proxy=PROXY, max_proxy_scores=300), BIG, 12, s)
        for s in range(3)
    ]
    assert np.mean(guided) > np.mean(plain)


def test_zero_proxy_budget_means_no_proxy() -> None:
    strategy = BANANAS(n_initial=3, steps=10, proxy=PROXY, max_proxy_scores=0)
    strategy.setup(BIG, OBJECTIVES, 0)
    run_async(strategy, BIG, 8)
    assert strategy.n_proxy_scores == 0


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(ConfigError, match="proxy"):
        BANANAS(proxy={"metric": "naswot"})
    with pytest.raises(ConfigError, match="acquisition"):
        STRATEGIES.create("bananas", {"acquisition": "pi"})
    with pytest.raises(ConfigError, match="ensemble"):
        STRATEGIES.create("bananas", {"ensemble": 0})
    strategy = BANANAS(proxy={"name": "no_such_proxy"})
    strategy.setup(BIG, OBJECTIVES, 0)
    with pytest.raises(ConfigError, match="no_such_proxy"):
        strategy.ask(0)


def test_pickle_drops_caches_and_continues() -> None:
    strategy = BANANAS(n_initial=3, steps=10)
    strategy.setup(BIG, OBJECTIVES, 0)
    run_async(strategy, BIG, 6)
    clone = pickle.loads(pickle.dumps(strategy))
    assert clone._all is None and clone._codes == {}
    assert clone.ask(6) == strategy.ask(6)


def test_finds_toy_optimum_quickly() -> None:
    space = ToySpace()
    found = []
    for seed in range(3):
        strategy = BANANAS(n_initial=5, steps=60)
        strategy.setup(space, OBJECTIVES, seed)
        run = run_async(strategy, space, 40, n_pending=1)
        found.append(toy_optimum(space) in run.archs)
    assert all(found)
