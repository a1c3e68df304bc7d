from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from nasforge.architecture import Architecture
from nasforge.store.sqlite import SQLiteStore, StoreError
from nasforge.testing.store_contract import StoreContract
from nasforge.trial import Candidate, Result


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SQLiteStore:
    path = tmp_path / "study.db" if request.param == "file" else ":memory:"
    return SQLiteStore(path)


class TestSQLiteStore(StoreContract):
    pass


def test_file_store_uses_wal(tmp_path: Path) -> None:
    assert SQLiteStore(tmp_path / "s.db").journal_mode == "wal"


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    sid = store.create_study("s", {"x": 1}, seed=1).id
    store.create_trial(sid, 0, Candidate(Architecture(a=1)), asked_after=0)
    store.finish_trial(sid, 0, Result(metrics={"val_accuracy": 3.0}))
    store.close()
    again = SQLiteStore(path)
    assert again.trials(sid)[0].metrics == {"val_accuracy": 3.0}


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable nasforge store"):
        SQLiteStore(path)


def _write_trials(path: str, start: int) -> None:
    store = SQLiteStore(path)
    sid = store.get_study("s").id  # type: ignore[union-attr]
    for n in range(start, start + 20):
        store.create_trial(sid, n, Candidate(Architecture(a=n)), asked_after=0)
        store.finish_trial(sid, n, Result(metrics={"val_accuracy": float(n)}))


def test_two_processes_write_without_losing_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    SQLiteStore(path).create_study("s", {}, seed=0)
    procs = [mp.get_context("spawn").Process(target=_write_trials, args=(path, s))
             for s in (0, 100)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    store = SQLiteStore(path)
    assert len(store.trials(1)) == 40
