"""Multi-fidelity local search: climb on cheap low-fidelity results, query the best at full.

Local search is a strong NAS baseline on cell benchmarks (White, Nolen, Savani 2021, "Exploring
the Loss Landscape in Neural Architecture Search", UAI, https://arxiv.org/abs/2005.02960). Short
training runs rank architectures much like full ones (on NAS-Bench-201 the Spearman correlation of
12-epoch and 200-epoch validation accuracy is 0.82), which multi-fidelity methods such as
successive halving exploit (Li et al. 2020, ASHA, https://arxiv.org/abs/1810.05934). This strategy
combines the two:

- a first-improvement local search runs on **low-fidelity** results: each step evaluates an
  unvisited neighbour of the current point at ``low_fidelity``, moves as soon as one is better,
  and restarts from a random architecture at a low-fidelity local optimum;
- for every ``ratio`` low-fidelity evaluations, the architecture with the best low-fidelity
  result that has not been evaluated at full fidelity yet is **queried** at ``high_fidelity``.

The search result is the best full-fidelity trial, so the low-fidelity values only decide what
is worth a full evaluation. Its cost per full query is ``high + ratio × low`` epochs (1.6× a
plain query for 200-epoch queries with ``ratio=10`` and ``low_fidelity=12``); reports should give
both the number of full queries and the total cost.

Deviation from plain local search: there is no full-fidelity neighbourhood walk; full queries
follow the low-fidelity ranking only. Architectures are remembered by canonical form
(``space.canonical``): one isomorphic to an evaluated architecture counts as visited, with its
result, and is never asked. Asynchronous: pending evaluations count toward the ratio,
and a point's neighbourhood is only declared a local optimum once every neighbour was told.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from nasforge.errors import ConfigError, Problem
from nasforge.strategy._dedup import prior_archs
from nasforge.strategy._zc import ProxyBudget, _check_proxy, warmup_ranking
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate

_FIDELITY = Annotated[int, Field(ge=1)] | Annotated[float, Field(gt=0, le=1)]
"""Whole epochs >= 1, or a data fraction in (0, 1]."""

if TYPE_CHECKING:
    import numpy as np

    from nasforge.architecture import Architecture
    from nasforge.errors import Problem
    from nasforge.evaluate.base import Evaluator
    from nasforge.space.base import SearchSpace
    from nasforge.trial import Trial


@STRATEGIES.register("mf_local_search")
class MultiFidelityLocalSearch(Strategy):
    """Local search at low fidelity; the best low-fidelity architectures are queried at full.

    Args:
        low_fidelity: the cheap fidelity (e.g. 12 epochs on NAS-Bench-201, 3 for real training,
            or a data fraction such as 0.1 with ``train``'s ``fidelity: data_fraction``).
        high_fidelity: the full fidelity; ``None`` asks for the evaluator's full budget.
        ratio: low-fidelity evaluations per full-fidelity query.
        proxy: optional zero-cost proxy (``{name: ..., **params}``): the walk then starts, and
            restarts, from the best of ``n_proxy_warmup`` proxy-scored architectures instead of
            random ones (Abdelfattah et al. 2021, https://arxiv.org/abs/2101.08134).
        max_proxy_scores: the most architectures the proxy may score in the whole search.
        n_proxy_warmup: architectures scored for the start ranking (within that budget).
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    learns_unasked = False  # it tracks which of its asks are promotions

    def __init__(
        self,
        *,
        low_fidelity: _FIDELITY = 12,
        high_fidelity: _FIDELITY | None = None,
        ratio: Annotated[int, Field(ge=1)] = 10,
        proxy: dict[str, Any] | None = None,
        max_proxy_scores: Annotated[int, Field(ge=0)] = 1000,
        n_proxy_warmup: Annotated[int, Field(ge=0)] = 500,
        constraint_aware: bool = True,
    ) -> None:
        _check_proxy(proxy, "MultiFidelityLocalSearch")
        if high_fidelity is not None and high_fidelity <= low_fidelity:
            raise ConfigError([Problem(
                "MultiFidelityLocalSearch.high_fidelity",
                f"must be above low_fidelity ({low_fidelity}); got {high_fidelity}",
                "raise high_fidelity, lower low_fidelity, or leave high_fidelity unset (full)")])
        self.low_fidelity = low_fidelity
        self.high_fidelity = high_fidelity
        self.ratio = ratio
        self.proxy = proxy
        self.max_proxy_scores = max_proxy_scores
        self.n_proxy_warmup = n_proxy_warmup
        self.constraint_aware = constraint_aware

    def preflight(self, space: SearchSpace, evaluator: Evaluator) -> list[Problem]:
        """Refuses an evaluator without a fidelity (both fidelities would be the same run), and
        fidelities of another kind than the evaluator's or outside its range."""
        from nasforge.strategy._hyperband import fidelity_problems

        return fidelity_problems(self, evaluator, [self.low_fidelity, self.high_fidelity])

    def _reset(self) -> None:
        # Insertion-ordered dicts, never sets, are iterated: the order must survive a resume.
        # Keys are canonical forms; _arch_of maps each to the architecture that was asked.
        self._low: dict[Architecture, float] = {}
        self._low_pending: dict[Architecture, bool] = {}  # key -> proposed as a neighbour
        self._high: dict[Architecture, float] = {}
        self._high_pending: dict[Architecture, None] = {}
        self._arch_of: dict[Architecture, Architecture] = {}
        self._current: Architecture | None = None
        self._neighbourhood: list[Architecture] = []
        self._prior: list[Architecture] = []
        self._n_restarts = 0
        self._neighbours: dict[Architecture, list[Architecture]] = {}  # a cache: pure function
        self._budget = ProxyBudget(self.proxy, self.max_proxy_scores, self.task)
        self._starts: list[Architecture] | None = None  # proxy-ranked, made on the first ask

    def warm_start(self, trials: Sequence[Trial]) -> None:
        """The best architectures of an earlier study are evaluated first at low fidelity."""
        self._prior = prior_archs(self.space, trials, self.score)

    @property
    def n_proxy_scores(self) -> int:
        """Proxy scores used so far (at most ``max_proxy_scores``)."""
        budget = self.__dict__.get("_budget")
        return budget.used if budget is not None else 0

    @property
    def n_restarts(self) -> int:
        """Low-fidelity local optima left for a random restart."""
        return self._n_restarts

    def _is_low(self, trial: Trial) -> bool:
        return trial.candidate.fidelity == self.low_fidelity

    def _ask(self, number: int) -> Candidate | None:
        rng = self.rng(number)
        n_low = len(self._low) + len(self._low_pending)
        n_high = len(self._high) + len(self._high_pending)
        if n_low >= self.ratio * (n_high + 1):
            best = self._best_unqueried()
            if best is not None:
                self._high_pending[best] = None
                return Candidate(self._arch_of[best], self.high_fidelity)
        arch, is_neighbour = self._next_low(rng)
        if arch is None:  # every architecture seen at low fidelity: query what is left
            best = self._best_unqueried()
            if best is None:
                return None
            self._high_pending[best] = None
            return Candidate(self._arch_of[best], self.high_fidelity)
        key = self._key(arch)
        self._low_pending[key] = is_neighbour
        self._arch_of.setdefault(key, arch)
        return Candidate(arch, self.low_fidelity)

    def _key(self, arch: Architecture) -> Architecture:
        return self.space.canonical(arch)

    def _seen_low(self, arch: Architecture) -> bool:
        key = self._key(arch)
        return key in self._low or key in self._low_pending

    def _low_of(self, arch: Architecture) -> float | None:
        return self._low.get(self._key(arch))

    def _best_unqueried(self) -> Architecture | None:
        """The key of the best told low-fidelity result not (being) evaluated at full."""
        best: Architecture | None = None
        for key, value in self._low.items():
            if key in self._high or key in self._high_pending:
                continue
            if best is None or value > self._low[best]:
                best = key
        return best

    def _next_low(self, rng: np.random.Generator) -> tuple[Architecture | None, bool]:
        """An unvisited neighbour of the current point, else a prior or random architecture."""
        if self._current is not None:
            unvisited = [a for a in self._neighbourhood if not self._seen_low(a)]
            if unvisited:
                return unvisited[int(rng.integers(len(unvisited)))], True
        if self._starts is None:
            self._starts = warmup_ranking(self.space, self._budget, self.rng(0, "zc_warmup"),
                                          self.n_proxy_warmup, self.n_proxy_warmup)
        for arch in [*self._prior, *self._starts]:
            if not self._seen_low(arch) and self.is_feasible(arch):
                return arch, False
        infeasible: Architecture | None = None
        for _ in range(100):
            arch = self.space.sample(rng)
            if not self._seen_low(arch):
                if self.is_feasible(arch):
                    return arch, False
                infeasible = arch
        if self.space.size <= 100_000:
            unseen = [a for a in self.space.enumerate() if not self._seen_low(a)]
            if unseen:
                if not self.is_constraint_aware:
                    return unseen[int(rng.integers(len(unseen)))], False
                order = rng.permutation(len(unseen)).tolist()
                return self.first_feasible(unseen[i] for i in order), False
        return infeasible, False

    def _tell(self, trial: Trial) -> None:
        arch, value = trial.arch, self.score(trial)
        key = self._key(arch)
        self._arch_of.setdefault(key, arch)
        if not self._is_low(trial):
            self._high_pending.pop(key, None)
            self._high[key] = value
            return
        is_neighbour = self._low_pending.pop(key, False)
        self._low[key] = value
        if self._current is None or (is_neighbour and value > self._current_low()):
            self._move(arch)
        elif not is_neighbour and self._at_local_optimum():
            self._n_restarts += 1
            self._move(arch)

    def _move(self, arch: Architecture) -> None:
        """Make ``arch`` the current point, climbing on to already-known better neighbours."""
        while True:
            self._current = arch
            if arch not in self._neighbours:
                self._neighbours[arch] = self.feasible_neighbours(arch)
            self._neighbourhood = self._neighbours[arch]
            here = self._current_low()
            known = [(a, self._low_of(a)) for a in self._neighbourhood]
            better = [(a, v) for a, v in known if v is not None and v > here]
            if not better:
                return
            arch = max(better, key=lambda pair: pair[1])[0]

    def _current_low(self) -> float:
        assert self._current is not None
        value = self._low_of(self._current)
        assert value is not None
        return value

    def _at_local_optimum(self) -> bool:
        """Every neighbour of the current point is told and none is better."""
        here = self._current_low()
        values = [self._low_of(a) for a in self._neighbourhood]
        return all(v is not None and v <= here for v in values)
