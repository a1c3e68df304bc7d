"""The in-memory store: for tests and throwaway runs; gone when the process ends.

It keeps the :class:`~nasforge.store.base.Store` contract exactly as the SQLite store does (the
same errors, order and values), so a test run on it says what a run on disk would do. Every
method but :meth:`~InMemoryStore.trials` and :meth:`~InMemoryStore.studies` is O(1): trials sit
in a dict per study keyed by number, the first COMPLETE trial of each (architecture, fidelity) in
a dict of its own, and pending events in a dict per study in id order.

Values go through JSON where SQLite's do (a study's spec, a result's ``info``, an event's
payload), so what is refused or changed on disk (a tuple read back as a list) is here too.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Container, Mapping
from typing import Any

from nasforge.architecture import Architecture
from nasforge.errors import DuplicateTrialError, NasforgeError
from nasforge.store.base import (
    CURVE_WHY,
    FINISH_WHY,
    RESTART_WHY,
    CurvePoint,
    Event,
    EventKind,
    Store,
    StudyRecord,
    checked_curve_values,
    checked_payload,
    require_running,
)
from nasforge.trial import Candidate, Result, Trial, TrialSource, TrialState


class _StudyData:
    """One study's trials and pending events."""

    __slots__ = ("complete", "curves", "events", "pending", "record", "trials")

    def __init__(self, record: StudyRecord) -> None:
        self.record = record
        self.trials: dict[int, Trial] = {}
        # (arch, fidelity) -> number of the lowest-numbered COMPLETE strategy trial
        self.complete: dict[tuple[Architecture, int | float | None], int] = {}
        self.pending: dict[int, Event] = {}  # event id -> event, in id order
        self.events: dict[int, Event] = {}  # every event, handled ones as acknowledged
        self.curves: dict[int, dict[int, dict[str, float]]] = {}  # number -> step -> values


