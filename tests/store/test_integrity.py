"""Store integrity: a second writer is refused, opening never blocks a running writer, and a
corrupt, truncated or foreign store file is a clear error through the CLI and the API."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nasforge.cli.main import main
from nasforge.errors import NasforgeError, StudyLockedError
from nasforge.run.spec import parse_spec
from nasforge.run.study import DB_NAME, Study
from nasforge.store.sqlite import SQLiteStore

TOY = {
    "name": "toy", "seed": 4, "task": "toy",
    "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
    "strategy": "random", "evaluator": "toy", "executor": "inline",
    "budget": {"trials": 4}, "export_best": False,
}


def make_study(root: Path) -> Path:
    study = Study.create(parse_spec({**TOY, "root": str(root)})).run()
    study.close()
    return root / "toy"


def test_opening_a_current_store_takes_no_write_lock(tmp_path: Path) -> None:
    # regression: opening ran BEGIN IMMEDIATE, so `show`/`report` queued behind a running
    # study's write (and made its next write wait); with a write held open it now opens at once
    db = make_study(tmp_path) / DB_NAME
    writer = sqlite3.connect(db, isolation_level=None, timeout=0.1)
    writer.execute("BEGIN IMMEDIATE")
    try:
        store = SQLiteStore(db)
        assert len(store.trials(store.studies()[0].id)) == 4
        store.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_second_writer_is_refused_naming_the_pid_and_changes_nothing(tmp_path: Path) -> None:
    directory = make_study(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from nasforge.run.lock import StudyLock\n"
         f"with StudyLock({str(directory)!r}):\n print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        study = Study.open(directory)
        study.spec = study.spec.model_copy(update={"budget": {"trials": 8}})
        before = study.trials()
        with pytest.raises(StudyLockedError, match=rf"already running \(pid {holder.pid}\)"):
            study.run()
        assert study.trials() == before  # nothing written by the refused run
        study.close()
        assert main(["resume", str(directory), "--no-progress"]) == 2
    finally:
        holder.kill()
        holder.wait()
    store = SQLiteStore(directory / DB_NAME)
    assert store._query("PRAGMA integrity_check") == [("ok",)]
    store.close()


def _garbage(db: Path, good: bytes) -> None:
    db.write_bytes(b"not an sqlite file " * 300)


def _truncated(db: Path, good: bytes) -> None:
    db.write_bytes(good[: len(good) // 2])


def _empty(db: Path, good: bytes) -> None:
    db.write_bytes(b"")


def _foreign(db: Path, good: bytes) -> None:
    db.unlink()
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE notes (body TEXT)")
    other.commit()
    other.close()


def _directory(db: Path, good: bytes) -> None:
    db.unlink()
    db.mkdir()


@pytest.mark.parametrize("damage", [_garbage, _truncated, _empty, _foreign, _directory])
def test_a_damaged_store_is_a_clear_error_through_every_entry_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path, bytes], None],
) -> None:
    directory = make_study(tmp_path)
    db = directory / DB_NAME
    good = db.read_bytes()
    damage(db, good)
    for command in (["show", str(directory)], ["resume", str(directory), "--no-progress"],
                    ["report", str(directory), "--no-pngs"],
                    ["export", str(directory), "--out", str(tmp_path / "out")]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert "Traceback" not in err and "study.db" in err, (command, err)
    with pytest.raises(NasforgeError, match=r"study\.db"):
        Study.open(directory)


def test_a_wal_from_another_store_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    # regression: SQLite replays any WAL beside a file; one copied from another study was read
    # silently by `show` (index rows missing) and folded into study.db when it closed
    mine = make_study(tmp_path / "mine") / DB_NAME
    Study.create(parse_spec({**TOY, "seed": 9, "budget": {"trials": 6},
                             "root": str(tmp_path / "other")})).run().close()
    other = tmp_path / "other" / "toy" / DB_NAME
    before = SQLiteStore(mine, read_only=True)
    (record,) = before.studies()
    trials = [(t.number, t.candidate.arch.to_dict()) for t in before.trials(record.id)]
    before.close()
    holder = sqlite3.connect(other)  # keeps the other store's WAL un-checkpointed
    try:
        holder.execute("PRAGMA wal_autocheckpoint=0")
        holder.execute("UPDATE trials SET state = state")
        holder.commit()
        wal = (other.parent / f"{DB_NAME}-wal").read_bytes()
        (mine.parent / f"{DB_NAME}-wal").write_bytes(wal)
    finally:
        holder.close()
    with pytest.raises(NasforgeError, match=r"do not fit together.*Nothing was changed"):
        Study.open(mine.parent)
    assert main(["show", str(mine.parent)]) == 2
    (mine.parent / f"{DB_NAME}-wal").unlink()  # what the message advises
    (mine.parent / f"{DB_NAME}-shm").unlink(missing_ok=True)
    after = SQLiteStore(mine, read_only=True)
    assert [(t.number, t.candidate.arch.to_dict()) for t in after.trials(record.id)] == trials
    assert after._conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    after.close()


def test_the_dashboard_and_open_study_name_a_damaged_store_and_keep_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import nasforge as nf
    from nasforge.report.dashboard._studies import Studies

    good = make_study(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / DB_NAME).write_bytes(b"not a database " * 300)
    with caplog.at_level("WARNING"):
        studies = Studies(tmp_path)
        try:
            assert studies.names() == [good.name]  # the broken one is left out, not a 500
            assert studies.summary(good.name)["n_trials"] == 4
        finally:
            studies.close()
    assert f"leaves out {bad / DB_NAME}" in caplog.text
    assert "not a usable nasforge store" in caplog.text
    with pytest.raises(NasforgeError, match=f"{bad / DB_NAME} is not a usable nasforge store"):
        nf.open_study(bad)
