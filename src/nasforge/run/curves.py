"""The driver's record of learning curves: stores each report and asks the pruner.

:class:`CurveBook` is the handler behind :class:`~nasforge.run.reports.ReportServer`. It keeps,
in memory, every trial's curve of the pruned metric (the study's first objective), its state,
when it was asked and when it was told, so a pruning decision reads no store and costs the same
in a long study as in a short one. The loop tells it what happens to trials; a resume fills it
from the store once.

Which trials a decision may depend on: with ``reproducible: true`` only those told to the
strategy before the deciding trial was asked (``tell_seq < asked_after``): they are finished,
their curves are final, and which ones they are depends only on the seed. Otherwise every other
trial, running ones included.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from nasforge.objective import Objective
from nasforge.run.pruners import PastCurve, Pruner
from nasforge.store.base import CurvePoint, Store
from nasforge.trial import Result, Status, Trial, TrialState


@dataclass
class _Entry:
    asked_after: int
    state: TrialState = TrialState.RUNNING
    tell_seq: int | None = None
    values: dict[int, float] = field(default_factory=dict)  # step -> raw metric value
    last_step: int | None = None
    pruned_at: int | None = None  # the step at which the pruner said prune


class CurveBook:
    """Stores reports and decides on pruning for one session of a study's loop.

    Thread-safe: :meth:`report` runs on report-server threads, the rest on the loop's thread.
    """

    def __init__(
        self,
        store: Store,
        study_id: int,
        pruner: Pruner,
        objective: Objective,
        *,
        reproducible: bool,
    ) -> None:
        self.store = store
        self.study_id = study_id
        self.pruner = pruner
        self.metric = objective.metric
        self.sign = 1.0 if objective.direction == "max" else -1.0
        self.reproducible = reproducible
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    # -- what the loop tells it -------------------------------------------------------------
    def load(self, trials: Iterable[Trial], points: Iterable[CurvePoint]) -> None:
        """Fill the book from the store (on resume): the stored trials and their curves."""
        with self._lock:
            for t in trials:
                self._entries[t.number] = _Entry(t.asked_after, t.state, t.tell_seq)
            for p in points:
                entry = self._entries.get(p.trial)
                if entry is None:
                    continue
                entry.last_step = max(entry.last_step or 0, p.step)
                if p.metric == self.metric:
                    entry.values[p.step] = p.value

    def started(self, trial: Trial) -> None:
        """A trial was created or restarted: its curve starts afresh."""
        with self._lock:
            self._entries[trial.number] = _Entry(trial.asked_after)

    def finished(self, trial: Trial) -> None:
        with self._lock:
            entry = self._entries.setdefault(trial.number, _Entry(trial.asked_after))
            entry.state = trial.state

    def told(self, number: int, tell_seq: int) -> None:
        with self._lock:
            if number in self._entries:
                self._entries[number].tell_seq = tell_seq

    # -- what the evaluations report ----------------------------------------------------------
    def report(self, number: int, step: int, values: Mapping[str, float]) -> bool:
        """Store ``values`` of Trial#``number`` at ``step``; return whether to prune it."""
        self.store.add_curve_values(self.study_id, number, step, values)
        with self._lock:
            entry = self._entries.setdefault(number, _Entry(0))
            entry.last_step = step
            if self.metric not in values:
                return entry.pruned_at is not None
            entry.values[step] = values[self.metric]
            if entry.pruned_at is not None:
                return True  # the decision stands; later reports are stored, not judged
            others = self._others(number, entry)
            curve = {s: self.sign * v for s, v in entry.values.items()}
        if self.pruner.prune(curve, step, others):
            with self._lock:
                entry.pruned_at = step
            return True
        return False

    def _others(self, number: int, entry: _Entry) -> list[PastCurve]:
        chosen = []
        for n, other in self._entries.items():
            if n == number:
                continue
            told_before = other.tell_seq is not None and other.tell_seq < entry.asked_after
            if self.reproducible and not told_before:
                continue
            chosen.append(PastCurve(n, other.state,
                                    {s: self.sign * v for s, v in other.values.items()}))
        chosen.sort(key=lambda c: c.number)
        return chosen

    # -- recording a pruned trial -------------------------------------------------------------
    def pruned_result(self, number: int, result: Result) -> Result:
        """``result`` of a PRUNED trial with where it stopped: the last step it reported and
        its value of the pruned metric, in the reason and in ``info`` (``pruned_step``,
        ``pruned_value``, ``pruned_metric``, ``pruned_by``)."""
        if result.status is not Status.PRUNED:
            return result
        with self._lock:
            entry = self._entries.get(number)
            step = None if entry is None else entry.last_step
            value = None if entry is None or step is None else entry.values.get(step)
            decided = None if entry is None else entry.pruned_at
        if step is None:
            return result
        by = f"the {self.pruner.name} pruner" if decided is not None else "the evaluation"
        where = f"at step {step}" + (f" ({self.metric}={value:.4g})" if value is not None else "")
        reason = f"pruned by {by} {where}"
        if result.reason and result.reason != "pruned":
            reason += f": {result.reason}"
        info = {**result.info, "pruned_step": step, "pruned_value": value,
                "pruned_metric": self.metric, "pruned_by": self.pruner.name if decided is not None
                else "evaluation"}
        return dataclasses.replace(result, reason=reason, info=info)
