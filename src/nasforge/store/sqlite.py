"""The SQLite store: one file in WAL mode, one transaction per state change.

WAL lets readers (``nasforge show``, reports, the dashboard) read while a study writes. A study
killed with SIGKILL loses nothing that was committed: SQLite's journal makes each transaction
atomic, and the loop commits a trial's row before its evaluation starts and its result before the
strategy is told.

Every statement the loop runs once per trial is a lookup through an index, so its cost does not
grow with the study (schema version 2 added the indexes that version 1 lacked; opening a
version-1 file adds them). ``tests/store/test_sqlite.py`` checks the query plans.

Schema version 3 added the ``curves`` table: the intermediate values (trial, step, metric,
value) an evaluation reports while it runs, keyed by trial and step so that writing one step and
reading one trial's curve are index lookups. Opening a version-2 (or 1) file adds the table.

Schema version 4 changes no table: it marks files that may hold the INFEASIBLE trial state
(a candidate that broke a constraint before training). A nasforge that reads only version 3
cannot read that state, so it refuses such a file with "upgrade nasforge" rather than failing
on a row; opening a version-3 file just records the new version.

Schema version 6 adds ``events.applied_at``: the trial number from which a steering event took
effect, so a resume applies forbids, pins and injections at the same trials again. It also
marks files that may hold the steering kinds beyond ``stop``.

A store opened with ``read_only=True`` (the dashboard) uses a read-only connection: it never
takes a write lock, so it cannot slow the study that writes, and it refuses a file that needs an
upgrade (open it once normally, e.g. by resuming) rather than changing it.

A write that fails because the disk is full, the folder became read-only or the disk failed
(``SQLITE_FULL``, ``SQLITE_READONLY``, ``SQLITE_IOERR``) is rolled back and raised as
:class:`~nasforge.store.base.StoreWriteError` saying which and how to resume: the file holds
what it held before that transaction (``tests/store/test_full_disk.py`` fills a tmpfs and makes
an ext4 disk read-only under a running search).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Container, Mapping
from pathlib import Path
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
    StoreWriteError,
    StudyRecord,
    checked_curve_values,
    checked_payload,
    is_write_failure,
    probe_write,
    require_running,
    write_failure,
)
from nasforge.trial import Candidate, Result, Status, Trial, TrialSource, TrialState

log = logging.getLogger(__name__)

SCHEMA_VERSION = 6

# find_complete: every term an equality on the index prefix, and ORDER BY number read off the
# index. Without `state, number` here, SQLite walked the (study_id, number) index instead to
# avoid a sort: a scan of the whole study per call.
_TRIALS_BY_ARCH_STATE = (
    "CREATE INDEX IF NOT EXISTS trials_by_arch_state "
    "ON trials (study_id, arch_id, fidelity, state, number)"
)
_EVENTS_PENDING = "CREATE INDEX IF NOT EXISTS events_pending ON events (study_id, handled_at)"
_CURVES = """CREATE TABLE IF NOT EXISTS curves (
    study_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    step INTEGER NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (study_id, number, step, metric),
    FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
) WITHOUT ROWID"""

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'created',
    created_at REAL NOT NULL,
    elapsed_s REAL NOT NULL DEFAULT 0
);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL,
    arch TEXT NOT NULL,
    arch_id TEXT NOT NULL,
    fidelity INTEGER,
    state TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'strategy',  -- a TrialSource (used from version 5)
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
{_TRIALS_BY_ARCH_STATE};
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    handled_at REAL,
    applied_at INTEGER
);
{_EVENTS_PENDING};
{_CURVES};
"""

# The statements that bring a file from schema version N to N + 1 (run in the transaction that
# opens it, so a file is upgraded whole or not at all).
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("DROP INDEX IF EXISTS trials_by_arch", _TRIALS_BY_ARCH_STATE, _EVENTS_PENDING),
    2: (_CURVES,),
    3: (),  # the INFEASIBLE state: no table changes
    4: (),  # trial sources other than 'strategy' (retrain, oneshot): the column was always there
    5: ("ALTER TABLE events ADD COLUMN applied_at INTEGER",),
}

