"""OptunaStrategy: the contract (random and TPE), reproducibility, replay, mapping, errors."""

from __future__ import annotations

import pickle
import sys
from typing import Any

import pytest

pytest.importorskip("optuna")

import optuna

from nasforge.errors import ConfigError
from nasforge.objective import Objective
from nasforge.space import Choice, Conv, DeclaredSpace, Pool, Repeat
from nasforge.strategy._optuna import OptunaStrategy
from nasforge.strategy.base import STRATEGIES
from nasforge.testing.strategy_contract import (
    OBJECTIVES,
    AsyncDriver,
    StrategyContract,
    StrategyFactory,
    make_trial,
    replay,
    run_async,
)
from nasforge.testing.toys import ToySpace, toy_optimum, toy_result
from nasforge.trial import Result

FAST_TPE = {"n_startup_trials": 5}


class TestOptunaRandomContract(StrategyContract):
    @pytest.fixture
    def strategy_factory(self) -> StrategyFactory:
        return lambda: OptunaStrategy(sampler="random")

    @pytest.fixture
    def beats_random(self) -> bool:
        return False  # Optuna's RandomSampler is random search

    @pytest.fixture
    def constraint_aware(self) -> bool:
        return False  # Optuna proposes; the study only filters


class TestOptunaTPEContract(StrategyContract):
    @pytest.fixture
    def strategy_factory(self) -> StrategyFactory:
        return lambda: OptunaStrategy(sampler="tpe", sampler_params=FAST_TPE)

    @pytest.fixture
    def constraint_aware(self) -> bool:
        return False  # Optuna proposes; the study only filters


def _setup(strategy: OptunaStrategy, seed: int = 0, space: Any = None) -> OptunaStrategy:
    strategy.setup(space or ToySpace(), OBJECTIVES, seed)
    return strategy


@pytest.mark.parametrize("sampler", ["tpe", "random", "nsga2", "qmc"])
def test_reproducible_and_replay_equivalent(sampler: str) -> None:
    space = ToySpace()
    params = FAST_TPE if sampler == "tpe" else {}

    def make() -> OptunaStrategy:
        return _setup(OptunaStrategy(sampler=sampler, sampler_params=params), seed=5)  # type: ignore[arg-type]

    first = run_async(make(), space, 20)
    assert run_async(make(), space, 20).archs == first.archs
    original = AsyncDriver(make(), space)
    stored = original.advance(14)
    resumed_strategy = make()
    replay(resumed_strategy, stored)
    resumed = original.fork(resumed_strategy)
    assert resumed.advance(20).archs == original.advance(20).archs


def test_tpe_learns() -> None:
    """TPE after its random start finds the toy optimum far sooner than exhaustive search."""
    space = ToySpace()
    run = run_async(_setup(OptunaStrategy(sampler="tpe", sampler_params=FAST_TPE)), space, 60)
    assert toy_optimum(space) in run.archs


def test_tells_values_and_failures_to_optuna() -> None:
    strategy = _setup(OptunaStrategy(sampler="random"))
    first, second = strategy.ask(0), strategy.ask(1)
    assert first is not None and second is not None
    strategy.tell(make_trial(0, first, toy_result(first.arch)))
    strategy.tell(make_trial(1, second, Result.failed("boom")))
    trials = strategy.study.trials
    assert trials[0].state == optuna.trial.TrialState.COMPLETE
    assert trials[0].value == pytest.approx(toy_result(first.arch).metrics["val_accuracy"])
    assert trials[1].state == optuna.trial.TrialState.FAIL
    assert {k: trials[0].params[k] for k in first.arch} == first.arch.to_dict()


def test_multi_objective_directions_for_nsga2() -> None:
    objectives = [Objective(metric="val_accuracy"), Objective(metric="params", direction="min")]
    strategy = OptunaStrategy(sampler="nsga2")
    strategy.setup(ToySpace(), objectives, seed=0)
    assert strategy.study.directions == [
        optuna.study.StudyDirection.MAXIMIZE,
        optuna.study.StudyDirection.MINIMIZE,
    ]
    candidate = strategy.ask(0)
    assert candidate is not None
    strategy.tell(make_trial(0, candidate, Result(metrics={"val_accuracy": 50, "params": 10})))
    assert strategy.study.trials[0].values == [50.0, 10.0]


def test_infeasible_results_are_failures() -> None:
    objectives = [Objective(metric="val_accuracy", limit=90.0)]
    strategy = OptunaStrategy(sampler="random")
    strategy.setup(ToySpace(), objectives, seed=0)
    candidate = strategy.ask(0)
    assert candidate is not None
    strategy.tell(make_trial(0, candidate, Result(metrics={"val_accuracy": 50.0})))
    assert strategy.study.trials[0].state == optuna.trial.TrialState.FAIL


def test_variable_depth_space() -> None:
    space = DeclaredSpace(layers=[
        Conv(width=Choice([16, 32]), kernel=[3, 5]),
        Repeat([Conv(width=32, skip=[True, False])], depth=Choice([1, 2])),
        Pool(kind="avg"),
    ])
    strategy = _setup(OptunaStrategy(sampler="random"), space=space)
    archs = []
    for number in range(int(space.size)):
        candidate = strategy.ask(number)
        assert candidate is not None
        space.validate(candidate.arch)
        archs.append(candidate.arch)
        strategy.tell(make_trial(number, candidate, Result(metrics={"val_accuracy": 1.0})))
    assert len(set(archs)) == space.size
    assert strategy.ask(int(space.size)) is None


def test_leaves_optuna_logging_as_it_was() -> None:
    before = optuna.logging.get_verbosity()
    strategy = _setup(OptunaStrategy(sampler="random"))
    candidate = strategy.ask(0)
    assert candidate is not None
    strategy.tell(make_trial(0, candidate, toy_result(candidate.arch)))
    assert optuna.logging.get_verbosity() == before


def test_pickles_with_its_optuna_study() -> None:
    space = ToySpace()
    driver = AsyncDriver(_setup(OptunaStrategy(sampler="tpe", sampler_params=FAST_TPE)), space)
    driver.advance(10)
    clone = driver.fork(pickle.loads(pickle.dumps(driver.strategy)))
    assert clone.advance(16).archs == driver.advance(16).archs


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"sampler": "bayes"}, "sampler"),
        ({"sampler_params": {"seed": 1}}, "seed is derived from the study's seed"),
        ({"sampler_params": {"n_startup_trial": 3}}, "did you mean 'n_startup_trials'"),
        ({"sampler": "nsga2", "sampler_params": {"population_size": 1}}, "NSGAIISampler rejected"),
    ],
)
def test_bad_parameters(params: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        STRATEGIES.create("optuna", params)


def test_missing_optuna_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match="pip install optuna"):
        OptunaStrategy()


def test_missing_sampler_dependency_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "cmaes" else real(name, *a)
    )
    with pytest.raises(ConfigError, match="pip install cmaes"):
        OptunaStrategy(sampler="cmaes")


@pytest.mark.slow
def test_gp_sampler_smoke() -> None:
    space = ToySpace()
    params = {"n_startup_trials": 4}
    first = run_async(_setup(OptunaStrategy(sampler="gp", sampler_params=params)), space, 8)
    second = run_async(_setup(OptunaStrategy(sampler="gp", sampler_params=params)), space, 8)
    assert first.archs == second.archs and len(set(first.archs)) == 8
