"""Report data: pure functions from stored trials to rows and series (no plotting here).

:func:`pareto_trials` (the Pareto set of feasible trials, best first by the first objective) is
:func:`nasforge.objective.pareto_trials`, re-exported here for reports, as is
:func:`total_energy` (the summed energy and CO2 of the trials, :mod:`nasforge.evaluate.energy`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nasforge.evaluate.energy import EnergyTotal, total_energy
from nasforge.objective import Constraint, Objective, pareto_trials, score, violation
from nasforge.store.base import CurvePoint
from nasforge.trial import Trial, TrialState

__all__ = ["CurveRow", "EnergyTotal", "HistoryPoint", "curve_rows", "energy_line",
           "energy_sentence", "history", "pareto_trials", "state_counts", "total_energy"]


@dataclass(frozen=True)
class HistoryPoint:
    """One finished trial on the optimisation history: its value and the best so far."""

    number: int
    value: float | None
    best_so_far: float | None
    state: str


def history(
    trials: Sequence[Trial], objectives: Sequence[Objective], constraints: Sequence[Constraint] = ()
) -> list[HistoryPoint]:
    """The first objective per trial (in trial order) with the running best of feasible trials
    (a trial breaking one of ``constraints`` shows its value but never becomes the best)."""
    primary = objectives[0]
    best = -math.inf
    points = []
    for t in sorted(trials, key=lambda t: t.number):
        if not t.state.is_finished():
            continue
        value = t.metrics.get(primary.metric) if t.state is TrialState.COMPLETE else None
        usable = t.state is TrialState.COMPLETE and violation(t.metrics, constraints) is None
        s = score(t.metrics, objectives) if usable else -math.inf
        best = max(best, s)
        shown = None if best == -math.inf else (best if primary.direction == "max" else -best)
        points.append(HistoryPoint(t.number, value, shown, t.state.value))
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
