"""Regularized (aging) evolution.

Real, Aggarwal, Huang & Le 2019, "Regularized Evolution for Image Classifier Architecture Search",
AAAI, https://arxiv.org/abs/1802.01548. A population of the ``population`` most recent results is
kept. Until it is full, architectures are drawn at random. Then each new architecture is a mutation
of a tournament winner: ``sample`` members are drawn uniformly from the population and the best
one is mutated. Each result joins the population and the *oldest* member leaves, whatever its
score ("aging"), which regularises towards architectures that stay good when re-discovered.

Deviations from the paper:

- Asynchronous and steady-state: age is the order results are *told* (completion order), and an
  ask made while fewer than ``population`` results have been told is still a random draw.
- Tournament members are drawn without replacement (hence ``sample <= population``); ties go to
  the member drawn first.
- Failed, timed-out and pruned trials join the population with score ``-inf``, so they age out
  like any other member but never win a tournament against a real result.
- ``warm_start`` (transfer from an earlier study): its best architectures are asked first, in
  place of the initial random draws.
- Architectures already asked are avoided: up to 100 mutations are tried, then the parent's
  unasked neighbours, then a random unasked architecture; ``ask`` returns ``None`` only when a
  finite space is exhausted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from nasforge.errors import ConfigError, Problem
from nasforge.strategy._dedup import prior_archs
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate

if TYPE_CHECKING:
    import numpy as np

    from nasforge.architecture import Architecture
    from nasforge.trial import Trial


@STRATEGIES.register("regularized_evolution")
class RegularizedEvolution(Strategy):
    """Aging evolution with tournament selection.

    Args:
        population: number of most recent results kept; also the number of initial random draws.
        sample: tournament size, at most ``population``.
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    def __init__(
        self,
        *,
        population: Annotated[int, Field(ge=2)] = 20,
        sample: Annotated[int, Field(ge=1)] = 5,
        constraint_aware: bool = True,
    ) -> None:
        if sample > population:
            raise ConfigError(
                [
                    Problem(
                        "RegularizedEvolution.sample",
                        f"must be <= population ({population}); got {sample}",
                        f"use sample <= {population} or raise population to >= {sample}",
                    )
                ]
            )
        self.population = population
        self.sample = sample
        self.constraint_aware = constraint_aware

    def _reset(self) -> None:
        self._asked = self.asked_archs()
        # (architecture, score), oldest first.
        self._members: deque[tuple[Architecture, float]] = deque()
        self._prior: list[Architecture] = []

    def warm_start(self, trials: Sequence[Trial]) -> None:
        """The best architectures of an earlier study replace the first random draws."""
        self._prior = prior_archs(self.space, trials, self.score)[: self.population]

    def _ask(self, number: int) -> Candidate | None:
        rng = self.rng(number)
        if len(self._members) < self.population:
            arch = next((a for a in self._prior if a not in self._asked), None)
            if arch is None:
                arch = self._asked.sample(rng)
        else:
            parent = self._select(rng)
            arch = self._asked.propose(rng, lambda r: self.space.mutate(parent, r))
            if arch is None:
                nearby = [a for a in self.feasible_neighbours(parent) if a not in self._asked]
                arch = nearby[int(rng.integers(len(nearby)))] if nearby else self._asked.sample(rng)
        if arch is None:
            return None
        self._asked.add(arch)
        return Candidate(arch)

    def _select(self, rng: np.random.Generator) -> Architecture:
        """The tournament winner among ``sample`` members drawn without replacement."""
        picks = rng.choice(len(self._members), size=self.sample, replace=False)
        best = max(picks.tolist(), key=lambda i: self._members[i][1])
        return self._members[best][0]

    def _tell(self, trial: Trial) -> None:
        self._members.append((trial.arch, self.score(trial)))
        while len(self._members) > self.population:
            self._members.popleft()

    @property
    def members(self) -> list[tuple[Architecture, float]]:
        """The current population as ``(architecture, score)`` pairs, oldest first."""
        return list(self._members)
