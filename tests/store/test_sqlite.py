"""What only the SQLite store does: WAL, files, processes, schema versions, query plans.

The behaviour every store shares is in ``test_store_contract.py``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import re
import sqlite3
from pathlib import Path

import pytest

from nasforge.architecture import Architecture
from nasforge.store.base import EventKind
from nasforge.store.sqlite import SCHEMA_VERSION, SQLiteStore, StoreError
from nasforge.trial import Candidate, Result, Status, TrialState

# The schema nasforge wrote as version 1, verbatim: the migration tests start from it.
_SCHEMA_V1 = """
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
INSERT INTO meta VALUES ('schema_version', '1');
"""


def _arch(n: int) -> Architecture:
    return Architecture(a=n, op="conv")


def _write_v1_store(path: Path) -> None:
    """A study as version 1 wrote it: one COMPLETE trial, one RUNNING (restarted once), a stop."""
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA_V1)
        conn.execute(
            "INSERT INTO studies (name, spec, seed, status, created_at, elapsed_s) "
            "VALUES ('old', ?, 7, 'interrupted', 1.0, 30.5)",
            (json.dumps({"seed": 7}),),
        )
        rows = [
            (0, _arch(0), "COMPLETE", json.dumps({"val_accuracy": 0.5}), "ok", 0, 1),
            (1, _arch(1), "RUNNING", None, None, None, 2),
        ]
        for number, arch, state, metrics, status, tell_seq, attempts in rows:
            conn.execute(
                "INSERT INTO trials (study_id, number, arch, arch_id, fidelity, state, metrics, "
                "status, cost_s, info, asked_after, tell_seq, attempts, started_at, finished_at) "
                "VALUES (1, ?, ?, ?, 4, ?, ?, ?, 1.5, '{}', 0, ?, ?, 2.0, ?)",
                (
                    number,
                    str(arch),
                    arch.arch_id,
                    state,
                    metrics,
                    status,
                    tell_seq,
                    attempts,
                    3.0 if metrics else None,
                ),
            )
        conn.execute(
            "INSERT INTO events (study_id, kind, payload, created_at) VALUES (1, 'stop', '{}', 4.0)"
        )


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='index'").fetchall()
    return {r[0] for r in rows if not r[0].startswith("sqlite_autoindex")}


def test_file_store_uses_wal(tmp_path: Path) -> None:
    assert SQLiteStore(tmp_path / "s.db").journal_mode == "wal"


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    sid = store.create_study("s", {"x": 1}, seed=1).id
    store.create_trial(sid, 0, Candidate(Architecture(a=1)), asked_after=0)
    store.restart_trial(sid, 0)
    store.finish_trial(sid, 0, Result(metrics={"val_accuracy": 3.0}))
    store.add_event(sid, EventKind.STOP)
    before = store.trials(sid)
    store.close()
    again = SQLiteStore(path)
    assert again.trials(sid) == before
    assert again.trials(sid)[0].attempts == 2
    assert [e.kind for e in again.pending_events(sid)] == [EventKind.STOP]


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable nasforge store"):
        SQLiteStore(path)


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match=r"not a nasforge store .* customers"):
        SQLiteStore(path)
    assert _indexes(path) == set()  # nothing was added to it


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=f"newer nasforge \\(schema {SCHEMA_VERSION + 1}"):
        SQLiteStore(path)


def test_version_1_file_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _write_v1_store(path)
    assert _indexes(path) == {"trials_by_arch"}
    store = SQLiteStore(path)
    assert store.schema_version == SCHEMA_VERSION == 6
    assert _indexes(path) == {"trials_by_arch_state", "events_pending"}
    study = store.get_study("old")
    assert study is not None and (study.seed, study.elapsed_s) == (7, 30.5)
    done, running = store.trials(study.id)
    assert (done.state, done.metrics, done.tell_seq, done.attempts) == (
        TrialState.COMPLETE,
        {"val_accuracy": 0.5},
        0,
        1,
    )
    assert (running.state, running.attempts) == (TrialState.RUNNING, 2)
    assert store.find_complete(study.id, Candidate(_arch(0), 4)) == done
    assert [e.kind for e in store.pending_events(study.id)] == [EventKind.STOP]
    assert store.restart_trial(study.id, 1).attempts == 3
    store.create_trial(study.id, 2, Candidate(_arch(2), 4), asked_after=1)
    store.close()
    again = SQLiteStore(path)  # opening an upgraded file changes nothing
    assert again.schema_version == SCHEMA_VERSION
    assert [t.attempts for t in again.trials(study.id)] == [1, 3, 1]


# Version 2 as nasforge wrote it: version 1 with the two indexes, and no curves table.
_SCHEMA_V2 = (
    _SCHEMA_V1.replace(
        "CREATE INDEX IF NOT EXISTS trials_by_arch ON trials (study_id, arch_id, fidelity);",
        "CREATE INDEX IF NOT EXISTS trials_by_arch_state "
        "ON trials (study_id, arch_id, fidelity, state, number);",
    )
    .replace(
        "INSERT INTO meta VALUES ('schema_version', '1');",
        "CREATE INDEX IF NOT EXISTS events_pending ON events (study_id, handled_at);\n"
        "INSERT INTO meta VALUES ('schema_version', '2');",
    )
)


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    return {r[0] for r in rows}


def test_version_2_file_gets_the_curves_table(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA_V2)
        conn.execute(
            "INSERT INTO studies (name, spec, seed, created_at) VALUES ('old', '{}', 1, 1.0)"
        )
        conn.execute(
            "INSERT INTO trials (study_id, number, arch, arch_id, state, asked_after) "
            "VALUES (1, 0, ?, ?, 'RUNNING', 0)",
            (str(_arch(0)), _arch(0).arch_id),
        )
    assert "curves" not in _tables(path)
    store = SQLiteStore(path)
    assert store.schema_version == SCHEMA_VERSION == 6
    assert "curves" in _tables(path)
    assert _indexes(path) == {"trials_by_arch_state", "events_pending"}
    assert store.curve(1, 0) == []
    store.add_curve_values(1, 0, 0, {"val_accuracy": 12.5})
    store.restart_trial(1, 0)
    store.add_curve_values(1, 0, 0, {"val_accuracy": 13.5})
    store.close()
    again = SQLiteStore(path)
    assert [tuple(p) for p in again.curves(1)] == [(0, 0, "val_accuracy", 13.5)]
    assert [t.attempts for t in again.trials(1)] == [2]


def test_events_of_unknown_kinds_in_the_file_are_not_returned(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    sid = store.create_study("s", {}, seed=0).id
    with sqlite3.connect(path) as conn:  # as a newer nasforge with more kinds would write it
        conn.execute(
            "INSERT INTO events (study_id, kind, payload, created_at) VALUES (?, 'warp', '{}', 0)",
            (sid,),
        )
    stop = store.add_event(sid, EventKind.STOP)
    assert [e.id for e in store.pending_events(sid)] == [stop]


@pytest.mark.parametrize("origin", ["new", "upgraded"])
def test_per_trial_statements_use_an_index(tmp_path: Path, origin: str) -> None:
    """The per-trial calls never scan a table or sort, so their cost does not grow with it."""
    path = tmp_path / "s.db"
    if origin == "upgraded":
        _write_v1_store(path)
    store = SQLiteStore(path)
    sid = store.create_study("s", {}, seed=0).id
    for n in range(20):
        store.create_trial(sid, n, Candidate(_arch(n % 3), 4), asked_after=n)
        store.finish_trial(sid, n, Result(metrics={"val_accuracy": float(n)}))
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    candidate = Candidate(_arch(1), 4)
    store.create_trial(sid, 20, candidate, asked_after=20)
    store.find_complete(sid, candidate)
    store.find_complete(sid, Candidate(_arch(1), None))
    store.finish_trial(sid, 20, Result(metrics={"val_accuracy": 1.0}))
    store.mark_told(sid, 20, 0)
    store.update_study(sid, elapsed_s=1.0)
    store.create_trial(sid, 21, candidate, asked_after=20)
    store.restart_trial(sid, 21)
    store.add_curve_values(sid, 21, 0, {"val_accuracy": 1.0, "loss": 2.0})
    store.curve(sid, 21)
    event = store.add_event(sid, EventKind.STOP)
    store.pending_events(sid)
    store.mark_event_handled(event)
    store._conn.set_trace_callback(None)
    queries = [s for s in statements if s.split()[0] in ("SELECT", "UPDATE", "DELETE", "INSERT")
               and "VALUES" not in s]
    assert len(queries) >= 8
    with sqlite3.connect(path) as conn:
        for sql in queries:
            plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SCAN" not in plan and "TEMP B-TREE" not in plan, (sql, plan)
            # a search on study_id alone walks all of a study's rows
            assert not re.search(r"INDEX \S+ \(study_id=\?\)", plan), (sql, plan)
            if "arch_id=" in sql:
                assert "trials_by_arch_state" in plan, (sql, plan)


def _write_trials(path: str, start: int) -> None:
    store = SQLiteStore(path)
    sid = store.get_study("s").id  # type: ignore[union-attr]
    for n in range(start, start + 20):
        store.create_trial(sid, n, Candidate(Architecture(a=n)), asked_after=0)
        store.finish_trial(sid, n, Result(metrics={"val_accuracy": float(n)}))


def test_two_processes_write_without_losing_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    SQLiteStore(path).create_study("s", {}, seed=0)
    procs = [
        mp.get_context("spawn").Process(target=_write_trials, args=(path, s)) for s in (0, 100)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    store = SQLiteStore(path)
    assert len(store.trials(1)) == 40


def test_version_3_file_is_marked_as_one_that_may_hold_infeasible_trials(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    store = SQLiteStore(path)
    sid = store.create_study("old", {}, seed=0).id
    store.create_trial(sid, 0, Candidate(_arch(0), 4), asked_after=0)
    store.close()
    with sqlite3.connect(path) as conn:  # as a version-3 nasforge left it
        conn.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    store = SQLiteStore(path)
    assert store.schema_version == SCHEMA_VERSION == 6
    infeasible = Result(metrics={"params": 9.0}, status=Status.INFEASIBLE, reason="params <= 1")
    store.finish_trial(sid, 0, infeasible)
    store.close()
    (trial,) = SQLiteStore(path).trials(sid)
    assert (trial.state, trial.violation) == (TrialState.INFEASIBLE, "params <= 1")


def test_version_4_file_reads_every_trial_as_a_strategy_trial(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    store = SQLiteStore(path)
    sid = store.create_study("old", {}, seed=0).id
    store.create_trial(sid, 0, Candidate(_arch(0), 4), asked_after=0)
    store.close()
    with sqlite3.connect(path) as conn:  # as a version-4 nasforge left it
        conn.execute("UPDATE meta SET value='4' WHERE key='schema_version'")
    store = SQLiteStore(path)
    assert store.schema_version == SCHEMA_VERSION == 6
    store.create_trial(sid, 1, Candidate(_arch(1), 4), asked_after=0, source="retrain")
    store.close()
    sources = [t.source.value for t in SQLiteStore(path).trials(sid)]
    assert sources == ["strategy", "retrain"]


def test_version_5_file_gets_the_applied_at_column(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    store = SQLiteStore(path)
    sid = store.create_study("old", {}, seed=0).id
    stop = store.add_event(sid, "stop")
    store.close()
    with sqlite3.connect(path) as conn:  # as a version-5 nasforge left it
        conn.execute("ALTER TABLE events DROP COLUMN applied_at")
        conn.execute("UPDATE meta SET value='5' WHERE key='schema_version'")
    with pytest.raises(StoreError, match="schema 5 and opening it read-only cannot upgrade"):
        SQLiteStore(path, read_only=True)
    store = SQLiteStore(path)
    assert store.schema_version == SCHEMA_VERSION == 6
    store.mark_event_handled(stop, applied_at=3)
    store.close()
    assert [e.applied_at for e in SQLiteStore(path).events(sid)] == [3]


def test_a_read_only_store_reads_while_another_writes_and_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    writer = SQLiteStore(path)
    sid = writer.create_study("s", {}, seed=0).id
    reader = SQLiteStore(path, read_only=True)
    writer.create_trial(sid, 0, Candidate(_arch(0)), asked_after=0)
    with writer._transaction():  # the writer holds its write lock: reading still works
        assert [t.number for t in reader.trials(sid)] == [0]
    with pytest.raises(StoreError, match="opened read-only; it cannot be changed"):
        reader.add_event(sid, "stop")
    writer.add_event(sid, "stop")  # the reader took no lock
    assert [e.kind.value for e in reader.pending_events(sid)] == ["stop"]
    with pytest.raises(StoreError, match="not a usable nasforge store"):
        SQLiteStore(tmp_path / "missing.db", read_only=True)
