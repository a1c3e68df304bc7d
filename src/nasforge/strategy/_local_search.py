"""Local search over the space's neighbourhood, with random restarts.

White, Nolen & Savani 2021, "Exploring the Loss Landscape in Neural Architecture Search", UAI
(first titled "Local Search is State of the Art for NAS Benchmarks"), https://arxiv.org/abs/2005.02960.
Start from the best of a few random architectures; evaluate the current point's neighbours
(``space.neighbours``: every architecture one decision away) in random order and move to a better
one; at a local optimum (no neighbour better), restart from a random architecture. Simple as it
is, it matches or beats far more complex methods on NAS-Bench-101/201.

``mode="first"`` moves as soon as a told neighbour beats the current point (first improvement);
``mode="best"`` waits until the whole neighbourhood is told and moves to its best (best
improvement, the paper's Algorithm 1 and its ``query_full_nbhd`` option).

Deviations from the paper:

- The first start point is the best of ``n_initial`` random architectures (default 10, as in the
  ``num_init`` option of the authors' code), not a single one; restarts draw one.
- Asynchronous: with several asks pending, further asks propose other unasked neighbours of the
  current point. When none is left but some are still pending, asks draw random architectures,
  whose results are kept as candidates for the next (re)start. In ``first`` mode a neighbour that
  is told late and still beats the current point is moved to as well.
- Architectures are never asked twice: a neighbour evaluated before (e.g. the previous point)
  counts with its known score. Scores are kept by canonical form (``space.canonical``), so a
  neighbour isomorphic to an evaluated architecture is not asked and counts with that score.
  ``ask`` returns ``None`` only when a finite space is exhausted.
- Failed trials score ``-inf``: never moved to, and any real result beats a failed start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from nasforge.strategy._dedup import prior_archs
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.trial import Trial


@STRATEGIES.register("local_search")
class LocalSearch(Strategy):
    """Hill climbing over neighbourhoods with random restarts.

    Args:
        n_initial: random architectures evaluated before the first move; the best is the start.
        mode: ``first`` (move on the first improving neighbour) or ``best`` (move to the best
            neighbour once the whole neighbourhood is evaluated).
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    def __init__(
        self,
        *,
        n_initial: Annotated[int, Field(ge=1)] = 10,
        mode: Literal["first", "best"] = "first",
        constraint_aware: bool = True,
    ) -> None:
        self.n_initial = n_initial
        self.mode = mode
        self.constraint_aware = constraint_aware

    def _reset(self) -> None:
        self._asked = self.asked_archs()
        self._scores: dict[Architecture, float] = {}
        # Asked, not yet told: True for a neighbour proposal, False for a random draw.
        self._pending: dict[Architecture, bool] = {}
        # Told random draws not yet used as a start point, in tell order.
        self._pool: list[tuple[Architecture, float]] = []
        self._needed = self.n_initial
        self._current: Architecture | None = None
        self._neighbourhood: list[Architecture] = []
        self._n_restarts = 0
        self._prior: list[Architecture] = []

    def warm_start(self, trials: Sequence[Trial]) -> None:
        """The best architectures of an earlier study are the first start-point candidates."""
        self._prior = prior_archs(self.space, trials, self.score)[: self.n_initial]

    @property
    def current(self) -> Architecture | None:
        """The point whose neighbourhood is being searched (``None`` while (re)starting)."""
        return self._current

    @property
    def n_restarts(self) -> int:
        """How many times a local optimum caused a restart."""
        return self._n_restarts

    def _ask(self, number: int) -> Candidate | None:
        rng = self.rng(number)
        arch: Architecture | None = None
        is_neighbour = False
        if self._current is not None:
            # Uniform among the unasked neighbours: the same as walking a random permutation.
            unasked = [a for a in self._neighbourhood if a not in self._asked]
            if unasked:
                arch, is_neighbour = unasked[int(rng.integers(len(unasked)))], True
        if arch is None:
            arch = next((a for a in self._prior if a not in self._asked), None)
        if arch is None:
            arch = self._asked.sample(rng)
        if arch is None:
            return None
        self._asked.add(arch)
        self._pending[arch] = is_neighbour
        return Candidate(arch)

    def _known(self, arch: Architecture) -> bool:
        return self._asked.key(arch) in self._scores

    def _score_of(self, arch: Architecture) -> float:
        return self._scores[self._asked.key(arch)]

    def _tell(self, trial: Trial) -> None:
        arch, value = trial.arch, self.score(trial)
        self._scores[self._asked.key(arch)] = value
        # An architecture asked twice (a repeated draw in a space too big to enumerate, see
        # AskedArchs.sample) is pending once: its second result counts as a random draw.
        is_neighbour = self._pending.pop(arch, False)
        if not is_neighbour:
            self._pool.append((arch, value))
        elif (
            self._current is not None
            and self.mode == "first"
            and value > self._score_of(self._current)
        ):
            self._move(arch)
        self._advance()

    def _current_score(self) -> float:
        assert self._current is not None
        return self._score_of(self._current)

    def _move(self, arch: Architecture) -> None:
        self._current = arch
        # Neighbours that break a constraint known before training are never asked.
        self._neighbourhood = self.feasible_neighbours(arch)

    def _advance(self) -> None:
        """Start, move or restart as far as the told results allow."""
        while True:
            if self._current is None:
                if len(self._pool) < self._needed:
                    return
                best = max(range(len(self._pool)), key=lambda i: self._pool[i][1])
                self._move(self._pool[best][0])
                self._pool.clear()
                self._needed = 1
                continue
            known = [a for a in self._neighbourhood if self._known(a)]
            best_known = max(known, key=self._score_of, default=None)
            improves = best_known is not None and self._score_of(best_known) > self._current_score()
            if self.mode == "first" and improves:
                # A neighbour evaluated earlier (e.g. from another point) already beats us.
                assert best_known is not None
                self._move(best_known)
                continue
            if len(known) < len(self._neighbourhood):
                return  # neighbours still to ask or pending
            if improves:
                assert best_known is not None
                self._move(best_known)
                continue
            # Local optimum: the whole neighbourhood is told and none is better.
            self._current = None
            self._neighbourhood = []
            self._n_restarts += 1
