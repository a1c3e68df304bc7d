"""Pruners: stop a running trial whose learning curve is hopeless, judged by earlier curves.

A run spec names one: ``pruner: {name: median, n_startup_trials: 5}`` (default ``none``). The
study's driver calls :meth:`Pruner.prune` each time an evaluation reports a value of the
study's first objective metric (:mod:`nasforge.run.reports`); when it says yes, the
evaluation's ``should_prune()`` turns true and the evaluation raises
:class:`~nasforge.errors.TrialPruned`, and the trial is stored PRUNED with the step and value
where it stopped.

Pruners see values oriented so that larger is better (a minimised metric is negated), the
trial's own curve so far, and :class:`PastCurve` records of the other trials they may use. With
``reproducible: true`` those are only the trials told to the strategy before this trial was
asked (they are finished, and which ones they are depends only on the seed), so a seeded run
prunes the same trials at the same steps whatever the timing; otherwise they are every other
trial of the study, running ones included.

Steps are the evaluation's own (epochs, say), counted from 0 and used as the resource: a
successive-halving rung at ``min_resource=1`` is reached at step 1.
"""

from __future__ import annotations

import statistics
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from nasforge.config import Component
from nasforge.registry import Registry
from nasforge.trial import TrialState


@dataclass(frozen=True)
class PastCurve:
    """Another trial's curve of the pruned metric: ``values`` maps step -> oriented value."""

    number: int
    state: TrialState
    values: Mapping[int, float]


class Pruner(Component, ABC):
    """Base class of pruners: a pure function of the curves it is shown.

    Subclasses keep no state between calls, so a resumed study prunes exactly as an
    uninterrupted one (the curves come from the store).
    """

    @property
    def is_active(self) -> bool:
        """Whether this pruner ever prunes (``none`` does not, and needs no curve)."""
        return True

    @abstractmethod
    def prune(self, curve: Mapping[int, float], step: int, others: Sequence[PastCurve]) -> bool:
        """Whether to stop the trial that has just reported ``curve[step]``.

        Args:
            curve: the trial's own curve so far (step -> oriented value), ``step`` included.
            step: the step just reported.
            others: the other trials this decision may depend on.
        """


PRUNERS: Registry[Pruner] = Registry("pruner")
"""Registered pruners (``@PRUNERS.register("median")``)."""


@PRUNERS.register("none")
class NoPruner(Pruner):
    """Never prunes: every trial runs to its end (curves are still stored)."""

    def __init__(self) -> None:
        pass

    @property
    def is_active(self) -> bool:
        return False

    def prune(self, curve: Mapping[int, float], step: int, others: Sequence[PastCurve]) -> bool:
        return False


@PRUNERS.register("median")
class MedianPruner(Pruner):
    """Prune a trial whose best value so far is worse than the median of earlier trials at the
    same step (the median stopping rule of Google Vizier; Golovin et al., 2017,
    https://research.google/pubs/pub46180/), as Optuna's ``MedianPruner`` does.

    Only COMPLETE trials count as earlier trials, so pruned trials never lower the bar.

    Args:
        n_startup_trials: prune nothing until this many earlier trials have completed.
        n_warmup_steps: prune nothing before this step.
        interval_steps: after the warm-up, decide only every this many steps.
        n_min_trials: decide only when at least this many earlier trials reported this step.
    """

    def __init__(
        self,
        *,
        n_startup_trials: Annotated[int, Field(ge=0)] = 5,
        n_warmup_steps: Annotated[int, Field(ge=0)] = 0,
        interval_steps: Annotated[int, Field(ge=1)] = 1,
        n_min_trials: Annotated[int, Field(ge=1)] = 1,
    ) -> None:
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.interval_steps = interval_steps
        self.n_min_trials = n_min_trials

    def prune(self, curve: Mapping[int, float], step: int, others: Sequence[PastCurve]) -> bool:
        if step < self.n_warmup_steps or (step - self.n_warmup_steps) % self.interval_steps:
            return False
        complete = [o for o in others if o.state is TrialState.COMPLETE]
        if len(complete) < self.n_startup_trials:
            return False
        at_step = [o.values[step] for o in complete if step in o.values]
        if len(at_step) < self.n_min_trials:
            return False
        best = max(v for s, v in curve.items() if s <= step)
        return best < statistics.median(at_step)


@PRUNERS.register("successive_halving")
class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (ASHA; Li et al., 2020, https://arxiv.org/abs/1810.05934),
    as Optuna's ``SuccessiveHalvingPruner``: at each rung, a trial goes on only if its value is
    in the top ``1 / reduction_factor`` of the values every trial had there.

    Rung ``k`` is at step ``min_resource * reduction_factor ** (min_early_stopping_rate + k)``;
    a trial's value at a rung is the one it reported at the first step at or after it. While a
    rung has fewer than ``reduction_factor`` values, only a trial at least as good as the best
    goes on (Optuna's rule, as trials cannot be paused and promoted later).

    Args:
        min_resource: the step of the first rung (before the early-stopping rate).
        reduction_factor: how many trials compete for each promotion.
        min_early_stopping_rate: skips the first rungs: ``s`` moves the first to
            ``min_resource * reduction_factor ** s``.
    """

    def __init__(
        self,
        *,
        min_resource: Annotated[int, Field(ge=1)] = 1,
        reduction_factor: Annotated[int, Field(ge=2)] = 4,
        min_early_stopping_rate: Annotated[int, Field(ge=0)] = 0,
    ) -> None:
        self.min_resource = min_resource
        self.reduction_factor = reduction_factor
        self.min_early_stopping_rate = min_early_stopping_rate

    def rungs(self, up_to: int) -> list[int]:
        """The rung steps up to ``up_to``."""
        rungs, k = [], 0
        while (rung := self.min_resource * self.reduction_factor
               ** (self.min_early_stopping_rate + k)) <= up_to:
            rungs.append(rung)
            k += 1
        return rungs

    def prune(self, curve: Mapping[int, float], step: int, others: Sequence[PastCurve]) -> bool:
        before = max((s for s in curve if s < step), default=-1)
        value = curve[step]
        for rung in self.rungs(step):
            if rung <= before:
                continue  # this trial passed that rung at an earlier report
            competing = [v for o in others if (v := _at_rung(o.values, rung)) is not None]
            competing.append(value)
            competing.sort(reverse=True)
            promotable = max(len(competing) // self.reduction_factor, 1)
            if value < competing[promotable - 1]:
                return True
        return False


def _at_rung(values: Mapping[int, float], rung: int) -> float | None:
    reached = [s for s in values if s >= rung]
    return values[min(reached)] if reached else None


__all__ = ["PRUNERS", "MedianPruner", "NoPruner", "PastCurve", "Pruner",
           "SuccessiveHalvingPruner"]
