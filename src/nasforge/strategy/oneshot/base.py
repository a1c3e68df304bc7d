"""`OneShotStrategy`: a strategy that trains a supernet once, then proposes what it found.

A one-shot strategy is a :class:`~nasforge.strategy.Strategy` in two phases:

1. **The search** (:meth:`OneShotStrategy.search`): one evaluation that trains the supernet (and
   the architecture parameters or controller) and derives architectures. The study runs it on
   its executor as a trial of its own, of source ``oneshot``, before anything is asked
   (:mod:`nasforge.run.oneshot`): its candidate is :meth:`search_candidate` (the architecture
   the search starts from, a uniform draw, at ``fidelity = epochs``); its result holds the
   search metrics (:data:`SEARCH_METRICS`), its cost in CPU seconds and, in
   ``info["derived"]``, the derived architectures, best first. It is not one of the search's
   trials (it never ranks, and does not count against the trial budget), and the study hands it
   to the strategy with :meth:`use_search`.
2. **The proposals**: ``ask`` then proposes the ``top`` derived architectures as ordinary
   trials, scored by the study's evaluator (e.g. ``train``), so ``best()``, ``show``, reports
   and export work unchanged; then it returns ``None`` and the study ends. After a failed search
   (divergence, a timeout) it proposes nothing, and :attr:`failure` says why.

The strategy stays a pure function of (seed, history): the derived architectures are read from
the stored search trial, so a resume proposes them again without searching. The search itself
checkpoints every epoch under the trial's workdir, so a killed search resumes from its last
epoch when the study re-runs the RUNNING search trial.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from nasforge.architecture import Architecture
from nasforge.errors import Problem
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate, TrialState

if TYPE_CHECKING:
    from nasforge.evaluate.base import EvalContext, Evaluator
    from nasforge.space.base import SearchSpace
    from nasforge.strategy.oneshot._engine import SearchRun
    from nasforge.trial import Result, Trial

DERIVED = "derived"
"""``Result.info`` key of the search trial: the derived architectures (canonical strings), best
first."""

SEARCH_METRICS: tuple[str, ...] = (
    "search_epochs", "search_cpu_s", "supernet_val_accuracy", "collapsed",
    "parameter_free_share",
)
"""What a search trial reports: epochs trained, CPU seconds (process time, over every attempt),
the top architecture's validation accuracy with inherited weights (%, BatchNorm re-calibrated),
whether it collapsed (1/0, :func:`~nasforge.strategy.oneshot.collapsed`) and its share of
parameter-free operations."""


class OneShotStrategy(Strategy):
    """Base class of the one-shot strategies (see the module docstring for the two phases).

    Subclasses store their settings (``epochs`` and ``top`` at least) and implement
    :meth:`_search`, which runs in a worker with the supernet and data of
    :class:`~nasforge.strategy.oneshot._engine.SearchRun`.
    """

    paper: ClassVar[str] = ""
    epochs: int
    top: int

    def _reset(self) -> None:
        self._derived: list[Architecture] | None = None
        self._n_asked = 0
        self.failure: str | None = None

    # -- the two phases -----------------------------------------------------------------------
    def search_candidate(self) -> Candidate:
        """The search trial's candidate: a uniform draw (where the search starts from) at
        ``fidelity = epochs``, so it is never mistaken for a proposal (``fidelity=None``)."""
        return Candidate(self.space.sample(self.rng(0, "oneshot")), fidelity=self.epochs)

    @property
    def has_searched(self) -> bool:
        """Whether :meth:`use_search` has been given a finished search."""
        return self._derived is not None or self.failure is not None

    def use_search(self, trial: Trial) -> None:
        """Take the finished search trial: its derived architectures (the ``top`` first) are
        what ``ask`` proposes; a search that did not complete sets :attr:`failure`."""
        result = trial.result
        if trial.state is not TrialState.COMPLETE or result is None:
            why = result.reason if result is not None else trial.state.value
            self.failure = (f"the one-shot search ({trial.label}) ended "
                            f"{trial.state.value}: {why}")
            self._derived = None
            return
        derived = [Architecture.parse(text) for text in result.info.get(DERIVED, ())]
        self._derived = derived[: self.top]

    def _ask(self, number: int) -> Candidate | None:
        if self._derived is None or self._n_asked >= len(self._derived):
            return None
        self._n_asked += 1
        return Candidate(self._derived[self._n_asked - 1])

    def _tell(self, trial: Trial) -> None:
        """Proposals are scored, not learnt from: the search has already decided."""

    # -- the search -----------------------------------------------------------------------------
    def search(self, ctx: EvalContext, seed: int) -> Result:
        """Run the whole one-shot search for ``ctx.space`` on ``ctx.task`` (in a worker).

        Checkpoints every epoch under ``ctx.workdir`` and resumes from the last one; reports the
        architecture weights every epoch through ``ctx.reporter``. Returns the search result
        (metrics :data:`SEARCH_METRICS`, ``info["derived"]``), or a FAILED one naming why (a
        non-finite loss keeps the last good checkpoint).
        """
        from nasforge.strategy.oneshot._engine import SearchRun

        return SearchRun(self, ctx, seed).run()

    # -- hooks of the search, called by SearchRun in the worker --------------------------------
    @abstractmethod
    def _init_state(self, run: SearchRun) -> None:
        """Create what the search learns besides the supernet (architecture parameters, a
        controller, optimisers) in ``run.state``, so that it is checkpointed."""

    @abstractmethod
    def _train_epoch(self, run: SearchRun) -> float:
        """Train one epoch (``run.epoch``); return the mean training loss."""

    def _weights(self, run: SearchRun) -> dict[str, list[float]] | None:
        """The architecture weights to report after an epoch (decision -> a probability per
        option); ``None`` when the strategy has none (uniform single-path training)."""
        return None

    def _current(self, run: SearchRun) -> Architecture | None:
        """The architecture the search would derive now (logged after every epoch, and what
        the collapse guard judges); ``None`` when deriving one needs a search of its own."""
        return None

    @abstractmethod
    def _final(self, run: SearchRun) -> list[Architecture]:
        """The derived architectures after the last epoch, best first (at least one)."""

    def _guard(self, run: SearchRun, current: Architecture) -> str | None:
        """Why the search stops early after this epoch (the collapse guard), else ``None``."""
        return None

    def _flaw(self, run: SearchRun, arch: Architecture) -> str | None:
        """What makes ``arch`` unfit to propose (for the collapse guard), else ``None``; only
        architectures without one are kept as the fallback of an early stop."""
        return None

    # -- pre-flight -----------------------------------------------------------------------------
    def preflight(self, space: SearchSpace, evaluator: Evaluator) -> list[Problem]:
        """A space without a supernet is refused, naming the strategies that work with it."""
        if getattr(space, "has_supernet", False):
            return []
        black_box = [n for n in STRATEGIES.names()
                     if not issubclass(STRATEGIES.get(n), OneShotStrategy)]
        return [Problem(
            "strategy.name",
            f"{self.name!r} is a one-shot strategy and needs a space with a supernet; the space "
            f"{getattr(space, 'name', type(space).__name__)!r} has none",
            f"use a black-box strategy with this space ({', '.join(black_box)}), or a space "
            f"that has a supernet ({', '.join(spaces_with_supernet()) or 'none registered'})",
        )]


def spaces_with_supernet() -> list[str]:
    """The registered spaces whose default settings give a supernet."""
    from nasforge.space.base import SPACES

    found = []
    for name in SPACES.names():
        try:
            if getattr(SPACES.create(name), "has_supernet", False):
                found.append(name)
        except Exception:  # a space that needs settings: skip it
            continue
    return found


def is_one_shot(strategy: object) -> bool:
    """Whether ``strategy`` is a one-shot strategy."""
    return isinstance(strategy, OneShotStrategy)


def top_k(options: Sequence[Sequence[float]], k: int) -> list[tuple[int, ...]]:
    """The ``k`` most likely joint choices of independent decisions, most likely first.

    ``options[d][i]`` is the log-probability of option ``i`` of decision ``d``; a best-first
    search over the product (ties: lower indices first), so a one-shot strategy can propose its
    next-best architectures after the argmax without enumerating the space.
    """
    import heapq

    order = [sorted(range(len(o)), key=lambda i, o=o: (-o[i], i)) for o in options]  # type: ignore[misc]

    def value(ranks: tuple[int, ...]) -> float:
        return sum(options[d][order[d][r]] for d, r in enumerate(ranks))

    start = tuple(0 for _ in options)
    heap = [(-value(start), start)]
    seen = {start}
    found: list[tuple[int, ...]] = []
    while heap and len(found) < k:
        _, ranks = heapq.heappop(heap)
        found.append(tuple(order[d][r] for d, r in enumerate(ranks)))
        for d in range(len(ranks)):
            if ranks[d] + 1 < len(order[d]):
                nxt = (*ranks[:d], ranks[d] + 1, *ranks[d + 1:])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (-value(nxt), nxt))
    return found
