"""Report data: pure functions from stored trials to rows and series (no plotting here).

:func:`pareto_trials` (the Pareto set of feasible trials, best first by the first objective) is
:func:`nasforge.objective.pareto_trials`, re-exported here for reports, as is
:func:`total_energy` (the summed energy and CO2 of the trials, :mod:`nasforge.evaluate.energy`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from nasforge.architecture import Value
from nasforge.evaluate.energy import EnergyTotal, total_energy
from nasforge.objective import Constraint, Objective, pareto_trials, score, violation
from nasforge.space.base import SearchSpace
from nasforge.store.base import CurvePoint, Event
from nasforge.trial import Trial, TrialState

__all__ = ["CurveRow", "EnergyTotal", "EventRow", "HistoryPoint", "curve_rows",
           "curves_by_trial", "decision_options", "energy_line", "energy_sentence", "event_rows",
           "history", "pareto_trials", "state_counts", "total_energy", "trial_source"]


@dataclass(frozen=True)
class HistoryPoint:
    """One finished trial on the optimisation history: its value and the best so far."""

    number: int
    value: float | None
    best_so_far: float | None
    state: str
    elapsed_s: float | None = None
    """Seconds from the study's first trial start to this trial's end (``None`` if unknown)."""


def history(
    trials: Sequence[Trial],
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint] = (),
    *,
    by_time: bool = False,
) -> list[HistoryPoint]:
    """The first objective per trial (in trial order) with the running best of feasible trials
    (a trial breaking one of ``constraints`` shows its value but never becomes the best).

    ``by_time`` orders the trials by when they finished instead (parallel workers finish out
    of number order), leaving out those with no finish time: the best against time."""
    primary = objectives[0]
    best = -math.inf
    points = []
    starts = [t.started_at for t in trials if t.started_at is not None]
    origin = min(starts) if starts else None
    if by_time:
        ordered = sorted((t for t in trials if t.finished_at is not None),
                         key=lambda t: (t.finished_at, t.number))
    else:
        ordered = sorted(trials, key=lambda t: t.number)
    for t in ordered:
        if not t.state.is_finished():
            continue
        value = t.metrics.get(primary.metric) if t.state is TrialState.COMPLETE else None
        usable = t.state is TrialState.COMPLETE and violation(t.metrics, constraints) is None
        s = score(t.metrics, objectives) if usable else -math.inf
        best = max(best, s)
        shown = None if best == -math.inf else (best if primary.direction == "max" else -best)
        elapsed = (None if origin is None or t.finished_at is None
                   else max(t.finished_at - origin, 0.0))
        points.append(HistoryPoint(t.number, value, shown, t.state.value, elapsed))
    return points


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


def energy_line(trials: Sequence[Trial]) -> str | None:
    """The study's energy in one sentence (``None`` when no trial carries it): the totals, how
    they were obtained and the grid's country, saying *estimated* where no counter measured."""
    total = total_energy(trials)
    return None if total is None else energy_sentence(total)


def energy_sentence(total: EnergyTotal) -> str:
    """:func:`energy_line`'s sentence for an already summed total (``summary.json``'s)."""
    how = "estimated" if total.estimate else "measured"
    plural = "" if total.n_trials == 1 else "s"
    return (f"Energy of {total.n_trials} trial{plural}: {total.kwh:.3g} kWh, "
            f"{total.co2_kg:.3g} kg CO2-eq ({how} by codecarbon, {total.method}; grid of "
            f"{total.country or 'unknown country'}).")


def trial_source(trial: Trial) -> str:
    """Who made ``trial``: ``strategy`` or ``inject`` (the search), or e.g. ``oneshot``."""
    return trial.source.value


def decision_options(space: SearchSpace, trials: Sequence[Trial]) -> dict[str, list[Value]]:
    """Each decision's options: the space's own declaration where it has one (table spaces),
    otherwise the values the trials used, sorted (define-by-run spaces; in order of first use
    where the values do not compare)."""
    table = getattr(space, "table", None)
    options: dict[str, list[Value]] = {}
    if table is not None and hasattr(table, "decisions"):
        options = {d.name: list(d.options) for d in table.decisions}
    declared = set(options)
    for t in trials:
        for name, value in t.arch.items():
            seen = options.setdefault(name, [])
            if value not in seen:
                seen.append(value)
    for name in set(options) - declared:  # values seen only: in order, where they compare
        with contextlib.suppress(TypeError):
            options[name] = sorted(options[name])
    return options


def curves_by_trial(
    points: Sequence[CurvePoint], metric: str
) -> dict[int, list[tuple[int, float]]]:
    """``metric``'s learning curve per trial: ``{trial: [(step, value), ...]}`` in step order."""
    curves: dict[int, list[tuple[int, float]]] = {}
    for p in points:
        if p.metric == metric:
            curves.setdefault(p.trial, []).append((p.step, p.value))
    return curves


@dataclass(frozen=True)
class EventRow:
    """One steering event for the timeline: when, what kind, its details and what came of it
    (``pending``, ``applied from trial #N``, or ``refused``)."""

    id: int
    at: float
    kind: str
    details: str
    outcome: str


def event_rows(events: Sequence[Event]) -> list[EventRow]:
    """The events in time order, their payload as ``key=value`` text. Any kind is listed as it
    is: the store refuses unknown kinds when written, so the report needs no list of them."""
    rows = []
    for e in sorted(events, key=lambda e: (e.created_at, e.id)):
        details = ", ".join(f"{k}={v}" for k, v in sorted(e.payload.items()))
        if e.handled_at is None:
            outcome = "pending"
        elif e.applied_at is None:
            outcome = "refused"
        else:
            outcome = f"applied from trial #{e.applied_at}"
        rows.append(EventRow(e.id, e.created_at, str(e.kind.value), details, outcome))
    return rows
