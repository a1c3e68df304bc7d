"""Report data: pure functions from stored trials to rows and series (no plotting here)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nasforge.objective import Objective, pareto_front, score
from nasforge.store.base import CurvePoint
from nasforge.trial import Trial, TrialState


@dataclass(frozen=True)
class HistoryPoint:
    """One finished trial on the optimisation history: its value and the best so far."""

    number: int
    value: float | None
    best_so_far: float | None
    state: str


def history(trials: Sequence[Trial], objectives: Sequence[Objective]) -> list[HistoryPoint]:
    """The first objective per trial (in trial order) with the running best of feasible trials."""
    primary = objectives[0]
    best = -math.inf
    points = []
    for t in sorted(trials, key=lambda t: t.number):
        if not t.state.is_finished():
            continue
        value = t.metrics.get(primary.metric) if t.state is TrialState.COMPLETE else None
        s = score(t.metrics, objectives) if t.state is TrialState.COMPLETE else -math.inf
        best = max(best, s)
        shown = None if best == -math.inf else (best if primary.direction == "max" else -best)
        points.append(HistoryPoint(t.number, value, shown, t.state.value))
    return points


def pareto_trials(trials: Sequence[Trial], objectives: Sequence[Objective]) -> list[Trial]:
    """The non-dominated COMPLETE, feasible trials for two or more objectives."""
    done = [t for t in trials if t.state is TrialState.COMPLETE
            and all(o.metric in t.metrics for o in objectives)
            and all(o.is_feasible(t.metrics) for o in objectives)]
    points = [[o.oriented(t.metrics) for o in objectives] for t in done]
    return [done[i] for i in pareto_front(points)]


def state_counts(trials: Sequence[Trial]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    return counts


@dataclass(frozen=True)
class CurveRow:
    """One trial's learning curve in brief: how many steps, where it ended, whether pruned."""

    number: int
    steps: int
    last_step: int
    last_value: float | None
    pruned: bool


def curve_rows(points: Sequence[CurvePoint], metric: str, pruned: set[int]) -> list[CurveRow]:
    """One :class:`CurveRow` per trial that reported, in trial order; ``last_value`` is
    ``metric`` at the trial's last step (``None`` if that step did not report it)."""
    by_trial: dict[int, dict[int, dict[str, float]]] = {}
    for p in points:
        by_trial.setdefault(p.trial, {}).setdefault(p.step, {})[p.metric] = p.value
    rows = []
    for number in sorted(by_trial):
        steps = by_trial[number]
        last = max(steps)
        rows.append(CurveRow(number, len(steps), last, steps[last].get(metric), number in pruned))
    return rows