_TRIAL_COLUMNS = (
    "study_id, number, arch, fidelity, state, metrics, status, reason, cost_s, info, "
    "asked_after, tell_seq, started_at, finished_at, attempts, source"
)
_STATES = {s.value: s for s in TrialState}
_STATUSES = {s.value: s for s in Status}
_SOURCES = {s.value: s for s in TrialSource}
_KNOWN_KINDS = ", ".join(f"'{k.value}'" for k in EventKind)


def _has_added_column(cur: sqlite3.Cursor, statement: str) -> bool:
    """Whether ``statement`` is an ``ALTER TABLE t ADD COLUMN c`` whose column ``t`` already has
    (a file marked with an older version than its tables), so the upgrade skips it."""
    words = statement.split()
    if words[:2] != ["ALTER", "TABLE"] or words[3:5] != ["ADD", "COLUMN"]:
        return False
    return any(row[1] == words[5] for row in cur.execute(f"PRAGMA table_info({words[2]})"))


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def _loads_all(texts: list[str | None]) -> list[Any]:
    """Decode many JSON texts (``None`` for empty ones) in one call to the C decoder."""
    try:
        values = json.loads("[" + ",".join(t or "null" for t in texts) + "]")
    except json.JSONDecodeError:
        values = None
    if not isinstance(values, list) or len(values) != len(texts):
        # a cell that is not exactly one JSON value: decode one by one, to fail on that cell
        values = [_loads(t) for t in texts]
    return values


class StoreError(NasforgeError, RuntimeError):
    """The store file is unusable (not a nasforge store, or a newer schema)."""


