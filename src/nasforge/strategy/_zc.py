"""Zero-cost guidance: spend a budget of cheap proxy scores to steer a search.

A zero-cost proxy (NASWOT, SynFlow, ... see :mod:`nasforge.evaluate.proxy`) scores an untrained
architecture in a fraction of a second. Its rank correlation with trained accuracy is moderate
(about 0.8 on NAS-Bench-201), too weak to pick the winner but strong enough to decide what to
evaluate first. Abdelfattah, Mehrotra, Dudziak & Lane 2021, "Zero-Cost Proxies for Lightweight
NAS", ICLR, https://arxiv.org/abs/2101.08134, use proxies in two of the ways provided here:

- **warm-up** (:func:`zc_warmup`): score many sampled architectures and start the search from the
  best; any strategy can call it (BANANAS and GP-BO do with their ``proxy`` parameter);
- **move proposal** (:class:`ZCLocalSearch`): explore a neighbourhood in descending proxy order.

The third use, the proxy as a predictor feature, is in BANANAS (:mod:`._bananas`).

Proxy scores are cheap but not free: every strategy here counts the distinct architectures it
scored in ``n_proxy_scores`` and never exceeds ``max_proxy_scores``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from nasforge.errors import ConfigError, Problem
from nasforge.strategy._local_search import LocalSearch
from nasforge.strategy.base import STRATEGIES
from nasforge.trial import Candidate

if TYPE_CHECKING:
    import numpy as np

    from nasforge.architecture import Architecture
    from nasforge.evaluate.proxy.base import Proxy
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task


def make_proxy(spec: Mapping[str, Any], field: str = "proxy") -> Proxy:
    """Build the proxy named by ``{"name": ..., **params}`` from the proxy registry."""
    from nasforge.evaluate.proxy.base import PROXIES

    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise ConfigError(
            [
                Problem(
                    field,
                    f"expected a mapping with a 'name' key; got {spec!r}",
                    f"use e.g. {{name: nb201_table, metric: naswot}}; proxies: "
                    f"{', '.join(PROXIES.names()) or 'none registered'}",
                )
            ]
        )
    params = {k: v for k, v in spec.items() if k != "name"}
    return PROXIES.create(spec["name"], params, field=field)


class ProxyBudget:
    """A proxy with a cap on how many distinct architectures it may score.

    Scores are cached, so asking again for an architecture already scored is free. The proxy is
    built lazily from its spec and not pickled (it is rebuilt on demand).

    Args:
        spec: ``{"name": ..., **params}`` for the proxy registry, a :class:`Proxy`, or ``None``
            (no proxy: :attr:`active` is false and :meth:`score` returns ``None``).
        max_scores: the most architectures that may be scored.
        task: the study's task, bound to the proxy (:meth:`Proxy.bind`) before its first score;
            proxies computed on networks use it unless they name their own.
    """

    def __init__(self, spec: Mapping[str, Any] | Proxy | None, max_scores: int,
                 task: Task | None = None) -> None:
        self.spec = spec
        self.max_scores = max_scores
        self.task = task
        self.scores: dict[Architecture, float] = {}
        self._proxy: Proxy | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if isinstance(self.spec, Mapping):
            state["_proxy"] = None
        return state

    @property
    def active(self) -> bool:
        """Whether a proxy is configured (whatever is left of the budget)."""
        return self.spec is not None and self.max_scores > 0

    @property
    def used(self) -> int:
        return len(self.scores)

    @property
    def remaining(self) -> int:
        return max(self.max_scores - self.used, 0) if self.active else 0

    def _resolve(self) -> Proxy:
        if self._proxy is None:
            spec = self.spec
            if isinstance(spec, Mapping):
                self._proxy = make_proxy(spec)
            else:
                assert spec is not None
                self._proxy = spec
            if self.task is not None:
                self._proxy.bind(self.task)
        return self._proxy

    def known(self, arch: Architecture) -> float | None:
        """The cached score of ``arch`` (``None`` when not scored)."""
        return self.scores.get(arch)

    def score(self, arch: Architecture, space: SearchSpace) -> float | None:
        """The proxy score of ``arch`` (non-finite scores become ``-inf``), ``None`` when the
        budget is spent or there is no proxy."""
        if arch in self.scores:
            return self.scores[arch]
        if self.remaining <= 0:
            return None
        value = float(self._resolve().score(arch, space))
        self.scores[arch] = value if math.isfinite(value) else -math.inf
        return self.scores[arch]


def zc_warmup(
    space: SearchSpace,
    proxy: Proxy | ProxyBudget,
    rng: np.random.Generator,
    n_scored: int,
    n_keep: int,
) -> list[Architecture]:
    """The ``n_keep`` best of ``n_scored`` distinct sampled architectures by proxy score.

    Pre-ranking for any strategy: seed an initial population (or a random search's first draws)
    with the returned architectures, best first. Draws come from ``rng`` only, ties keep draw
    order, and architectures with a non-finite score come last. With a :class:`ProxyBudget`, at
    most its remaining budget is scored; a bare :class:`Proxy` is called exactly once per scored
    architecture, so the caller can count ``n_scored`` scores.

    Example (wiring it into a strategy's first asks, e.g. ``RegularizedEvolution``)::

        queue = zc_warmup(space, proxy, self.rng(0, "zc_warmup"), n_scored=1000,
                          n_keep=self.population)
        # then, while the population fills, ask queue.pop(0) instead of a random draw
    """
    budget = proxy if isinstance(proxy, ProxyBudget) else ProxyBudget(proxy, n_scored)
    drawn: list[Architecture] = []
    seen: set[Architecture] = set()
    limit = min(n_scored, budget.remaining)
    size = space.size
    if math.isfinite(size):
        limit = min(limit, int(size))
    for _ in range(limit * 20):
        if len(drawn) >= limit:
            break
        arch = space.sample(rng)
        key = space.canonical(arch)  # isomorphic draws would spend the budget twice
        if key in seen:
            continue
        seen.add(key)
        drawn.append(arch)
    scored: list[tuple[float, int, Architecture]] = []
    for i, arch in enumerate(drawn):
        value = budget.score(arch, space)
        if value is None:
            break
        scored.append((value, i, arch))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [arch for _, _, arch in scored[:n_keep]]


def warmup_ranking(space: SearchSpace, budget: ProxyBudget, rng: np.random.Generator,
                   n_warmup: int, n_keep: int) -> list[Architecture]:
    """A search's proxy-ranked start points: :func:`zc_warmup`, or nothing without a proxy."""
    if not budget.active or n_warmup <= 0:
        return []
    return zc_warmup(space, budget, rng, n_scored=n_warmup, n_keep=n_keep)


def _check_proxy(proxy: dict[str, Any] | None, where: str) -> None:
    if proxy is not None and not isinstance(proxy.get("name"), str):
        raise ConfigError(
            [
                Problem(
                    f"{where}.proxy",
                    f"expected a mapping with a 'name' key; got {proxy!r}",
                    "use e.g. {name: nb201_table, metric: naswot, dataset: cifar10} or "
                    "{name: synflow}",
                )
            ]
        )


@STRATEGIES.register("zc_local_search")
class ZCLocalSearch(LocalSearch):
    """Local search whose start points and neighbour order come from a zero-cost proxy.

    The method is :class:`~nasforge.strategy.LocalSearch` (White, Nolen & Savani 2021,
    https://arxiv.org/abs/2005.02960) with the proxy guidance of Abdelfattah et al. 2021
    (https://arxiv.org/abs/2101.08134): first ``n_proxy_warmup`` sampled architectures are
    scored and ranked; the ``n_initial`` best (not random draws) are evaluated and the best of
    them is the start point; neighbours are then evaluated in descending proxy score instead of at
    random; restarts take the best-ranked warm-up architecture not evaluated yet.

    Without a proxy (``proxy=None``) it is plain local search. When the proxy budget is spent,
    neighbours not scored yet come after the scored ones, in random order.

    Args:
        n_initial: architectures evaluated before the first move (the proxy's best). The default,
            1, starts from the proxy's favourite: chosen on NAS-Bench-201 CIFAR-10 seeds 0-29
            (1, 2, 3, 5 tried), confirmed on held-out seeds.
        mode: ``first`` or ``best`` improvement, as in LocalSearch.
        proxy: ``{name: ..., **params}`` of a registered proxy (e.g.
            ``{name: nb201_table, metric: naswot, dataset: cifar10}``), or ``None``.
        max_proxy_scores: the most architectures the proxy may score in the whole search.
        n_proxy_warmup: architectures scored for the start ranking (within the budget).
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    def __init__(
        self,
        *,
        n_initial: Annotated[int, Field(ge=1)] = 1,
        mode: Literal["first", "best"] = "first",
        proxy: dict[str, Any] | None = None,
        max_proxy_scores: Annotated[int, Field(ge=0)] = 1000,
        n_proxy_warmup: Annotated[int, Field(ge=0)] = 500,
        constraint_aware: bool = True,
    ) -> None:
        _check_proxy(proxy, "ZCLocalSearch")
        super().__init__(n_initial=n_initial, mode=mode, constraint_aware=constraint_aware)
        self.proxy = proxy
        self.max_proxy_scores = max_proxy_scores
        self.n_proxy_warmup = n_proxy_warmup

    def _reset(self) -> None:
        super()._reset()
        self._budget = ProxyBudget(self.proxy, self.max_proxy_scores, self.task)
        self._queue: list[Architecture] | None = None

    @property
    def n_proxy_scores(self) -> int:
        """Proxy scores used so far (at most ``max_proxy_scores``)."""
        budget = self.__dict__.get("_budget")
        return budget.used if budget is not None else 0

    def _next_start(self, rng: np.random.Generator) -> Architecture | None:
        if self._queue is None:
            self._queue = warmup_ranking(self.space, self._budget, self.rng(0, "zc_warmup"),
                                         self.n_proxy_warmup, self.n_proxy_warmup)
        while self._queue:
            arch = self._queue.pop(0)
            if arch not in self._asked and self.is_feasible(arch):
                return arch
        return self._asked.sample(rng)

    def _best_neighbour(self, rng: np.random.Generator) -> Architecture | None:
        unasked = [a for a in self._neighbourhood if a not in self._asked]
        if not unasked:
            return None
        scored: list[tuple[float, int, Architecture]] = []
        unscored: list[Architecture] = []
        for i, arch in enumerate(unasked):
            value = self._budget.score(arch, self.space) if self._budget.active else None
            if value is None:
                unscored.append(arch)
            else:
                scored.append((value, i, arch))
        if scored:
            return max(scored, key=lambda t: (t[0], -t[1]))[2]
        return unscored[int(rng.integers(len(unscored)))]

    def _ask(self, number: int) -> Candidate | None:
        rng = self.rng(number)
        arch: Architecture | None = None
        is_neighbour = False
        if self._current is not None:
            arch = self._best_neighbour(rng)
            is_neighbour = arch is not None
        if arch is None:
            arch = self._next_start(rng)
        if arch is None:
            return None
        self._asked.add(arch)
        self._pending[arch] = is_neighbour
        return Candidate(arch)
