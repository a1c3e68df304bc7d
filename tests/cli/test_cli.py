"""The `nasforge` command: exit codes, messages, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nasforge.cli.main import main
from nasforge.run.study import Study
from nasforge.trial import Result

TOY = {
    "name": "toy",
    "seed": 4,
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
    "strategy": {"name": "regularized_evolution", "population": 6, "sample": 3},
    "evaluator": "toy",
    "executor": "inline",
    "budget": {"trials": 8},
    "export_best": False,
}


def write(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**TOY, "root": str(tmp_path / "runs"), **changes}))
    return path


def test_search_show_ls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", str(write(tmp_path)), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "8 trials (8 complete)" in out and "study store:" in out
    assert main(["show", str(tmp_path / "runs" / "toy"), "--top", "3"]) == 0
    assert "top 3 of 8 trials" in capsys.readouterr().out
    assert main(["show", str(tmp_path / "runs" / "toy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trials"] == 8
    assert main(["ls", str(tmp_path / "runs")]) == 0
    assert "finished" in capsys.readouterr().out
    summary = json.loads((tmp_path / "runs" / "toy" / "summary.json").read_text())
    assert summary["best"]["metrics"]["val_accuracy"] > 0


@pytest.mark.parametrize(
    ("changes", "sets", "field"),
    [
        ({"budget": {"trials": 0}}, [], "budget.trials"),
        ({"strategy": {"name": "regularized_evolution", "populaton": 3}}, [],
         "strategy.populaton"),
        ({"space": {"name": "nope"}}, [], "space.name"),
        ({}, ["executor.workers=many"], "executor.workers"),
        ({}, ["budget"], "--set"),
        ({"name": "bad/name"}, [], "name"),
        ({"objectives": [{"metric": "val_accuracy", "direction": "up"}]}, [],
         "objectives.0.direction"),
    ],
)
def test_bad_config_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             changes: dict[str, object], sets: list[str],
                                             field: str) -> None:
    args = ["search", str(write(tmp_path, **changes)), "--no-progress"]
    for item in sets:
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert field in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing written for an invalid study


def test_bad_cli_usage_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["show", str(tmp_path)]) == 2
    assert "no study in" in capsys.readouterr().err
    assert main(["ls", str(tmp_path / "nowhere")]) == 2
    assert main(["frobnicate"]) == 2
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: [unclosed\n")
    assert main(["search", str(bad_yaml)]) == 2
    assert "not valid YAML at line" in capsys.readouterr().err


def test_resume_refuses_changes_that_break_replay(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", str(write(tmp_path)), "--no-progress"]) == 0
    study = str(tmp_path / "runs" / "toy")
    assert main(["resume", study, "--set", "space.n_options=3"]) == 2
    assert "cannot change on resume" in capsys.readouterr().err
    assert main(["resume", study, "--set", "budget.trials=12", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["show", study, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trials"] == 12


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("search", "resume", "ls", "show", "export", "components"):
        assert main([command, "--help"]) == 0
        assert "Example: nasforge" in capsys.readouterr().out


def _count(db: Path, state: str) -> int:
    try:
        with sqlite3.connect(db) as conn:
            query = "SELECT COUNT(*) FROM trials WHERE state=?"
            return int(conn.execute(query, (state,)).fetchone()[0])
    except sqlite3.OperationalError:  # the schema is being created
        return 0


@pytest.mark.integration
def test_resume_after_sigkill_loses_and_repeats_nothing(tmp_path: Path) -> None:
    """Kill a running search with SIGKILL, resume it, and compare with an uninterrupted run.

    ``reproducible`` makes the uninterrupted two-worker run comparable; resume is exact in the
    default arrival order too (tests/run/test_loop.py).
    """
    changes = {"executor": {"name": "process", "workers": 2}, "budget": {"trials": 16},
               "reproducible": True,
               "evaluator": {"name": "toy", "sleep": ["*"], "sleep_s": 0.3}}
    config = write(tmp_path, **changes)
    env = {**os.environ, "NASFORGE_PLUGINS": "nasforge.testing.toys"}
    cmd = [sys.executable, "-m", "nasforge", "search", str(config), "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    db = tmp_path / "runs" / "toy" / "study.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if db.exists() and _count(db, "COMPLETE") >= 5:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, as an OOM kill would
    proc.wait(30)
    complete_before = {
        row[0]: row[1] for row in sqlite3.connect(db).execute(
            "SELECT number, finished_at FROM trials WHERE state='COMPLETE'")
    }
    assert 5 <= len(complete_before) < 16
    resumed = subprocess.run([sys.executable, "-m", "nasforge", "resume", str(db.parent),
                              "--no-progress"], env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT number, arch, state, metrics, finished_at FROM trials "
                            "ORDER BY number").fetchall()
    assert [r[0] for r in rows] == list(range(16))
    assert all(r[2] == "COMPLETE" for r in rows)
    for number, finished_at in complete_before.items():  # never evaluated again
        assert rows[number][4] == finished_at
    # The same trials, with the same results, as a run that was never killed.
    straight = write(tmp_path, **changes, name="straight")
    assert main(["search", str(straight), "--no-progress"]) == 0
    with sqlite3.connect(tmp_path / "runs" / "straight" / "study.db") as conn:
        expected = conn.execute("SELECT number, arch, state, metrics FROM trials "
                                "ORDER BY number").fetchall()
    assert [r[:4] for r in rows] == expected


def test_a_study_with_no_completed_trial_exits_1_with_the_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, evaluator={"name": "toy", "fail": ["*"]}, budget={"trials": 3},
                   max_consecutive_failures=None)
    assert main(["search", str(config), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "no trial completed (3 finished)" in err
    assert "3× RuntimeError: toy failure scripted" in err and "Traceback" not in err


def test_the_failure_guard_exits_1_and_says_why(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, evaluator={"name": "toy", "fail": ["*"]}, budget={"trials": 50})
    assert main(["search", str(config), "--no-progress", "--set",
                 "max_consecutive_failures=4"]) == 1
    assert "stopped after 4 failed trials in a row" in capsys.readouterr().err


def test_resume_refuses_settings_that_made_the_trials_in_cli_syntax(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", str(write(tmp_path)), "--no-progress"]) == 0
    capsys.readouterr()
    study = str(tmp_path / "runs" / "toy")
    assert main(["resume", study, "--set", "seed=3", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--set: 'seed' cannot change on resume" in err and "budget.*" in err
    assert main(["resume", study, "--set", "budget.trials=11", "--no-progress"]) == 0
    assert "11 trials (11 complete)" in capsys.readouterr().out


PLUGIN = '''
from nasforge.space.base import SPACES
from nasforge.testing.toys import ToySpace


@SPACES.register("user_toy")
class UserToySpace(ToySpace):
    """A space registered by a user module, not by nasforge."""
'''


@pytest.mark.integration
def test_show_finds_a_space_from_a_user_module_without_the_env_var(tmp_path: Path) -> None:
    (tmp_path / "userplugin.py").write_text(PLUGIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    env.pop("NASFORGE_PLUGINS", None)
    run = write(tmp_path, space={"name": "user_toy", "n_decisions": 3, "n_options": 3})
    script = ("import sys, userplugin; from nasforge.cli.main import main; "
              f"sys.exit(main(['search', {str(run)!r}, '--no-progress']))")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    study = str(tmp_path / "runs" / "toy")
    shown = subprocess.run([sys.executable, "-m", "nasforge", "show", study], env=env,
                           capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "top 8 of 8 trials" in shown.stdout
    spec = yaml.safe_load((tmp_path / "runs" / "toy" / "spec.yaml").read_text())
    assert sorted(spec["plugins"]) == ["nasforge.testing.toys", "userplugin"]


@pytest.mark.parametrize("columns", ["60", "80", "200"])
def test_show_never_splits_a_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    # MLP decisions are long words (layers.0.activation=tanh) beside seven metric columns.
    config = write(tmp_path, task="digits", space="mlp", strategy="random",
                   evaluator={"name": "train", "epochs": 1}, budget={"trials": 3})
    assert main(["search", str(config), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["show", str(tmp_path / "runs" / "toy")]) == 0
    out = capsys.readouterr().out
    words = {w for line in out.splitlines() for w in line.replace("│", " ").split()}
    study = Study.open(tmp_path / "runs" / "toy")
    for trial in study.trials():
        for decision in study.parts.space.format(trial.arch).split():
            assert decision in words  # each decision=value printed whole


def test_show_prints_reasons_with_brackets_as_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", str(write(tmp_path)), "--no-progress"]) == 0
    study = Study.open(tmp_path / "runs" / "toy")
    candidate = study.trials()[0].candidate
    study.store.create_trial(study.record.id, 8, candidate, asked_after=8)
    study.store.finish_trial(study.record.id, 8, Result.failed("shape [batch, 3] closing [/] tag"))
    study.close()
    capsys.readouterr()
    assert main(["show", str(tmp_path / "runs" / "toy")]) == 0
    assert "shape [batch, 3] closing [/] tag" in capsys.readouterr().out.replace("\n", " ")
