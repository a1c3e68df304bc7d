"""Transfer warm start: strategies start from an earlier study's best trials, deterministically."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.strategy._hyperband import BOHB, Hyperband, SuccessiveHalving
from nasforge.strategy._optuna import OptunaStrategy
from nasforge.strategy._reinforce import REINFORCE
from nasforge.strategy.base import Strategy
from nasforge.testing.strategy_contract import (
    OBJECTIVES,
    AsyncDriver,
    make_trial,
    replay,
)
from nasforge.testing.toys import ToySpace, toy_result
from nasforge.trial import Candidate, Result, Trial

FACTORIES: dict[str, Callable[[], Strategy]] = {
    "reinforce": lambda: REINFORCE(),
    "successive_halving": lambda: SuccessiveHalving(rungs=[1, 3]),
    "hyperband": lambda: Hyperband(rungs=[1, 3]),
    "bohb": lambda: BOHB(rungs=[1, 3]),
    "optuna": lambda: OptunaStrategy(sampler="tpe", sampler_params={"n_startup_trials": 5}),
}


def _arch(*values: int) -> Architecture:
    return Architecture({f"d{i}": v for i, v in enumerate(values)})


def prior_trials() -> list[Trial]:
    """An earlier study's trials, best first as the study hands them over, plus noise."""
    good = [_arch(1, 2, 3, 0), _arch(1, 2, 3, 1), _arch(1, 2, 0, 0)]
    trials = [
        make_trial(n, Candidate(a), Result(metrics={"val_accuracy": 90.0 - n}))
        for n, a in enumerate(good)
    ]
    trials.append(make_trial(3, Candidate(_arch(0, 0, 0, 0)), Result.failed("boom")))
    trials.append(make_trial(4, Candidate(_arch(9, 9, 9, 9)), Result(metrics={"val_accuracy": 99})))
    return trials


def _started(name: str, seed: int = 0) -> Strategy:
    strategy = FACTORIES[name]()
    strategy.setup(ToySpace(), OBJECTIVES, seed)
    strategy.warm_start(prior_trials())
    return strategy


@pytest.mark.parametrize("name", ["successive_halving", "hyperband", "bohb", "optuna"])
def test_prior_best_architectures_are_asked_first(name: str) -> None:
    strategy = _started(name)
    first = [strategy.ask(n) for n in range(3)]
    assert [c.arch for c in first if c is not None] == [
        _arch(1, 2, 3, 0), _arch(1, 2, 3, 1), _arch(1, 2, 0, 0)
    ]
    later = [strategy.ask(n) for n in range(3, 40)]
    # Failed prior trials and architectures outside this space are not asked because of the prior.
    assert _arch(9, 9, 9, 9) not in {c.arch for c in later if c is not None}


def test_multi_fidelity_prior_architectures_start_at_the_lowest_rung() -> None:
    strategy = _started("successive_halving")
    assert [strategy.ask(n).fidelity for n in range(3)] == [1, 1, 1]  # type: ignore[union-attr]


def test_reinforce_policy_starts_towards_prior_choices() -> None:
    strategy = _started("reinforce")
    p = strategy.probabilities()  # type: ignore[attr-defined]
    assert int(np.argmax(p["d0"])) == 1 and int(np.argmax(p["d1"])) == 2
    assert p["d0"][1] == pytest.approx(4 / 7)  # log(1 + 3) against log(1 + 0) x 3
    # The failed (0, 0, 0, 0) and the foreign (9, 9, 9, 9) trials did not count.
    assert p["d3"][0] == pytest.approx(3 / 7)  # counts 2, 1, 0, 0 -> weights 3, 2, 1, 1
    samples = [strategy.ask(n) for n in range(20)]
    assert sum(c.arch["d0"] == 1 for c in samples if c is not None) > 5


@pytest.mark.parametrize("name", list(FACTORIES))
def test_warm_started_runs_are_deterministic_and_replayable(name: str) -> None:
    space = ToySpace()
    original = AsyncDriver(_started(name, seed=4), space,
                           outcome=lambda a: toy_result(a, space))
    stored = original.advance(12)
    assert AsyncDriver(_started(name, seed=4), space).advance(12).archs == stored.archs
    resumed_strategy = _started(name, seed=4)  # a resume: setup, warm start, then replay
    replay(resumed_strategy, stored)
    resumed = original.fork(resumed_strategy)
    assert resumed.advance(20).archs == original.advance(20).archs


@pytest.mark.parametrize("name", list(FACTORIES))
def test_empty_warm_start_changes_nothing(name: str) -> None:
    space = ToySpace()
    cold = FACTORIES[name]()
    cold.setup(space, OBJECTIVES, 1)
    warm = FACTORIES[name]()
    warm.setup(space, OBJECTIVES, 1)
    warm.warm_start([])
    assert [cold.ask(n) for n in range(8)] == [warm.ask(n) for n in range(8)]
