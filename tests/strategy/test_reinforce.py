"""REINFORCE: the contract, learning towards rewarded choices, failures, variable depth, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.space import Choice, Conv, DeclaredSpace, Pool, Repeat
from nasforge.strategy._reinforce import REINFORCE, decision_table
from nasforge.strategy.base import STRATEGIES
from nasforge.testing.strategy_contract import (
    OBJECTIVES,
    StrategyContract,
    StrategyFactory,
    make_trial,
)
from nasforge.testing.toys import ToySpace
from nasforge.trial import Candidate, Result


class TestReinforceContract(StrategyContract):
    @pytest.fixture
    def strategy_factory(self) -> StrategyFactory:
        return lambda: REINFORCE()


def test_policy_moves_towards_rewarded_choice(stepper: Any) -> None:
    space = ToySpace()
    strategy = REINFORCE(lr=0.1)
    run = stepper(strategy, space, lambda a: 1.0 if a["d0"] == 2 else 0.2, seed=1)
    for _ in range(40):
        run.step()
    p = strategy.probabilities()["d0"]
    assert int(np.argmax(p)) == 2 and p[2] > 0.6
    # Decisions that do not matter stay close to uniform.
    assert strategy.probabilities()["d3"].max() < p[2]


def test_baseline_is_a_moving_average(stepper: Any, arch: Callable[..., Architecture]) -> None:
    strategy = REINFORCE(momentum=0.5)
    run = stepper(strategy, ToySpace(), {arch(0, 0, 0, 0): 0.4, arch(1, 1, 1, 1): 0.8})
    run.tell(Candidate(arch(0, 0, 0, 0)))
    assert strategy.baseline == pytest.approx(40.0)
    # The first reward has no advantage, so the policy is still uniform.
    assert np.allclose(strategy.probabilities()["d0"], 0.25)
    run.tell(Candidate(arch(1, 1, 1, 1)))
    assert strategy.baseline == pytest.approx(60.0)
    assert int(np.argmax(strategy.probabilities()["d0"])) == 1


def test_failures_get_the_lowest_reward(stepper: Any, arch: Callable[..., Architecture]) -> None:
    strategy = REINFORCE()
    run = stepper(strategy, ToySpace(), {arch(0, 0, 0, 0): 0.5, arch(2, 2, 2, 2): 0.9})
    run.tell(Candidate(arch(3, 3, 3, 3)), Result.failed("boom"))
    assert strategy.baseline is None  # nothing to compare with yet: skipped
    run.tell(Candidate(arch(2, 2, 2, 2)))
    run.tell(Candidate(arch(0, 0, 0, 0)))
    run.tell(Candidate(arch(3, 3, 3, 3)), Result.failed("boom again"))
    p = strategy.probabilities()["d0"]
    assert p[3] < p[2]
    assert p[3] < 0.25  # pushed down from uniform


def test_asks_are_unique_until_exhausted(stepper: Any) -> None:
    space = ToySpace(n_decisions=2, n_options=3)
    run = stepper(REINFORCE(lr=1.0), space, lambda a: 1.0 if a["d0"] == 0 else 0.0)
    asked = [run.step() for _ in range(10)]
    assert asked[-1] is None
    assert sorted(map(str, asked[:-1])) == sorted(map(str, space.enumerate()))


def test_variable_depth_space_samples_active_decisions_only() -> None:
    space = DeclaredSpace(layers=[
        Conv(width=Choice([16, 32]), kernel=[3, 5]),
        Repeat([Conv(width=32, skip=[True, False])], depth=Choice([1, 2])),
        Pool(kind="avg"),
    ])
    strategy = REINFORCE(lr=0.5)
    strategy.setup(space, OBJECTIVES, seed=0)
    assert [d.name for d in decision_table(space)] == space.decisions
    seen = []
    for number in range(space.size):
        candidate = strategy.ask(number)
        assert candidate is not None
        space.validate(candidate.arch)
        seen.append(candidate.arch)
        deep = candidate.arch["repeat1.depth"] == 2
        strategy.tell(make_trial(number, candidate, Result(metrics={"val_accuracy": 90.0 if deep
                                                                          else 10.0})))
    assert len(set(seen)) == space.size
    assert strategy.ask(space.size) is None
    # The depth decision learnt that 2 is rewarded; the inactive skip at position 1 of depth-1
    # archs was never updated by them.
    assert strategy.probabilities()["repeat1.depth"][1] > 0.5


def test_fixed_decision_space_without_structure_reads_options() -> None:
    table = decision_table(ToySpace(n_decisions=2, n_options=3))
    assert [(d.name, d.options) for d in table] == [("d0", (0, 1, 2)), ("d1", (0, 1, 2))]


def test_space_with_varying_decisions_is_a_config_error() -> None:
    class Ragged(ToySpace):
        def neighbours(self, arch: Architecture) -> list[Architecture]:
            return [*super().neighbours(arch), Architecture({"other": 1})]

    with pytest.raises(ConfigError, match="different decisions"):
        REINFORCE().setup(Ragged(), OBJECTIVES, seed=0)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"lr": 0}, "lr"), ({"momentum": 1.0}, "momentum"), ({"entropy": -1}, "entropy"),
     ({"learning_rate": 0.1}, "learning_rate")],
)
def test_bad_parameters(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        STRATEGIES.create("reinforce", params)


def test_entropy_bonus_keeps_the_policy_wider(stepper: Any) -> None:
    def score(a: Architecture) -> float:
        return 1.0 if a["d0"] == 1 else 0.0

    peaked = {}
    for entropy in (0.0, 5.0):
        strategy = REINFORCE(lr=0.2, entropy=entropy)
        run = stepper(strategy, ToySpace(), score, seed=3)
        for _ in range(30):
            run.step()
        peaked[entropy] = strategy.probabilities()["d0"].max()
    assert peaked[5.0] < peaked[0.0]
