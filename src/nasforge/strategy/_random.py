"""Random search: uniform samples from the space, never the same architecture twice.

Random search is the baseline every NAS method must beat, and a strong one (Li & Talwalkar 2019,
"Random Search and Reproducibility for Neural Architecture Search",
https://arxiv.org/abs/1902.07638). Each ask draws uniformly among the architectures not asked yet.

Deviation: the paper samples with replacement; we reject repeats (bounded retries, then an
enumeration of the rest when the space is finite and small), so a finite space is covered exactly
once and ``ask`` then returns ``None``.
"""

from __future__ import annotations

from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate


@STRATEGIES.register("random")
class RandomSearch(Strategy):
    """Uniform random search without repeats.

    Args:
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default; rejection sampling); ``False`` leaves them to the
            study's filter.

    Example:
        >>> from nasforge.objective import Objective
        >>> from nasforge.testing.toys import ToySpace
        >>> strategy = RandomSearch()
        >>> strategy.setup(ToySpace(n_decisions=1, n_options=2), [Objective(metric="x")], seed=0)
        >>> sorted(strategy.ask(n).arch["d0"] for n in range(2)), strategy.ask(2)
        ([0, 1], None)
    """

    def __init__(self, *, constraint_aware: bool = True) -> None:
        self.constraint_aware = constraint_aware

    def _reset(self) -> None:
        self._asked = self.asked_archs()

    def _ask(self, number: int) -> Candidate | None:
        arch = self._asked.sample(self.rng(number))
        if arch is None:
            return None
        self._asked.add(arch)
        return Candidate(arch)
