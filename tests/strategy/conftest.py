"""Fixtures for strategy tests: sequential ask/tell with scripted scores.

Helpers are handed out as fixtures (not imported) so this folder needs no ``__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from nasforge.architecture import Architecture
from nasforge.strategy.base import Strategy
from nasforge.testing.strategy_contract import OBJECTIVES, make_trial
from nasforge.testing.toys import ToySpace
from nasforge.trial import Candidate, Result

Scorer = Callable[[Architecture], float]


def _arch(*values: int) -> Architecture:
    """A ToySpace architecture from its decision values: ``arch(1, 2) == {d0: 1, d1: 2}``."""
    return Architecture({f"d{i}": v for i, v in enumerate(values)})


class Stepper:
    """Asks and tells one trial at a time (or in chosen batches) with scripted scores."""

    def __init__(
        self,
        strategy: Strategy,
        space: ToySpace,
        scores: Scorer | Mapping[Architecture, float],
        seed: int = 0,
    ) -> None:
        strategy.setup(space, OBJECTIVES, seed)
        self.strategy = strategy
        self.space = space
        self.scores = scores
        self.number = 0

    def result(self, a: Architecture) -> Result:
        value = self.scores(a) if callable(self.scores) else self.scores[a]
        return Result(metrics={"val_accuracy": 100.0 * value})

    def ask(self) -> Candidate | None:
        candidate = self.strategy.ask(self.number)
        if candidate is not None:
            self.number += 1
        return candidate

    def tell(self, candidate: Candidate, result: Result | None = None, number: int = 0) -> None:
        result = result if result is not None else self.result(candidate.arch)
        self.strategy.tell(make_trial(number, candidate, result))

    def start_at(self, a: Architecture) -> None:
        """Make ``a`` the first trial (asked and told), by warm-starting from a trial of it."""
        self.strategy.warm_start([make_trial(0, Candidate(a), self.result(a))])
        assert self.step() == a, f"{type(self.strategy).__name__} did not ask the warm start first"

    def step(self) -> Architecture | None:
        candidate = self.ask()
        if candidate is None:
            return None
        self.tell(candidate)
        return candidate.arch


@pytest.fixture
def arch() -> Callable[..., Architecture]:
    """``arch(1, 2)`` is the ToySpace architecture ``{d0: 1, d1: 2}``."""
    return _arch


@pytest.fixture
def stepper() -> type[Stepper]:
    """The :class:`Stepper` class: ``stepper(strategy, space, scores, seed=0)``."""
    return Stepper
