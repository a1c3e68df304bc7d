"""Drawing architectures that have not been asked yet, shared by the black-box strategies.

Order matters for determinism: a ``set`` of architectures is used for membership only, never
iterated, because ``hash(str)`` is salted per process and set order would differ after a resume.

Asked architectures are remembered by their canonical form (:meth:`SearchSpace.canonical`): an
architecture isomorphic to one already asked (e.g. an NB201 cell computing the same function)
counts as asked, so a strategy's budget is spent on distinct networks.

With a ``feasible`` predicate (:meth:`Strategy.asked_archs`, the study's check of constraints
known before training), unasked draws that break a constraint are rejected too; when a bounded
number of draws finds no feasible one, the last unasked infeasible draw is returned, which the
study stores INFEASIBLE. Without one, the draws are exactly those of plain deduplication.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from nasforge.architecture import Architecture
from nasforge.errors import InvalidArchitectureError
from nasforge.space.base import SearchSpace

if TYPE_CHECKING:
    from nasforge.trial import Trial

logger = logging.getLogger(__name__)

MAX_TRIES = 100
"""Random draws tried before falling back to enumeration (or accepting a repeat)."""
ENUMERATE_LIMIT = 100_000
"""Finite spaces up to this size are enumerated when random draws keep hitting asked ones."""


class AskedArchs:
    """The architectures a strategy has asked, by canonical form, with unasked draws.

    ``arch in asked`` is true when an architecture isomorphic to ``arch`` was asked;
    ``len(asked)`` counts the distinct networks asked.

    Args:
        space: the search space the strategy is bound to.
        feasible: whether an architecture meets the constraints known before training
            (``None``: every one does).
    """

    def __init__(
        self, space: SearchSpace, feasible: Callable[[Architecture], bool] | None = None
    ) -> None:
        self.space = space
        self.feasible = feasible
        self._infeasible_draw: Architecture | None = None
        self._seen: set[Architecture] = set()
        self._all: list[Architecture] | None = None
        self._all_canonical: list[Architecture] = []

    def key(self, arch: Architecture) -> Architecture:
        """The form an architecture is remembered by: its canonical form in the space."""
        return self.space.canonical(arch)

    def add(self, arch: Architecture) -> None:
        self._seen.add(self.key(arch))

    def __contains__(self, arch: object) -> bool:
        if not isinstance(arch, Architecture):
            return False
        try:
            return self.key(arch) in self._seen
        except InvalidArchitectureError:  # not in the space (e.g. it breaks a rule): never asked
            return False

    def __len__(self) -> int:
        return len(self._seen)

    def _enumerable(self) -> bool:
        size = self.space.size
        return math.isfinite(size) and size <= ENUMERATE_LIMIT

    def _remaining(self) -> list[Architecture] | None:
        """Unasked architectures in the space's enumeration order, ``None`` if not enumerable."""
        if self._all is None:
            try:
                self._all = list(self.space.enumerate())
            except NotImplementedError:
                return None
            self._all_canonical = [self.key(a) for a in self._all]
        return [a for a, c in zip(self._all, self._all_canonical, strict=True)
                if c not in self._seen]

    def propose(
        self,
        rng: np.random.Generator,
        propose: Callable[[np.random.Generator], Architecture],
        max_tries: int = MAX_TRIES,
    ) -> Architecture | None:
        """The first unasked architecture of the space among up to ``max_tries`` calls of
        ``propose`` (draws that break a rule of the space, or a constraint when there is a
        ``feasible`` predicate, are skipped too)."""
        for _ in range(max_tries):
            arch = propose(rng)
            if arch not in self and self.space.contains(arch):
                if self.feasible is None or self.feasible(arch):
                    return arch
                self._infeasible_draw = arch
        return None

    def _pick_remaining(
        self, rng: np.random.Generator, remaining: list[Architecture], max_tries: int
    ) -> Architecture:
        """A uniformly drawn member of ``remaining`` (non-empty); with a ``feasible`` predicate,
        the first feasible one in a random order among ``max_tries`` checked, else the first."""
        if self.feasible is None:
            return remaining[int(rng.integers(len(remaining)))]
        order = rng.permutation(len(remaining))
        for i in order[: max(max_tries, 1)].tolist():
            if self.feasible(remaining[i]):
                return remaining[i]
        return remaining[int(order[0])]

    def sample(self, rng: np.random.Generator, max_tries: int = MAX_TRIES) -> Architecture | None:
        """A uniformly drawn unasked architecture, ``None`` when a finite space is exhausted.

        Retries ``space.sample`` up to ``max_tries`` times. If all hit asked (or infeasible)
        architectures and the space is finite and small, picks uniformly among the unasked ones
        instead (with a ``feasible`` predicate: the first feasible of up to :data:`MAX_TRIES`
        of them in a random order, else the first). An infeasible unasked draw is returned when
        nothing feasible was found. For a space too
        big to enumerate, returns a repeated draw with a warning, since exhaustion is then
        practically impossible.
        """
        enumerable = self._enumerable()
        # Once half a small space is asked most draws repeat: go straight to the unasked list.
        if enumerable and 2 * len(self._seen) >= self.space.size:
            max_tries = 0
        self._infeasible_draw = None
        arch = self.propose(rng, self.space.sample, max_tries)
        if arch is not None:
            return arch
        remaining = self._remaining() if enumerable else None
        if remaining is not None:
            return self._pick_remaining(rng, remaining, MAX_TRIES) if remaining else None
        if self._infeasible_draw is not None:
            return self._infeasible_draw  # unasked, but nothing feasible was drawn
        arch = self.space.sample(rng)
        logger.warning(
            "no unasked architecture in %d draws from %s; repeating %s. "
            "Silence this by using a larger space or a smaller budget.",
            max_tries,
            type(self.space).__name__,
            arch,
        )
        return arch


def prior_archs(
    space: SearchSpace, trials: Sequence[Trial], score: Callable[[Trial], float] | None = None
) -> list[Architecture]:
    """Distinct architectures of the successful ``trials`` that belong to ``space``.

    Used by ``warm_start``: an earlier study may have searched a different space. With ``score``
    the best come first (ties: lower trial number); otherwise the given order is kept.
    """
    ok = [t for t in trials if t.result is not None and t.result.ok]
    if score is not None:
        ok.sort(key=lambda t: (-score(t), t.number))
    seen: set[Architecture] = set()
    archs: list[Architecture] = []
    for trial in ok:
        if trial.arch not in seen and space.contains(trial.arch):
            seen.add(trial.arch)
            archs.append(trial.arch)
    return archs
