"""The SQLite store: one file in WAL mode, one transaction per state change.

WAL lets readers (``nasforge show``, reports, the dashboard) read while a study writes. A study
killed with SIGKILL loses nothing that was committed: SQLite's journal makes each transaction
atomic, and the loop commits a trial's row before its evaluation starts and its result before the
strategy is told.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Container, Mapping
from pathlib import Path
from typing import Any

from nasforge.architecture import Architecture
from nasforge.errors import NasforgeError, TrialFinishedError
from nasforge.store.base import Event, Store, StudyRecord
from nasforge.trial import Candidate, Result, Status, Trial, TrialState

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'created',
    created_at REAL NOT NULL,
    elapsed_s REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL,
    arch TEXT NOT NULL,
    arch_id TEXT NOT NULL,
    fidelity INTEGER,
    state TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'strategy',
    metrics TEXT,
    status TEXT,
    reason TEXT,
    cost_s REAL,
    info TEXT,
    asked_after INTEGER NOT NULL,
    tell_seq INTEGER,
    attempts INTEGER NOT NULL DEFAULT 1,
    started_at REAL,
    finished_at REAL,
    UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS trials_by_arch ON trials (study_id, arch_id, fidelity);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    handled_at REAL
);
"""

_TRIAL_COLUMNS = (
    "study_id, number, arch, fidelity, state, metrics, status, reason, cost_s, info, "
    "asked_after, tell_seq, started_at, finished_at, source"
)


class StoreError(NasforgeError, RuntimeError):
    """The store file is unusable (not a nasforge store, or a newer schema)."""


