"""Drawing architectures that have not been asked yet, shared by the black-box strategies.

Order matters for determinism: a ``set`` of architectures is used for membership only, never
iterated, because ``hash(str)`` is salted per process and set order would differ after a resume.

Asked architectures are remembered by their canonical form (:meth:`SearchSpace.canonical`): an
architecture isomorphic to one already asked (e.g. an NB201 cell computing the same function)
counts as asked, so a strategy's budget is spent on distinct networks.
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
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
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
        ``propose`` (draws that break a rule of the space are skipped too)."""
        for _ in range(max_tries):
            arch = propose(rng)
            if arch not in self and self.space.contains(arch):
                return arch
        return None

    def sample(self, rng: np.random.Generator, max_tries: int = MAX_TRIES) -> Architecture | None:
        """A uniformly drawn unasked architecture, ``None`` when a finite space is exhausted.

        Retries ``space.sample`` up to ``max_tries`` times. If all hit asked architectures and the
        space is finite and small, picks uniformly among the unasked ones instead. For a space too
        big to enumerate, returns a repeated draw with a warning, since exhaustion is then
        practically impossible.
        """
        enumerable = self._enumerable()
        # Once half a small space is asked most draws repeat: go straight to the unasked list.
        if enumerable and 2 * len(self._seen) >= self.space.size:
            max_tries = 0
        arch = self.propose(rng, self.space.sample, max_tries)
        if arch is not None:
            return arch
        remaining = self._remaining() if enumerable else None
        if remaining is not None:
            return remaining[int(rng.integers(len(remaining)))] if remaining else None
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