class InMemoryStore(Store):
    """A :class:`Store` in plain dicts guarded by a lock: one process's own, lost when it ends.

    Example:
        >>> store = InMemoryStore()
        >>> sid = store.create_study("demo", {}, seed=0).id
        >>> trial = store.create_trial(sid, 0, Candidate(Architecture(op="conv")), asked_after=0)
        >>> store.finish_trial(sid, 0, Result(metrics={"val_acc": 0.9})).state.value
        'COMPLETE'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._studies: dict[int, _StudyData] = {}
        self._by_name: dict[str, int] = {}
        self._event_study: dict[int, int] = {}  # every event id ever added -> its study id

    def __repr__(self) -> str:
        return f"InMemoryStore({len(self._studies)} studies)"

    def _study(self, study_id: int) -> _StudyData:
        try:
            return self._studies[study_id]
        except KeyError:
            raise KeyError(f"no study with id {study_id} in {self!r}") from None

    def _trial(self, study_id: int, number: int) -> Trial:
        try:
            return self._study(study_id).trials[number]
        except KeyError:
            raise KeyError(f"study {study_id} has no Trial#{number} in {self!r}") from None

    # -- studies ----------------------------------------------------------------------------
    def create_study(self, name: str, spec: Mapping[str, Any], seed: int) -> StudyRecord:
        stored_spec = json.loads(json.dumps(spec, sort_keys=True))
        with self._lock:
            if name in self._by_name:
                raise NasforgeError(f"a study named {name!r} already exists in {self!r}")
            record = StudyRecord(
                id=len(self._studies) + 1,
                name=name,
                spec=stored_spec,
                seed=int(seed),
                status="created",
                created_at=time.time(),
                elapsed_s=0.0,
            )
            self._studies[record.id] = _StudyData(record)
            self._by_name[name] = record.id
            return record

    def get_study(self, name: str) -> StudyRecord | None:
        with self._lock:
            study_id = self._by_name.get(name)
            return None if study_id is None else self._studies[study_id].record

    def studies(self) -> list[StudyRecord]:
        with self._lock:
            return [data.record for data in self._studies.values()]

    def update_study(
        self,
        study_id: int,
        *,
        status: str | None = None,
        elapsed_s: float | None = None,
        spec: Mapping[str, Any] | None = None,
    ) -> None:
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = status
        if elapsed_s is not None:
            changes["elapsed_s"] = elapsed_s
        if spec is not None:
            changes["spec"] = json.loads(json.dumps(dict(spec), sort_keys=True))
        with self._lock:
            data = self._study(study_id)
            if changes:
                data.record = dataclasses.replace(data.record, **changes)

    # -- trials -----------------------------------------------------------------------------
    def create_trial(
        self,
        study_id: int,
        number: int,
        candidate: Candidate,
        *,
        asked_after: int,
        source: TrialSource | str = TrialSource.STRATEGY,
    ) -> Trial:
        checked = TrialSource(source)  # an unknown source raises ValueError
        with self._lock:
            data = self._study(study_id)
            if number in data.trials:
                raise DuplicateTrialError(
                    f"Trial#{number} already exists in study {data.record.name!r}; trial "
                    "numbers are unique within a study"
                )
            trial = Trial(
                study_id=study_id,
                number=number,
                candidate=candidate,
                state=TrialState.RUNNING,
                asked_after=asked_after,
                started_at=time.time(),
                source=checked,
            )
            data.trials[number] = trial
            return trial

    def restart_trial(self, study_id: int, number: int) -> Trial:
        with self._lock:
            trial = self._trial(study_id, number)
            require_running(trial.label, trial.state, RESTART_WHY)
            trial = dataclasses.replace(trial, attempts=trial.attempts + 1, started_at=time.time())
            self._studies[study_id].trials[number] = trial
            self._studies[study_id].curves.pop(number, None)  # the new attempt reports afresh
            return trial

    def finish_trial(self, study_id: int, number: int, result: Result) -> Trial:
        stored = Result(
            metrics=result.metrics,  # Result copies it
            status=result.status,
            reason=result.reason,
            cost_s=result.cost_s,
            info=json.loads(json.dumps(dict(result.info), default=str)),
        )
        state = TrialState.from_status(result.status)
        with self._lock:
            trial = self._trial(study_id, number)
            require_running(trial.label, trial.state, FINISH_WHY)
            trial = dataclasses.replace(trial, state=state, result=stored, finished_at=time.time())
            data = self._studies[study_id]
            data.trials[number] = trial
            if state is TrialState.COMPLETE and trial.is_search:
                key = (trial.arch, trial.candidate.fidelity)
                first = data.complete.get(key)
                if first is None or number < first:
                    data.complete[key] = number
            return trial

    def mark_told(self, study_id: int, number: int, tell_seq: int) -> None:
        with self._lock:
            trial = self._trial(study_id, number)
            self._studies[study_id].trials[number] = dataclasses.replace(trial, tell_seq=tell_seq)

    def trials(self, study_id: int, *, states: Container[TrialState] | None = None) -> list[Trial]:
        with self._lock:
            data = self._studies.get(study_id)
            if data is None:
                return []
            trials = list(data.trials.values())
        # Numbers are usually created in order, so this sort is a linear pass.
        trials.sort(key=lambda t: t.number)
        return trials if states is None else [t for t in trials if t.state in states]

    def find_complete(self, study_id: int, candidate: Candidate) -> Trial | None:
        with self._lock:
            data = self._studies.get(study_id)
            if data is None:
                return None
            number = data.complete.get((candidate.arch, candidate.fidelity))
            return None if number is None else data.trials[number]

    # -- learning curves --------------------------------------------------------------------
    def add_curve_values(
        self, study_id: int, number: int, step: int, values: Mapping[str, float]
    ) -> None:
        checked = checked_curve_values(step, values)
        with self._lock:
            trial = self._trial(study_id, number)
            require_running(trial.label, trial.state, CURVE_WHY)
            steps = self._studies[study_id].curves.setdefault(number, {})
            steps.setdefault(step, {}).update(checked)

    def curve(self, study_id: int, number: int) -> list[CurvePoint]:
        with self._lock:
            data = self._studies.get(study_id)
            steps = {} if data is None else data.curves.get(number, {})
            return _points(number, steps)

    def curves(self, study_id: int) -> list[CurvePoint]:
        with self._lock:
            data = self._studies.get(study_id)
            if data is None:
                return []
            return [p for n in sorted(data.curves) for p in _points(n, data.curves[n])]

    # -- events -----------------------------------------------------------------------------
    def add_event(
        self, study_id: int, kind: EventKind | str, payload: Mapping[str, Any] | None = None
    ) -> int:
        checked = EventKind(kind)  # an unknown kind raises UnknownEventError
        stored = json.loads(json.dumps(checked_payload(checked, payload)))
        with self._lock:
            data = self._study(study_id)
            event = Event(len(self._event_study) + 1, study_id, checked, stored, time.time())
            self._event_study[event.id] = study_id
            data.pending[event.id] = event
            data.events[event.id] = event
            return event.id

    def pending_events(self, study_id: int) -> list[Event]:
        with self._lock:
            data = self._studies.get(study_id)
            return [] if data is None else list(data.pending.values())

    def events(self, study_id: int) -> list[Event]:
        with self._lock:
            data = self._studies.get(study_id)
            return [] if data is None else list(data.events.values())

    def mark_event_handled(self, event_id: int, *, applied_at: int | None = None) -> None:
        with self._lock:
            study_id = self._event_study.get(event_id)
            if study_id is None:
                raise KeyError(f"no event with id {event_id} in {self!r}")
            data = self._studies[study_id]
            event = data.pending.pop(event_id, None)
            if event is not None:
                data.events[event_id] = dataclasses.replace(
                    event, handled_at=time.time(), applied_at=applied_at
                )


def _points(number: int, steps: Mapping[int, Mapping[str, float]]) -> list[CurvePoint]:
    return [
        CurvePoint(number, step, metric, steps[step][metric])
        for step in sorted(steps)
        for metric in sorted(steps[step])
    ]
