"""The chaos harness: its store checks catch what they claim to, and a small kill-and-resume run.

The full run (30 kills per executor, Ray, the one-shot study and a Ray node kill) is
``python benchmarks/chaos.py``; here 3 kills inline (about 15 s: five CLI start-ups) and, marked
slow, 2 on the process pool.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from nasforge.references import load_file

chaos = load_file(Path(__file__).parents[2] / "benchmarks" / "chaos.py")
pytestmark = pytest.mark.timeout(300)


def _row(number: int, **changes: Any) -> dict[str, Any]:
    row = {"number": number, "arch": f"d0={number}", "fidelity": None, "state": "COMPLETE",
           "source": "strategy", "metrics": {"val_accuracy": 50.0 + number}, "status": "ok",
           "reason": None, "info": {}, "asked_after": number, "tell_seq": number,
           "attempts": 1, "started_at": 10.0 + number, "finished_at": 10.5 + number}
    return {**row, **changes}


def _rows(n: int = 3) -> dict[int, dict[str, Any]]:
    return {i: _row(i) for i in range(n)}


def test_a_clean_history_passes_every_check() -> None:
    rows = _rows()
    assert chaos.lost_and_repeated(rows, copy.deepcopy(rows)) == ([], [])
    assert chaos.repeated_evaluations(rows) == []
    assert chaos.impossible_rows(rows, "finished", done=True) == []


def test_a_lost_or_re_evaluated_trial_is_counted() -> None:
    before = _rows()
    lost = {n: r for n, r in copy.deepcopy(before).items() if n != 1}
    assert len(chaos.lost_and_repeated(before, lost)[0]) == 1
    rerun = copy.deepcopy(before)
    rerun[2].update(state="RUNNING", metrics=None, finished_at=None, tell_seq=None)
    assert len(chaos.lost_and_repeated(before, rerun)[0]) == 1  # a finished trial reopened
    again = copy.deepcopy(before)
    again[0]["finished_at"] = 99.0
    assert chaos.lost_and_repeated(before, again) == ([], ["Trial#0 was finished again"])
    twice = {**before, 3: _row(3, arch="d0=1")}
    assert chaos.repeated_evaluations(twice) == ["Trial#3 evaluated d0=1 again (Trial#1)"]
    reused = {**before, 3: _row(3, arch="d0=1", info={"cached_from": 1})}
    assert chaos.repeated_evaluations(reused) == []


@pytest.mark.parametrize(
    ("changes", "done", "needle"),
    [
        ({"metrics": None}, False, "without a finite val_accuracy"),
        ({"metrics": {"val_accuracy": float("nan")}}, False, "without a finite val_accuracy"),
        ({"finished_at": 1.0}, False, "before started_at"),
        ({"state": "RUNNING"}, False, "RUNNING with a result"),
        ({"state": "RUNNING", "metrics": None, "finished_at": None, "tell_seq": None}, True,
         "RUNNING after the study finished"),
        ({"tell_seq": 0}, False, "tell order has repeats"),
        ({"state": "WEIRD"}, False, "unknown state"),
    ],
)
def test_an_impossible_row_is_named(changes: dict[str, Any], done: bool, needle: str) -> None:
    rows = _rows()
    rows[1].update(changes)
    assert any(needle in p for p in chaos.impossible_rows(rows, "finished", done=done))


def test_gaps_and_a_study_left_running_are_impossible() -> None:
    rows = _rows()
    del rows[1]
    rows[2]["tell_seq"] = 1
    assert chaos.impossible_rows(rows, "finished", done=False) == [
        "trial numbers have gaps: [0, 2]"]
    assert chaos.impossible_rows(_rows(), "running", done=True) == [
        "study status 'running' after it finished"]


def _small(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Fewer trials per round and shorter delays: the same harness, in seconds."""
    small = dataclasses.replace(chaos.SETTINGS[name], trials=8, max_delay_s=1.0)
    monkeypatch.setitem(chaos.SETTINGS, name, small)


@pytest.mark.integration
@pytest.mark.parametrize(("executor", "kills"), [
    pytest.param("inline", 3, id="inline"),
    pytest.param("process", 2, id="process", marks=pytest.mark.slow),  # ~20 s: spawns workers
])
def test_kill_and_resume_loses_and_repeats_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str, kills: int
) -> None:
    _small(monkeypatch, executor)
    out = tmp_path / "chaos.json"
    assert chaos.main(["--kills", str(kills), "--executors", executor, "--seed", "1",
                       "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    result = written["results"][executor]
    assert result["kills"] == kills == sum(result["phases"].values())
    assert result["lost"] == result["duplicated"] == result["impossible"] == 0
    assert not result["errors"]
    done, rounds = result["history_identical"].split("/")
    assert done == rounds and int(rounds) >= 1
    assert written["lost_or_duplicated"] == 0 and "load" in written
