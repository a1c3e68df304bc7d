"""`Strategy`: what to try next, through ask/tell. A strategy never runs anything.

**A strategy is a pure function of (seed, history).** Its random draws for trial ``n`` come from
``self.rng(n)``; its state changes only in ``ask`` and ``tell``. The study records, for every
trial, how many results had been told when it was asked, so a resume rebuilds the state exactly by
replaying the stored asks and tells in their original interleaving: no pickled state.

Call sequence, made by the study loop::

    strategy.setup(space, objectives, seed)
    cand = strategy.ask(0); cand = strategy.ask(1)   # as many as there are free workers
    strategy.tell(trial_0)                           # COMPLETE, FAILED, TIMEOUT, PRUNED alike
    cand = strategy.ask(2) ...

``ask`` returns ``None`` when the strategy has nothing more to propose (e.g. a space exhausted).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from nasforge.config import Component
from nasforge.objective import Objective, score
from nasforge.registry import Registry
from nasforge.rng import trial_rng

if TYPE_CHECKING:
    from nasforge.errors import Problem
    from nasforge.evaluate.base import Evaluator
    from nasforge.space.base import SearchSpace
    from nasforge.trial import Candidate, Trial


class Strategy(Component, ABC):
    """Base class of black-box strategies. Subclasses implement ``_ask`` and ``_tell``."""

    space: SearchSpace
    objectives: Sequence[Objective]
    seed: int

    def setup(self, space: SearchSpace, objectives: Sequence[Objective], seed: int) -> None:
        """Bind the strategy to a space, objectives and seed, resetting all state."""
        self.space = space
        self.objectives = list(objectives)
        self.seed = int(seed)
        self._reset()

    def _reset(self) -> None:
        """Clear learnt state (called by ``setup``)."""

    def rng(self, number: int, stream: str = "strategy") -> np.random.Generator:
        """The random generator for trial ``number``'s draws."""
        return trial_rng(self.seed, number, f"{self.name}:{stream}")

    def score(self, trial: Trial) -> float:
        """Larger-is-better score of a finished trial (-inf if failed or infeasible: INFEASIBLE,
        or trained but breaking a constraint, see :attr:`Trial.violation`)."""
        if trial.result is None or not trial.result.ok or trial.violation is not None:
            return -np.inf
        return score(trial.result.metrics, self.objectives)

    def ask(self, number: int) -> Candidate | None:
        """Propose the candidate for trial ``number`` (``None`` when exhausted)."""
        return self._ask(number)

    def tell(self, trial: Trial) -> None:
        """Learn from a finished trial."""
        self._tell(trial)

    def preflight(self, space: SearchSpace, evaluator: Evaluator) -> list[Problem]:
        """Problems that make this strategy's options meaningless with ``space`` and
        ``evaluator``, found before the first trial (the study's pre-flight check calls it).

        An option that cannot apply is refused, not ignored: e.g. a path encoding on a space
        without paths, or a multi-fidelity schedule with an evaluator that has no fidelity. The
        default finds none. Each problem names the strategy's field (``strategy.<param>``).
        """
        return []

    def warm_start(self, trials: Sequence[Trial]) -> None:
        """Learn from finished trials of an earlier study (transfer); called after ``setup``.

        The trials may come from another task, so their metrics are a prior, not this study's
        results. The default ignores them.
        """

    @abstractmethod
    def _ask(self, number: int) -> Candidate | None: ...

    def _tell(self, trial: Trial) -> None:
        """Default: a strategy that learns nothing from results."""


STRATEGIES: Registry[Strategy] = Registry("strategy")
"""Registered strategies (``@STRATEGIES.register("random")``)."""
