"""A full disk or a read-only study folder during a search: the store stays consistent, the
search stops with one clear message (exit 2 from the CLI, ``StoreWriteError`` from the API), and
a resume completes the budget once space is back, with no completed trial lost or repeated.

The disks are real: a small tmpfs filled by the evaluator at a planned trial, and a loop-mounted
ext4 image that an ext4 error turns read-only under the running study (``tests/store/
disk_faults.py`` says why a plain remount cannot). Needs root and mount; skipped otherwise.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import nasforge as nf
from nasforge.run.spec import parse_spec
from nasforge.run.study import DB_NAME, Study
from nasforge.store.base import StoreWriteError
from tests.store import disk_faults as faults

pytestmark = pytest.mark.skipif(faults.mount_problem() is not None,
                                reason=faults.mount_problem() or "")

BUDGET = 8
AT = 3  # the trial whose evaluation breaks the disk


def toy_spec(root: Path, trials: int = BUDGET) -> dict[str, Any]:
    return {
        "name": "toy", "seed": 4, "task": "toy", "root": str(root),
        "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
        "strategy": "random", "evaluator": {"name": "function", "path": faults.FIT_PATH},
        "executor": "inline", "budget": {"trials": trials}, "export_best": False,
    }


def history(directory: Path) -> list[tuple[int, str, str, str | None]]:
    """(number, state, arch, metrics) of every stored trial: what a resume must not change."""
    conn = sqlite3.connect(directory / DB_NAME)
    try:
        return conn.execute("SELECT number, state, arch, metrics FROM trials ORDER BY number")\
            .fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, str, str, str | None]]:
    """The history of the same search never interrupted."""
    root = tmp_path_factory.mktemp("reference")
    Study.create(parse_spec(toy_spec(root))).run().close()
    found = history(root / "toy")
    assert [row[1] for row in found] == ["COMPLETE"] * BUDGET
    return found


def assert_consistent(directory: Path) -> list[tuple[Any, ...]]:
    """``PRAGMA integrity_check`` passes and no trial row is in an impossible state: numbers
    0..n-1, a RUNNING row has no result and was not told, a finished one has its result."""
    conn = sqlite3.connect(directory / DB_NAME)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute("SELECT number, state, status, metrics, finished_at, tell_seq "
                            "FROM trials ORDER BY number").fetchall()
    finally:
        conn.close()
    assert [r[0] for r in rows] == list(range(len(rows)))
    for number, state, status, metrics, finished_at, tell_seq in rows:
        if state == "RUNNING":
            assert (status, metrics, finished_at, tell_seq) == (None, None, None, None), number
        else:
            assert status is not None and finished_at is not None, number
    told = [r[5] for r in rows if r[5] is not None]
    assert sorted(told) == list(range(len(told)))
    return rows


def assert_resumed(directory: Path, reference: list[tuple[Any, ...]]) -> None:
    """The budget completed with the uninterrupted run's history; the broken trial ran twice."""
    assert_consistent(directory)
    assert history(directory) == reference
    conn = sqlite3.connect(directory / DB_NAME)
    attempts = dict(conn.execute("SELECT number, attempts FROM trials").fetchall())
    conn.close()
    assert attempts[AT] == 2 and sum(attempts.values()) == BUDGET + 1


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``nasforge ARGS`` in its own process (which closes every file when it ends, as a user's
    shell would, so the disk can be unmounted)."""
    entry = "import sys; from nasforge.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", entry, *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=300, check=False)


def clear_error(done: subprocess.CompletedProcess[str], pattern: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    text = " ".join(done.stderr.split())  # rich wraps long lines
    assert "Traceback" not in done.stderr and pattern in text, done.stderr
    return text


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with faults.tmpfs(tmp_path / "disk", size="8m") as disk:
        yield disk


@pytest.fixture()
def ext4_disk(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    image = tmp_path / "disk.img"
    with faults.ext4(image, tmp_path / "disk") as disk:
        yield image, disk


# -- a full disk ----------------------------------------------------------------------------
def test_a_disk_filling_up_mid_search_stops_it_cleanly_and_resume_completes(
    small_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    reference: list[tuple[Any, ...]],
) -> None:
    monkeypatch.setenv(faults.PLAN_ENV,
                       faults.plan(AT, "fill", small_disk, tmp_path / "filled"))
    with pytest.raises(StoreWriteError, match=r"disk full while writing .*study\.db: free space "
                       r"on that disk and resume the study \(`nasforge resume ") as caught:
        nf.search(**toy_spec(small_disk))
    assert caught.value.cause == "full"
    rows = assert_consistent(small_disk / "toy")
    assert [r[1] for r in rows] == ["COMPLETE"] * AT + ["RUNNING"]  # trial AT was rolled back
    (small_disk / faults.FILLER).unlink()
    nf.resume(small_disk / "toy").close()
    assert_resumed(small_disk / "toy", reference)


def test_the_cli_stops_on_a_full_disk_with_exit_2_and_resumes(
    small_disk: Path, tmp_path: Path, reference: list[tuple[Any, ...]],
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(toy_spec(small_disk)))
    env = {faults.PLAN_ENV: faults.plan(AT, "fill", small_disk, tmp_path / "filled")}
    clear_error(cli("search", str(spec), "--no-progress", env=env), "disk full while writing")
    assert len(assert_consistent(small_disk / "toy")) == AT + 1
    (small_disk / faults.FILLER).unlink()
    done = cli("resume", str(small_disk / "toy"), "--no-progress", env=env)
    assert done.returncode == 0, done.stderr
    assert_resumed(small_disk / "toy", reference)


def test_resuming_on_a_full_disk_is_a_clear_error_and_works_once_space_is_back(
    small_disk: Path, reference: list[tuple[Any, ...]],
) -> None:
    Study.create(parse_spec(toy_spec(small_disk, trials=AT))).run().close()
    before = history(small_disk / "toy")
    filler = faults.fill(small_disk)
    clear_error(cli("resume", str(small_disk / "toy"), "--no-progress", "--set",
                    f"budget.trials={BUDGET}"), "disk full while writing")
    # (even reading needs a few KB here: SQLite creates study.db-shm to open a WAL file)
    filler.unlink()
    assert_consistent(small_disk / "toy")
    assert history(small_disk / "toy") == before
    done = cli("resume", str(small_disk / "toy"), "--no-progress", "--set",
               f"budget.trials={BUDGET}")
    assert done.returncode == 0, done.stderr
    assert_consistent(small_disk / "toy")
    assert history(small_disk / "toy") == reference


def test_a_full_disk_while_writing_the_summary_and_report_is_a_clear_error(
    small_disk: Path,
) -> None:
    study = Study.create(parse_spec(toy_spec(small_disk, trials=AT))).run()
    filler = faults.fill(small_disk)
    try:
        with pytest.raises(StoreWriteError, match=r"disk full while writing .*toy"):
            study.finish()
    finally:
        study.close()
    filler.unlink()
    assert_consistent(small_disk / "toy")


# -- a read-only folder ---------------------------------------------------------------------
def test_a_disk_turning_read_only_mid_search_stops_it_cleanly_and_resume_completes(
    ext4_disk: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    reference: list[tuple[Any, ...]],
) -> None:
    image, disk = ext4_disk
    monkeypatch.setenv(faults.PLAN_ENV,
                       faults.plan(AT, "read-only", disk, tmp_path / "broke"))
    with pytest.raises(StoreWriteError, match=r"the study folder .*toy is read-only \(writing "
                       r".*study\.db failed\): make it writable again") as caught:
        nf.search(**toy_spec(disk))
    assert caught.value.cause == "read-only"
    rows = assert_consistent(disk / "toy")
    assert [r[1] for r in rows] == ["COMPLETE"] * AT + ["RUNNING"]
    # regression: with synchronous=NORMAL the repaired disk had lost the whole WAL ("holds no
    # study"): commits reached only the page cache, which the aborted ext4 journal dropped
    faults.repair_ext4(image, disk)
    assert_consistent(disk / "toy")
    nf.resume(disk / "toy").close()
    assert_resumed(disk / "toy", reference)


def test_the_cli_stops_on_a_read_only_disk_with_exit_2_and_resumes(
    ext4_disk: tuple[Path, Path], tmp_path: Path, reference: list[tuple[Any, ...]],
) -> None:
    image, disk = ext4_disk
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(toy_spec(disk)))
    env = {faults.PLAN_ENV: faults.plan(AT, "read-only", disk, tmp_path / "broke")}
    clear_error(cli("search", str(spec), "--no-progress", env=env), "is read-only")
    assert len(assert_consistent(disk / "toy")) == AT + 1
    faults.repair_ext4(image, disk)
    done = cli("resume", str(disk / "toy"), "--no-progress", env=env)
    assert done.returncode == 0, done.stderr
    assert_resumed(disk / "toy", reference)


def test_a_read_only_folder_at_start_is_refused_before_any_trial_and_reading_works(
    small_disk: Path, tmp_path: Path, reference: list[tuple[Any, ...]],
) -> None:
    Study.create(parse_spec(toy_spec(small_disk, trials=AT))).run().close()
    before = history(small_disk / "toy")
    spec = tmp_path / "other.yaml"
    spec.write_text(yaml.safe_dump({**toy_spec(small_disk), "name": "other"}))
    faults.remount(small_disk, "ro")
    try:
        clear_error(cli("resume", str(small_disk / "toy"), "--no-progress", "--set",
                        f"budget.trials={BUDGET}"), "is read-only")
        clear_error(cli("search", str(spec), "--no-progress"), "is read-only")
        with pytest.raises(StoreWriteError, match="is read-only"):
            nf.resume(small_disk / "toy", budget={"trials": BUDGET})
        shown = cli("show", str(small_disk / "toy"))
        assert shown.returncode == 0 and "top 3 of 3 trials" in shown.stdout, shown.stderr
        report = tmp_path / "report.html"
        done = cli("report", str(small_disk / "toy"), "--out", str(report), "--no-pngs")
        assert done.returncode == 0 and report.stat().st_size > 0, done.stderr
    finally:
        faults.remount(small_disk, "rw")
    assert_consistent(small_disk / "toy")
    assert history(small_disk / "toy") == before  # the refused runs wrote nothing
    assert not (small_disk / "other").exists()
    done = cli("resume", str(small_disk / "toy"), "--no-progress", "--set",
               f"budget.trials={BUDGET}")
    assert done.returncode == 0, done.stderr
    assert history(small_disk / "toy") == reference