class SQLiteStore(Store):
    """A :class:`Store` in one SQLite file (``":memory:"`` for a throwaway store).

    Safe to use from several threads of one process (a lock serialises access); several
    processes may read while one writes. Events of a kind this version does not know (written by
    a newer nasforge) stay in the file and are not returned by :meth:`pending_events`.
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._read_only_why = ""  # set when a writable open found a read-only disk
        self._lock = threading.RLock()
        try:
            if read_only:
                self._conn = _connect_read_only(Path(path))
                self._check_readable()
                return
            _check_left_wal(Path(self.path))
            self._conn = sqlite3.connect(
                self.path, timeout=30.0, check_same_thread=False, isolation_level=None
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: each commit is on the disk before the loop goes on (about 0.4 ms a commit,
            # a few ms a trial). With NORMAL, a disk error that turned the disk read-only (or a
            # power cut) lost every commit since the last checkpoint: a study's whole WAL.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            if not self._is_current():  # a new or older file: create or upgrade it
                with self._transaction() as cur:
                    self._open_schema(cur)
        except sqlite3.DatabaseError as exc:
            if is_write_failure(exc):  # a full or read-only disk, not a bad file
                failure = self._write_failure(exc)
                if failure.cause == "read-only" and self.path != ":memory:":
                    # `show` and `report` of a study on a read-only disk: read it read-only
                    self._conn.close()
                    self._open_read_only_instead(failure)
                    return
                if failure.cause != "io":
                    raise failure from None
            raise StoreError(f"{self.path} is not a usable nasforge store: {exc}") from None

    def _open_read_only_instead(self, failure: StoreWriteError) -> None:
        """Open a store on a read-only disk read-only (writes then raise ``failure``'s
        message); a file that this nasforge would have to upgrade raises ``failure``."""
        try:
            self._conn = _connect_read_only(Path(self.path))
            self._check_readable()
        except (sqlite3.DatabaseError, StoreError):
            raise failure from None
        self.read_only = True
        self._read_only_why = str(failure)
        log.info("%s is on a read-only disk: opened it read-only", self.path)

    def _write_failure(self, exc: BaseException) -> StoreWriteError:
        folder = Path(self.path).parent
        return write_failure(
            self.path, exc, resume=f"resume the study (`nasforge resume {folder}`); the store "
            "holds everything written before this write")

    def _is_current(self) -> bool:
        """Whether the file is a store of this schema version, read without a write lock: opening
        a running study's store (``nasforge show``, ``report``) must not queue behind its writes
        or make them wait."""
        cur = self._conn.cursor()
        try:
            return _stored_version(cur) == SCHEMA_VERSION
        finally:
            cur.close()

    def _check_readable(self) -> None:
        """A read-only store's check: a nasforge store of exactly this schema version."""
        version = _stored_version(self._conn.cursor())
        if version is None:
            raise StoreError(f"{self.path} is not a nasforge store (no schema version)")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer nasforge (schema {version}, this one "
                f"reads up to {SCHEMA_VERSION}); upgrade nasforge to open it"
            )
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema {version} and opening it read-only cannot upgrade it to "
                f"{SCHEMA_VERSION}; open it once with this nasforge (e.g. `nasforge show`)"
            )

    def _open_schema(self, cur: sqlite3.Cursor) -> None:
        """Create the schema in a new file, upgrade an old one, refuse a newer or foreign one."""
        tables = {r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            cur.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        version = _stored_version(cur)
        if version is None:
            raise StoreError(
                f"{self.path} is an SQLite file but not a nasforge store (it has tables "
                f"{', '.join(sorted(tables))} and no schema version); give the path of a "
                "study's store or a new file"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer nasforge (schema {version}, this one "
                f"reads up to {SCHEMA_VERSION}); upgrade nasforge to open it"
            )
        if version < SCHEMA_VERSION:
            for old in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[old]:
                    if not _has_added_column(cur, statement):
                        cur.execute(statement)
            cur.execute(
                "UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),)
            )
            log.info("upgraded %s from schema %d to %d", self.path, version, SCHEMA_VERSION)

    # -- plumbing ---------------------------------------------------------------------------
    class _Tx:
        def __init__(self, store: SQLiteStore) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Cursor:
            if self.store.read_only:
                if self.store._read_only_why:
                    raise StoreWriteError(self.store._read_only_why, path=self.store.path,
                                          cause="read-only")
                raise StoreError(f"{self.store.path} was opened read-only; it cannot be changed")
            self.store._lock.acquire()
            self.cur = self.store._conn.cursor()
            try:
                self.cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self.cur.close()
                self.store._lock.release()
                if is_write_failure(exc):
                    raise self.store._write_failure(exc) from None
                raise
            return self.cur

        def __exit__(
            self, kind: type[BaseException] | None, exc: BaseException | None, *_: Any
        ) -> None:
            failed = exc if exc is not None and is_write_failure(exc) else None
            try:
                if kind is None:
                    try:
                        self.cur.execute("COMMIT")
                    except sqlite3.Error as commit_error:
                        # A full disk usually shows here, when the WAL grows. SQLite may have
                        # rolled back already; otherwise roll back now, so nothing is half done.
                        self._rollback()
                        if not is_write_failure(commit_error):
                            raise
                        failed = commit_error
                else:
                    self._rollback()
            finally:
                self.cur.close()
                self.store._lock.release()
            if failed is not None:
                raise self.store._write_failure(failed) from None

        def _rollback(self) -> None:
            if self.store._conn.in_transaction:
                try:
                    self.cur.execute("ROLLBACK")
                except sqlite3.Error as exc:  # the journal undoes it when the file is next opened
                    log.warning("could not roll back a failed write of %s: %s",
                                self.store.path, exc)

    def _transaction(self) -> SQLiteStore._Tx:
        return SQLiteStore._Tx(self)

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    @property
    def journal_mode(self) -> str:
        return str(self._query("PRAGMA journal_mode")[0][0])

    @property
    def schema_version(self) -> int:
        """The schema version of the open file (:data:`SCHEMA_VERSION` once opened)."""
        return int(self._query("SELECT value FROM meta WHERE key='schema_version'")[0][0])

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
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = status
        if elapsed_s is not None:
            changes["elapsed_s"] = elapsed_s
        if spec is not None:
            changes["spec"] = json.dumps(dict(spec), sort_keys=True)
        with self._transaction() as cur:
            if changes:
                assignments = ", ".join(f"{column}=?" for column in changes)
                cur.execute(
                    f"UPDATE studies SET {assignments} WHERE id=?", (*changes.values(), study_id)
                )
                found = cur.rowcount > 0
            else:
                found = bool(
                    cur.execute("SELECT 1 FROM studies WHERE id=?", (study_id,)).fetchone()
                )
            if not found:
                raise KeyError(f"no study with id {study_id} in {self.path}")

    # -- trials -----------------------------------------------------------------------------
    @staticmethod
    def _trial(row: tuple[Any, ...], arch: Architecture, metrics: Any, info: Any) -> Trial:
        """A row of ``_TRIAL_COLUMNS`` as a Trial, given its decoded JSON columns."""
        (
            study_id,
            number,
            _arch,
            fidelity,
            state,
            _metrics,
            status,
            reason,
            cost_s,
            _info,
            asked_after,
            tell_seq,
            started_at,
            finished_at,
            attempts,
            source,
        ) = row
        result = None
        if _metrics is not None or status is not None:
            result = Result.restore(
                metrics=metrics or {},
                status=_STATUSES[status or "ok"],
                reason=reason,
                cost_s=cost_s or 0.0,
                info=info or {},
            )
        return Trial(
            study_id=study_id,
            number=number,
            candidate=Candidate(arch, fidelity),
            state=_STATES[state],
            result=result,
            asked_after=asked_after,
            tell_seq=tell_seq,
            started_at=started_at,
            finished_at=finished_at,
            attempts=attempts,
            source=_SOURCES[source],
        )

    @classmethod
    def _one_trial(cls, row: tuple[Any, ...]) -> Trial:
        return cls._trial(row, Architecture.parse(row[2]), _loads(row[5]), _loads(row[9]))

    @classmethod
    def _many_trials(cls, rows: list[tuple[Any, ...]]) -> list[Trial]:
        """Rows as Trials, decoding each JSON column of all rows at once and each distinct
        architecture once (a resume reads every row: per-value calls were most of its time)."""
        texts = list(dict.fromkeys(r[2] for r in rows))
        archs = {
            t: Architecture.from_canonical(t, d) if isinstance(d, dict) else Architecture.parse(t)
            for t, d in zip(texts, _loads_all(texts), strict=True)
        }
        metrics = _loads_all([r[5] for r in rows])
        infos = _loads_all([r[9] for r in rows])
        return [
            cls._trial(r, archs[r[2]], m, i) for r, m, i in zip(rows, metrics, infos, strict=True)
        ]

    def _get_trial(self, cur: sqlite3.Cursor, study_id: int, number: int) -> Trial:
        row = cur.execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id=? AND number=?", (study_id, number)
        ).fetchone()
        if row is None:
            raise KeyError(f"study {study_id} has no Trial#{number} in {self.path}")
        return self._one_trial(row)

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
        now = time.time()
        with self._transaction() as cur:
            try:
                cur.execute(
                    "INSERT INTO trials (study_id, number, arch, arch_id, fidelity, state, "
                    "asked_after, started_at, source) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        study_id,
                        number,
                        str(candidate.arch),
                        candidate.arch.arch_id,
                        candidate.fidelity,
                        TrialState.RUNNING.value,
                        asked_after,
                        now,
                        checked.value,
                    ),
                )
            except sqlite3.IntegrityError:
                # Say which constraint failed from the data, not from SQLite's message text.
                study = cur.execute("SELECT name FROM studies WHERE id=?", (study_id,)).fetchone()
                if study is None:
                    raise KeyError(f"no study with id {study_id} in {self.path}") from None
                if cur.execute(
                    "SELECT 1 FROM trials WHERE study_id=? AND number=?", (study_id, number)
                ).fetchone():
                    raise DuplicateTrialError(
                        f"Trial#{number} already exists in study {study[0]!r}; trial numbers "
                        "are unique within a study"
                    ) from None
                raise
        # Built from what was written rather than read back: equal to what trials() returns.
        return Trial(
            study_id=study_id,
            number=number,
            candidate=candidate,
            state=TrialState.RUNNING,
            asked_after=asked_after,
            started_at=now,
            source=checked,
        )

    def restart_trial(self, study_id: int, number: int) -> Trial:
        now = time.time()
        with self._transaction() as cur:
            trial = self._get_trial(cur, study_id, number)
            require_running(trial.label, trial.state, RESTART_WHY)
            cur.execute(
                "UPDATE trials SET attempts=attempts+1, started_at=? WHERE study_id=? AND number=?",
                (now, study_id, number),
            )
            # the new attempt reports its curve afresh
            cur.execute("DELETE FROM curves WHERE study_id=? AND number=?", (study_id, number))
        return dataclasses.replace(trial, attempts=trial.attempts + 1, started_at=now)

    def finish_trial(self, study_id: int, number: int, result: Result) -> Trial:
        state = TrialState.from_status(result.status)
        metrics = json.dumps(dict(result.metrics))
        info = json.dumps(dict(result.info), default=str)
        now = time.time()
        with self._transaction() as cur:
            trial = self._get_trial(cur, study_id, number)
            require_running(trial.label, trial.state, FINISH_WHY)
            cur.execute(
                "UPDATE trials SET state=?, metrics=?, status=?, reason=?, cost_s=?, info=?, "
                "finished_at=? WHERE study_id=? AND number=?",
                (
                    state.value,
                    metrics,
                    result.status.value,
                    result.reason,
                    result.cost_s,
                    info,
                    now,
                    study_id,
                    number,
                ),
            )
        stored = Result(
            metrics=result.metrics,
            status=result.status,
            reason=result.reason,
            cost_s=result.cost_s,
            info=json.loads(info),  # as it reads back: values that are not JSON became strings
        )
        return dataclasses.replace(trial, state=state, result=stored, finished_at=now)

    def mark_told(self, study_id: int, number: int, tell_seq: int) -> None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE trials SET tell_seq=? WHERE study_id=? AND number=?",
                (tell_seq, study_id, number),
            )
            if cur.rowcount == 0:
                raise KeyError(f"study {study_id} has no Trial#{number} in {self.path}")

    def trials(self, study_id: int, *, states: Container[TrialState] | None = None) -> list[Trial]:
        rows = self._query(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id=? ORDER BY number", (study_id,)
        )
        if states is not None:
            rows = [r for r in rows if _STATES[r[4]] in states]
        return self._many_trials(rows)

    def find_complete(self, study_id: int, candidate: Candidate) -> Trial | None:
        rows = self._query(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id=? AND arch_id=? AND "
            "fidelity IS ? AND state=? AND source IN (?, ?) ORDER BY number LIMIT 1",
            (study_id, candidate.arch.arch_id, candidate.fidelity, TrialState.COMPLETE.value,
             TrialSource.STRATEGY.value, TrialSource.INJECT.value),
        )
        return self._one_trial(rows[0]) if rows else None

    # -- learning curves --------------------------------------------------------------------
    def add_curve_values(
        self, study_id: int, number: int, step: int, values: Mapping[str, float]
    ) -> None:
        checked = checked_curve_values(step, values)
        with self._transaction() as cur:
            row = cur.execute(
                "SELECT state, arch_id FROM trials WHERE study_id=? AND number=?",
                (study_id, number),
            ).fetchone()
            if row is None:
                raise KeyError(f"study {study_id} has no Trial#{number} in {self.path}")
            require_running(f"Trial#{number} (arch_id={row[1][:8]}…)", _STATES[row[0]],
                            CURVE_WHY)
            cur.executemany(
                "INSERT OR REPLACE INTO curves (study_id, number, step, metric, value) "
                "VALUES (?,?,?,?,?)",
                [(study_id, number, step, metric, value) for metric, value in checked.items()],
            )

    def curve(self, study_id: int, number: int) -> list[CurvePoint]:
        rows = self._query(
            "SELECT number, step, metric, value FROM curves WHERE study_id=? AND number=? "
            "ORDER BY step, metric",
            (study_id, number),
        )
        return [CurvePoint(*r) for r in rows]

    def curves(self, study_id: int) -> list[CurvePoint]:
        rows = self._query(
            "SELECT number, step, metric, value FROM curves WHERE study_id=? "
            "ORDER BY number, step, metric",
            (study_id,),
        )
        return [CurvePoint(*r) for r in rows]

    # -- events -----------------------------------------------------------------------------
    def add_event(
        self, study_id: int, kind: EventKind | str, payload: Mapping[str, Any] | None = None
    ) -> int:
        checked = EventKind(kind)  # an unknown kind raises UnknownEventError
        data = json.dumps(checked_payload(checked, payload))
        with self._transaction() as cur:
            if not cur.execute("SELECT 1 FROM studies WHERE id=?", (study_id,)).fetchone():
                raise KeyError(f"no study with id {study_id} in {self.path}")
            cur.execute(
                "INSERT INTO events (study_id, kind, payload, created_at) VALUES (?,?,?,?)",
                (study_id, checked.value, data, time.time()),
            )
            return int(cur.lastrowid or 0)

    _EVENT_COLUMNS = "id, study_id, kind, payload, created_at, handled_at, applied_at"

    @staticmethod
    def _event(r: tuple[Any, ...]) -> Event:
        return Event(r[0], r[1], EventKind(r[2]), json.loads(r[3]), r[4], r[5], r[6])

    def pending_events(self, study_id: int) -> list[Event]:
        rows = self._query(
            f"SELECT {self._EVENT_COLUMNS} FROM events "
            f"WHERE study_id=? AND handled_at IS NULL AND kind IN ({_KNOWN_KINDS}) ORDER BY id",
            (study_id,),
        )
        return [self._event(r) for r in rows]

    def events(self, study_id: int) -> list[Event]:
        rows = self._query(
            f"SELECT {self._EVENT_COLUMNS} FROM events "
            f"WHERE study_id=? AND kind IN ({_KNOWN_KINDS}) ORDER BY id",
            (study_id,),
        )
        return [self._event(r) for r in rows]

    def mark_event_handled(self, event_id: int, *, applied_at: int | None = None) -> None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE events SET handled_at=?, applied_at=? WHERE id=? AND handled_at IS NULL",
                (time.time(), applied_at, event_id),
            )
            if (
                cur.rowcount == 0
                and not cur.execute("SELECT 1 FROM events WHERE id=?", (event_id,)).fetchone()
            ):
                raise KeyError(f"no event with id {event_id} in {self.path}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to ``path``.

    SQLite reads a WAL file read-only only if its ``-shm`` and ``-wal`` files exist or can be
    made. On a read-only disk after a clean close they do not, so a file with no WAL to replay is
    opened ``immutable`` there (nothing can change it while the disk is read-only); one whose
    ``-wal`` still holds commits is never read that way, which would skip them.
    """
    uri = path.absolute().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30.0, check_same_thread=False,
                           isolation_level=None)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        wal = Path(f"{path}-wal")
        has_wal = wal.exists() and wal.stat().st_size > 0
        if has_wal or not is_write_failure(exc) or probe_write(path) != errno.EROFS:
            raise
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=30.0,
                           check_same_thread=False, isolation_level=None)


def _check_left_wal(path: Path) -> None:
    """Refuse a store whose left-over ``-wal`` does not fit it, before a writable connection
    would fold that WAL into the file for good.

    SQLite cannot tell whose WAL a file is: one copied from another store beside ``study.db``
    (or a file restored without its WAL) is replayed onto the wrong pages, and `show` read the
    mix without a word (tested: four index rows missing). A WAL is left by a killed or running
    study, so the check, a full ``integrity_check`` on a read-only connection (which never
    checkpoints), runs only then.
    """
    wal = Path(f"{path}-wal")
    if not path.is_file() or not wal.is_file() or wal.stat().st_size == 0:
        return
    try:
        conn = _connect_read_only(path)
    except sqlite3.DatabaseError:
        return  # not readable read-only (a read-only disk, a bad file): the open says why
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    finally:
        conn.close()
    if problems != ["ok"]:
        raise StoreError(
            f"{path} and its {wal.name} do not fit together ({'; '.join(problems)}): the WAL is "
            f"from another store or one of the files is damaged. Nothing was changed. Move "
            f"{wal.name} (and {path.name}-shm) aside to open the last checkpointed state, or "
            "restore the study folder from a backup")


def _stored_version(cur: sqlite3.Cursor) -> int | None:
    """The schema version a file records, or ``None`` when it has none (not a nasforge store)."""
    if not cur.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
        return None
    row = cur.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return None if row is None else int(row[0])