class SQLiteStore(Store):
    """A :class:`Store` in one SQLite file (``":memory:"`` for a throwaway store).

    Safe to use from several threads of one process (a lock serialises access); several
    processes may read while one writes.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=30.0, check_same_thread=False, isolation_level=None
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            with self._transaction() as cur:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                row = cur.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if row is None:
                    cur.execute(
                        "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                elif int(row[0]) > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path} was written by a newer nasforge (schema {row[0]}, this one "
                        f"reads up to {SCHEMA_VERSION}); upgrade nasforge to open it"
                    )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable nasforge store: {exc}") from None

    # -- plumbing ---------------------------------------------------------------------------
    class _Tx:
        def __init__(self, store: SQLiteStore) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Cursor:
            self.store._lock.acquire()
            self.cur = self.store._conn.cursor()
            self.cur.execute("BEGIN IMMEDIATE")
            return self.cur

        def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
            try:
                self.cur.execute("COMMIT" if kind is None else "ROLLBACK")
            finally:
                self.cur.close()
                self.store._lock.release()

    def _transaction(self) -> SQLiteStore._Tx:
        return SQLiteStore._Tx(self)

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    @property
    def journal_mode(self) -> str:
        return str(self._query("PRAGMA journal_mode")[0][0])

    # -- studies ----------------------------------------------------------------------------
    @staticmethod
    def _study(row: tuple[Any, ...]) -> StudyRecord:
        return StudyRecord(
            id=row[0],
            name=row[1],
            spec=json.loads(row[2]),
            seed=row[3],
            status=row[4],
            created_at=row[5],
            elapsed_s=row[6],
        )

    _STUDY_COLUMNS = "id, name, spec, seed, status, created_at, elapsed_s"

    def create_study(self, name: str, spec: Mapping[str, Any], seed: int) -> StudyRecord:
        with self._transaction() as cur:
            if cur.execute("SELECT 1 FROM studies WHERE name=?", (name,)).fetchone():
                raise NasforgeError(f"a study named {name!r} already exists in {self.path}")
            cur.execute(
                "INSERT INTO studies (name, spec, seed, status, created_at) VALUES (?,?,?,?,?)",
                (name, json.dumps(spec, sort_keys=True), int(seed), "created", time.time()),
            )
        study = self.get_study(name)
        if study is None:  # pragma: no cover - just inserted
            raise StoreError(f"study {name!r} vanished after insert")
        return study

    def get_study(self, name: str) -> StudyRecord | None:
        rows = self._query(f"SELECT {self._STUDY_COLUMNS} FROM studies WHERE name=?", (name,))
        return self._study(rows[0]) if rows else None

    def studies(self) -> list[StudyRecord]:
        rows = self._query(f"SELECT {self._STUDY_COLUMNS} FROM studies ORDER BY id")
        return [self._study(r) for r in rows]

    def update_study(
        self,
        study_id: int,
        *,
        status: str | None = None,
        elapsed_s: float | None = None,
        spec: Mapping[str, Any] | None = None,
    ) -> None:
        with self._transaction() as cur:
            if status is not None:
                cur.execute("UPDATE studies SET status=? WHERE id=?", (status, study_id))
            if elapsed_s is not None:
                cur.execute("UPDATE studies SET elapsed_s=? WHERE id=?", (elapsed_s, study_id))
            if spec is not None:
                cur.execute(
                    "UPDATE studies SET spec=? WHERE id=?",
                    (json.dumps(dict(spec), sort_keys=True), study_id),
                )

    # -- trials -----------------------------------------------------------------------------
    @staticmethod
    def _trial(row: tuple[Any, ...]) -> Trial:
        (
            study_id,
            number,
            arch,
            fidelity,
            state,
            metrics,
            status,
            reason,
            cost_s,
            info,
            asked_after,
            tell_seq,
            started_at,
            finished_at,
            _source,
        ) = row
        result = None
        if metrics is not None or status is not None:
            result = Result(
                metrics=json.loads(metrics or "{}"),
                status=Status(status or "ok"),
                reason=reason,
                cost_s=cost_s or 0.0,
                info=json.loads(info or "{}"),
            )
        return Trial(
            study_id=study_id,
            number=number,
            candidate=Candidate(Architecture.parse(arch), fidelity),
            state=TrialState(state),
            result=result,
            asked_after=asked_after,
            tell_seq=tell_seq,
            started_at=started_at,
            finished_at=finished_at,
        )

    def _get_trial(self, cur: sqlite3.Cursor, study_id: int, number: int) -> Trial:
        row = cur.execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id=? AND number=?", (study_id, number)
        ).fetchone()
        if row is None:
            raise KeyError(f"study {study_id} has no Trial#{number}")
        return self._trial(row)

    def create_trial(
        self,
        study_id: int,
        number: int,
        candidate: Candidate,
        *,
        asked_after: int,
        source: str = "strategy",
    ) -> Trial:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO trials (study_id, number, arch, arch_id, fidelity, state, source, "
                "asked_after, started_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    study_id,
                    number,
                    str(candidate.arch),
                    candidate.arch.arch_id,
                    candidate.fidelity,
                    TrialState.RUNNING.value,
                    source,
                    asked_after,
                    time.time(),
                ),
            )
            return self._get_trial(cur, study_id, number)

    def restart_trial(self, study_id: int, number: int) -> Trial:
        with self._transaction() as cur:
            trial = self._get_trial(cur, study_id, number)
            if trial.state.is_finished():
                raise TrialFinishedError(f"{trial.label} is already {trial.state.value}")
            cur.execute(
                "UPDATE trials SET attempts=attempts+1, started_at=? WHERE study_id=? AND number=?",
                (time.time(), study_id, number),
            )
            return self._get_trial(cur, study_id, number)

    def finish_trial(self, study_id: int, number: int, result: Result) -> Trial:
        state = TrialState.from_status(result.status)
        with self._transaction() as cur:
            trial = self._get_trial(cur, study_id, number)
            if trial.state.is_finished():
                raise TrialFinishedError(
                    f"{trial.label} is already {trial.state.value}; finished trials are immutable"
                )
            cur.execute(
                "UPDATE trials SET state=?, metrics=?, status=?, reason=?, cost_s=?, info=?, "
                "finished_at=? WHERE study_id=? AND number=?",
                (
                    state.value,
                    json.dumps(dict(result.metrics)),
                    result.status.value,
                    result.reason,
                    result.cost_s,
                    json.dumps(dict(result.info), default=str),
                    time.time(),
                    study_id,
                    number,
                ),
            )
            return self._get_trial(cur, study_id, number)

    def mark_told(self, study_id: int, number: int, tell_seq: int) -> None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE trials SET tell_seq=? WHERE study_id=? AND number=?",
                (tell_seq, study_id, number),
            )

    def trials(self, study_id: int, *, states: Container[TrialState] | None = None) -> list[Trial]:
        rows = self._query(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id=? ORDER BY number", (study_id,)
        )
        trials = [self._trial(r) for r in rows]
        return trials if states is None else [t for t in trials if t.state in states]

    def trial_sources(self, study_id: int) -> dict[int, str]:
        """Who proposed each trial (``strategy`` or ``inject``), by number."""
        rows = self._query("SELECT number, source FROM trials WHERE study_id=?", (study_id,))
        return {int(n): str(s) for n, s in rows}

    def find_complete(self, study_id: int, candidate: Candidate) -> Trial | None:
        rows = self._query(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id=? AND arch_id=? AND "
            "fidelity IS ? AND state=? ORDER BY number LIMIT 1",
            (study_id, candidate.arch.arch_id, candidate.fidelity, TrialState.COMPLETE.value),
        )
        return self._trial(rows[0]) if rows else None

    # -- events -----------------------------------------------------------------------------
    def add_event(self, study_id: int, kind: str, payload: Mapping[str, Any] | None = None) -> int:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO events (study_id, kind, payload, created_at) VALUES (?,?,?,?)",
                (study_id, kind, json.dumps(dict(payload or {})), time.time()),
            )
            return int(cur.lastrowid or 0)

    def pending_events(self, study_id: int) -> list[Event]:
        rows = self._query(
            "SELECT id, study_id, kind, payload, created_at FROM events "
            "WHERE study_id=? AND handled_at IS NULL ORDER BY id",
            (study_id,),
        )
        return [Event(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def mark_event_handled(self, event_id: int) -> None:
        with self._transaction() as cur:
            cur.execute("UPDATE events SET handled_at=? WHERE id=?", (time.time(), event_id))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
