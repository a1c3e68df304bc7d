"""What the dashboard shows, read from the stores: plain JSON-able data, no web framework.

The dashboard's path is a study folder (it holds ``study.db``) or a root whose sub-folders are
studies; the root is scanned again on every listing, so studies started later appear. Each
store is opened read-only (:class:`~nasforge.store.sqlite.SQLiteStore` with ``read_only``):
through WAL a reader never blocks the study that writes, and a read sees the last committed
transaction, so a study being written while the dashboard reads is always shown whole.

The one write is a steering event (:func:`nasforge.run.steering.add_steering_event`), made with
a short-lived writable handle, checked against the study's space first.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasforge import references
from nasforge.errors import ConfigError, NasforgeError, Problem, StudyNotFoundError
from nasforge.objective import Objective, pareto_front
from nasforge.report.data import history, state_counts
from nasforge.run.spec import RunSpec, parse_spec
from nasforge.run.study import DB_NAME
from nasforge.store.base import Event
from nasforge.store.sqlite import SQLiteStore
from nasforge.trial import Trial, TrialState

log = logging.getLogger(__name__)

RECENT = 20
"""How many of the latest trials the page lists."""


def study_dbs(path: Path) -> list[Path]:
    """The study stores under ``path``: its own ``study.db``, else those of its sub-folders.

    Raises:
        ConfigError: ``path`` is not a folder.
    """
    if not path.is_dir():
        raise ConfigError([Problem("STUDY_DIR|ROOT", f"no such folder: {path}",
                                   "pass a study folder or the folder your studies are in")])
    own = path / DB_NAME
    return [own] if own.is_file() else sorted(path.glob(f"*/{DB_NAME}"))


@dataclass
class _Handle:
    store: SQLiteStore
    study_id: int
    spec: RunSpec
    space: Any  # the study's SearchSpace, built on first need (None: could not be built)
    space_error: str | None = None


class Studies:
    """The studies under one path, each read through a read-only store opened once.

    Thread-safe: the web server may call it from several threads.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        dbs = study_dbs(self.path)  # refuse a missing folder now, not on the first request
        if dbs == [self.path / DB_NAME]:  # one study: an unreadable store is an error now
            SQLiteStore(dbs[0], read_only=True).close()
        self._lock = threading.Lock()
        self._handles: dict[str, _Handle] = {}
        self._dirs: dict[str, Path] = {}
        self._unreadable: set[Path] = set()

    def _scan(self) -> None:
        for db in study_dbs(self.path):
            if db.parent in self._dirs.values():
                continue
            try:
                store = SQLiteStore(db, read_only=True)
            except NasforgeError as exc:  # not (yet) a readable store; listed once it is
                if db not in self._unreadable:
                    self._unreadable.add(db)
                    log.warning("the dashboard leaves out %s: %s", db, exc)
                continue
            for record in store.studies():
                try:
                    spec = parse_spec(record.spec, source=str(db), check=False)
                except NasforgeError as exc:  # e.g. written by a newer nasforge: left out
                    log.warning("the dashboard leaves out study %r: %s", record.name, exc)
                    continue
                self._handles[record.name] = _Handle(store, record.id, spec, None)
                self._dirs[record.name] = db.parent

    def names(self) -> list[str]:
        with self._lock:
            self._scan()
            return list(self._handles)

    def _handle(self, name: str) -> _Handle:
        with self._lock:
            if name not in self._handles:
                self._scan()
            handle = self._handles.get(name)
        if handle is None:
            raise StudyNotFoundError(f"no study named {name!r} under {self.path}")
        return handle

    def directory(self, name: str) -> Path:
        self._handle(name)
        return self._dirs[name]

    def close(self) -> None:
        with self._lock:
            for handle in self._handles.values():
                handle.store.close()
            self._handles.clear()
            self._dirs.clear()

    # -- the space, for human architecture forms and steering checks ------------------------
    def space(self, name: str) -> Any:
        """The study's search space (built once from its stored spec; no task is loaded).

        Building it imports the study's user code (a define-by-run space, a builder, plugins).

        Raises:
            ConfigError: the space cannot be built here (e.g. its plugin is not installed).
        """
        handle = self._handle(name)
        if handle.space is None and handle.space_error is None:
            from nasforge.run.steering import study_space

            try:
                handle.space = study_space(handle.spec, str(self._dirs[name]))
            except NasforgeError as exc:
                if references.deferring():  # refused for now, not for good: no error kept
                    raise
                handle.space_error = str(exc)
        if handle.space is None:
            raise ConfigError([Problem("space", f"the space of study {name!r} cannot be built "
                                       f"here: {handle.space_error}",
                                       "install what the study was run with")])
        return handle.space

    def _format(self, name: str, trial: Trial, *, import_user_code: bool) -> str:
        """The architecture's human form; its stored form where the space cannot be built,
        or where that would import user code and ``import_user_code`` is false."""
        try:
            with nullcontext() if import_user_code else references.user_imports_deferred():
                return str(self.space(name).format(trial.arch))
        except (NasforgeError, ValueError, KeyError, ImportError):
            return str(trial.arch)

    # -- JSON views ---------------------------------------------------------------------------
    def summary(self, name: str, *, import_user_code: bool = True) -> dict[str, Any]:
        """One study at a glance: status, progress against the budget, the best trial.

        With ``import_user_code`` false (the study list), a study whose space is user code not
        imported yet gives its best architecture in stored form: listing a folder of studies
        runs none of their code; opening one study runs its own.
        """
        handle = self._handle(name)
        record = next((r for r in handle.store.studies() if r.id == handle.study_id), None)
        if record is None:  # pragma: no cover - studies are never deleted from a store
            raise StudyNotFoundError(f"study {name!r} vanished from {self._dirs[name]}")
        spec = parse_spec(record.spec, source=name, check=False)  # a budget event changes it
        trials = handle.store.trials(handle.study_id)
        objectives = list(spec.objectives)
        best = _best(trials, objectives, spec)
        return {
            "name": record.name,
            "status": record.status,
            "directory": str(self._dirs[name]),
            "elapsed_s": record.elapsed_s,
            "n_trials": len(trials),
            "budget": spec.budget.model_dump(exclude_none=True),
            "counts": state_counts(trials),
            "objectives": [o.model_dump() for o in objectives],
            "best": None if best is None else self._trial_json(
                name, best, objectives, import_user_code=import_user_code),
        }

    def trials(self, name: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The study's trials, newest first (``limit`` of them)."""
        handle = self._handle(name)
        trials = handle.store.trials(handle.study_id)
        objectives = list(handle.spec.objectives)
        chosen = trials[::-1] if limit is None else trials[::-1][:limit]
        return [self._trial_json(name, t, objectives) for t in chosen]

    def _trial_json(self, name: str, trial: Trial, objectives: Sequence[Objective], *,
                    import_user_code: bool = True) -> dict[str, Any]:
        result = trial.result
        return {
            "number": trial.number,
            "state": trial.state.value,
            "source": getattr(trial.source, "value", "strategy"),
            "arch": self._format(name, trial, import_user_code=import_user_code),
            "arch_id": trial.arch.arch_id,
            "fidelity": trial.candidate.fidelity,
            "metrics": {k: _finite(v) for k, v in trial.metrics.items()},
            "value": _finite(trial.metrics.get(objectives[0].metric)) if objectives else None,
            "reason": result.reason if result is not None else None,
            "cost_s": result.cost_s if result is not None else None,
        }

    def trajectory(self, name: str) -> list[dict[str, Any]]:
        """Each finished trial's first-objective value and the best so far, in trial order."""
        handle = self._handle(name)
        spec = handle.spec
        points = history(handle.store.trials(handle.study_id), spec.objectives,
                         spec.constraints)
        return [{"number": p.number, "value": _finite(p.value), "best": _finite(p.best_so_far),
                 "state": p.state} for p in points]

    def front(self, name: str) -> dict[str, Any]:
        """The first two objectives of every COMPLETE trial and which of them are on the
        Pareto front of those two (one objective: no points)."""
        handle = self._handle(name)
        objectives = list(handle.spec.objectives)
        if len(objectives) < 2:
            return {"objectives": [o.metric for o in objectives], "points": []}
        pair = objectives[:2]
        done = [t for t in handle.store.trials(handle.study_id, states={TrialState.COMPLETE})
                if all(math.isfinite(t.metrics.get(o.metric, math.nan)) for o in pair)]
        on_front = set(pareto_front([[o.oriented(t.metrics) for o in pair] for t in done]))
        return {
            "objectives": [o.metric for o in pair],
            "points": [{"number": t.number, "x": t.metrics[pair[0].metric],
                        "y": t.metrics[pair[1].metric], "front": i in on_front}
                       for i, t in enumerate(done)],
        }

    def events(self, name: str) -> list[dict[str, Any]]:
        """Every steering event of the study, oldest first."""
        handle = self._handle(name)
        return [_event_json(e) for e in handle.store.events(handle.study_id)]

    # -- the one write ------------------------------------------------------------------------
    def add_event(self, name: str, kind: str, payload: Mapping[str, Any]) -> int:
        """Check and store a steering event for study ``name``; returns its id."""
        from nasforge.run.steering import add_steering_event

        handle = self._handle(name)
        space = self.space(name)
        writer = SQLiteStore(self._dirs[name] / DB_NAME)
        try:
            return add_steering_event(writer, handle.study_id, space, kind, payload)
        finally:
            writer.close()


def _finite(value: float | None) -> float | None:
    """JSON has no inf/nan: they become ``null``."""
    return value if value is not None and math.isfinite(value) else None


def _best(trials: Sequence[Trial], objectives: Sequence[Objective], spec: RunSpec
          ) -> Trial | None:
    from nasforge.objective import rank

    ranked = rank(trials, objectives, spec.constraints)
    return ranked[0] if ranked else None


def _event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind.value,
        "payload": dict(event.payload),
        "created_at": event.created_at,
        "handled": event.handled_at is not None,
        "applied_at": event.applied_at,
    }
