"""`Strategy`: what to try next, through ask/tell. A strategy never runs anything.

**A strategy is a pure function of (seed, history).** Its random draws for trial ``n`` come from
``self.rng(n)``; its state changes only in ``ask`` and ``tell``. The study records, for every
trial, how many results had been told when it was asked, so a resume rebuilds the state exactly by
replaying the stored asks and tells in their original interleaving: no pickled state.

Call sequence, made by the study loop::

    strategy.setup(space, objectives, seed, constraints=constraints, feasible=check)
    cand = strategy.ask(0); cand = strategy.ask(1)   # as many as there are free workers
    strategy.tell(trial_0)                           # COMPLETE, FAILED, TIMEOUT, PRUNED alike
    cand = strategy.ask(2) ...

``ask`` returns ``None`` when the strategy has nothing more to propose (e.g. a space exhausted).

**Constraint-aware sampling.** The study passes ``setup`` its constraints and, when some of them
bound a metric known before training (params, FLOPs, predicted latency), a *feasibility check*:
``feasible(arch)`` is ``None`` when ``arch`` meets those bounds, else the broken bound. The
check is a pure function of the architecture (so a replay gives the same answers) and is
remembered per architecture (:meth:`Strategy.infeasibility`); a check that raises counts as
feasible, so the study records the failure when the candidate is asked. Strategies propose
through the helpers :meth:`~Strategy.sample_feasible`, :meth:`~Strategy.mutate_feasible`,
:meth:`~Strategy.feasible_neighbours`, :meth:`~Strategy.first_feasible` and
:meth:`~Strategy.asked_archs` (unasked draws that reject infeasible ones), which try a bounded
number of draws (:data:`MAX_FEASIBLE_TRIES`) and then fall back to the last one, which the study
stores INFEASIBLE: a strategy never loops forever on a region with nothing feasible. Without a
check (no cheap constraint) or with the strategy setting ``constraint_aware: false`` the helpers
are the plain space operations, drawing exactly the same random numbers as before.

Constraints on metrics known only after training are left to the strategies' ranking: a trial
that breaks one scores ``-inf`` for the single-objective strategies, and the multi-objective ones
rank such trials below every feasible one, by how much they break the bounds
(:meth:`Strategy.violation_amount`, Deb's constrained domination).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from nasforge.config import Component
from nasforge.objective import Constraint, Objective, score, violation_amount
from nasforge.registry import Registry
from nasforge.rng import trial_rng
from nasforge.strategy._dedup import AskedArchs

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.errors import Problem
    from nasforge.evaluate.base import Evaluator
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task
    from nasforge.trial import Candidate, Trial


FeasibilityCheck = Callable[["Architecture"], "str | None"]
"""A study's check of the constraints on metrics known before training: ``None`` when an
architecture meets them, else the broken bound (e.g. ``"params = 2e5 breaks params <= 1e5"``)."""

MAX_FEASIBLE_TRIES = 100
"""Draws a feasibility helper tries before it falls back to the last (infeasible) one."""


class Strategy(Component, ABC):
    """Base class of black-box strategies. Subclasses implement ``_ask`` and ``_tell``.

    Subclasses that take the setting ``constraint_aware`` (default ``True``) store it under that
    attribute; ``False`` turns the feasibility helpers into the plain space operations (the
    study then only filters: an infeasible ask is stored INFEASIBLE untrained).
    """

    space: SearchSpace
    objectives: Sequence[Objective]
    constraints: Sequence[Constraint]
    seed: int
    task: Task | None = None
    learns_unasked: ClassVar[bool] = True
    """Whether ``tell`` accepts a trial this strategy never asked (an architecture a human
    injected by steering, :mod:`nasforge.run.steering`). Strategies that keep state per ask
    (an Optuna trial, a multi-fidelity rung) set ``False``; such trials are then stored and
    ranked but not told to them."""

    def setup(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        constraints: Sequence[Constraint] = (),
        feasible: FeasibilityCheck | None = None,
        task: Task | None = None,
    ) -> None:
        """Bind the strategy to a space, objectives, seed and the study's constraints,
        resetting all state.

        Args:
            space: the search space.
            objectives: the study's objectives.
            seed: the study's seed.
            constraints: every constraint of the study (those known before training included);
                used to rank trained trials by how much they break the bounds.
            feasible: the check of the constraints known before training (see the module
                docstring); ``None`` when there is none.
            task: the study's task, which zero-cost proxies computed on networks are bound to
                (:meth:`nasforge.evaluate.proxy.Proxy.bind`); ``None`` outside a study.
        """
        self.space = space
        self.task = task
        self.objectives = list(objectives)
        self.seed = int(seed)
        self.constraints = list(constraints)
        self._feasible = feasible
        self._infeasibility: dict[Architecture, str | None] = {}
        self._reset()

    # -- constraint-aware proposals ------------------------------------------------------------
    @property
    def is_constraint_aware(self) -> bool:
        """Whether asks avoid candidates the feasibility check rejects."""
        return (self.__dict__.get("_feasible") is not None
                and bool(getattr(self, "constraint_aware", True)))

    def infeasibility(self, arch: Architecture) -> str | None:
        """Why ``arch`` breaks a constraint known before training; ``None`` when it meets them,
        when the check raised (the study then records the failure) or when the strategy is not
        constraint-aware. Answers are remembered per architecture (its canonical form)."""
        if not self.is_constraint_aware:
            return None
        cache = self._infeasibility
        if arch not in cache:
            check = self._feasible
            assert check is not None
            try:
                cache[arch] = check(arch)
            except Exception:  # the study's own check of the ask records why
                cache[arch] = None
        return cache[arch]

    def is_feasible(self, arch: Architecture) -> bool:
        """Whether ``arch`` passes the feasibility check (always, when there is none)."""
        return self.infeasibility(arch) is None

    def asked_archs(self) -> AskedArchs:
        """A record of asked architectures whose unasked draws reject infeasible ones."""
        return AskedArchs(self.space, self.is_feasible if self.is_constraint_aware else None)

    def sample_feasible(
        self,
        rng: np.random.Generator,
        draw: Callable[[np.random.Generator], Architecture] | None = None,
        max_tries: int = MAX_FEASIBLE_TRIES,
    ) -> Architecture:
        """The first feasible draw of ``draw`` (default ``space.sample``) within ``max_tries``,
        else the last draw (the study stores it INFEASIBLE)."""
        draw = draw or self.space.sample
        arch = draw(rng)
        for _ in range(max_tries - 1):
            if self.is_feasible(arch):
                return arch
            arch = draw(rng)
        return arch

    def mutate_feasible(
        self, arch: Architecture, rng: np.random.Generator, max_tries: int = MAX_FEASIBLE_TRIES
    ) -> Architecture:
        """A feasible mutation of ``arch`` (:meth:`sample_feasible` over ``space.mutate``)."""
        return self.sample_feasible(rng, lambda r: self.space.mutate(arch, r), max_tries)

    def feasible_neighbours(self, arch: Architecture) -> list[Architecture]:
        """The feasible members of ``space.neighbours(arch)``, in the space's order."""
        return self.feasible_only(self.space.neighbours(arch))

    def feasible_only(self, archs: Iterable[Architecture]) -> list[Architecture]:
        """The feasible members of ``archs`` (every one, without a check), order kept."""
        return [a for a in archs if self.is_feasible(a)]

    def first_feasible(
        self, archs: Iterable[Architecture], max_tries: int = MAX_FEASIBLE_TRIES
    ) -> Architecture | None:
        """The first feasible architecture among the first ``max_tries`` of ``archs`` (a pool in
        preference order, e.g. by acquisition value), else the first one; ``None`` if empty.

        Checks are made lazily, so a whole-space pool costs only the checks of its best few."""
        first: Architecture | None = None
        for k, arch in enumerate(archs):
            if first is None:
                first = arch
            if k >= max_tries:
                break
            if self.is_feasible(arch):
                return arch
        return first

    def violation_amount(self, trial: Trial) -> float:
        """How much a finished trial breaks the study's constraints and objective limits (0 when
        it meets them; ``inf`` when it failed or lacks a bounded metric), for Deb's constrained
        domination. An INFEASIBLE trial, stored untrained, counts only the bounds on the
        metrics it has (those known before training)."""
        from nasforge.trial import TrialState

        if trial.result is None:
            return math.inf
        if trial.state is not TrialState.INFEASIBLE and not trial.result.ok:
            return math.inf
        bounds = [*self.constraints, *_limits(self.objectives)]
        metrics = trial.result.metrics
        if trial.state is TrialState.INFEASIBLE:
            bounds = [c for c in bounds if c.metric in metrics]
        return violation_amount(metrics, bounds)

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


def _limits(objectives: Sequence[Objective]) -> list[Constraint]:
    """Objective limits as constraints (``min params, limit 1e6`` -> ``params <= 1e6``)."""
    return [
        Constraint(metric=o.metric, **{"max" if o.direction == "min" else "min": o.limit})
        for o in objectives
        if o.limit is not None
    ]


STRATEGIES: Registry[Strategy] = Registry("strategy")
"""Registered strategies (``@STRATEGIES.register("random")``)."""
