"""``nasforge show`` lists the Pareto front, its hypervolume and the infeasible trials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nasforge.testing.toys  # noqa: F401  (registers the toy parts)
from nasforge.cli.main import main
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.trial import TrialState


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    spec = parse_spec({
        "name": "mo", "root": str(tmp_path), "task": "toy",
        "space": {"name": "toy", "n_decisions": 2, "n_options": 4},
        # constraint_aware off: the front must be shown beside INFEASIBLE trials
        "strategy": {"name": "random", "constraint_aware": False}, "evaluator": "toy",
        "executor": "inline",
        "budget": {"trials": 12}, "export_best": False, "seed": 1,
        "objectives": [{"metric": "val_accuracy"}, {"metric": "params", "direction": "min"}],
        "constraints": ["params <= 100", "test_accuracy <= 90"],  # the second never breaks
        "hypervolume_reference": {"val_accuracy": 0, "params": 100},
    })
    study = Study.create(spec)
    study.run()
    study.close()
    return tmp_path / "mo"


def test_show_lists_the_front_with_its_hypervolume(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = Study.open(study_dir)
    front = study.best_trials()
    hv = study.hypervolume()
    trials = study.trials()
    study.close()
    assert front and hv is not None
    assert any(t.state is TrialState.INFEASIBLE for t in trials)
    assert main(["show", str(study_dir)]) == 0
    out = capsys.readouterr().out
    assert "params <= 100, test_accuracy <= 90" in out  # the constraints in the title
    assert f"Pareto front: {len(front)} trial" in out
    assert "hypervolume " in out and "val_accuracy=0 from hypervolume_reference" in out
    assert "params=100 from hypervolume_reference" in out
    section = out.split("not completed, or infeasible")[1]
    rows = [line for line in section.splitlines() if "breaks" in line]
    assert len(rows) == sum(t.violation is not None for t in trials)
    assert all("INFEASIBLE" in row and "breaks params <= 100" in row for row in rows)


def test_the_end_of_a_cli_search_states_the_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mo.yaml"
    config.write_text(
        f"name: mo\nroot: {tmp_path / 'runs'}\ntask: toy\nevaluator: toy\nstrategy: random\n"
        "space: {name: toy, n_decisions: 2, n_options: 4}\nexecutor: inline\n"
        "budget: {trials: 8}\nexport_best: false\n"
        "objectives: [{metric: val_accuracy}, {metric: params, direction: min}]\n"
        "hypervolume_reference: {val_accuracy: 0, params: 200}\n")
    assert main(["search", str(config)]) == 0
    out = capsys.readouterr().out.replace("\n", "")  # rich wraps long lines
    study = Study.open(tmp_path / "runs" / "mo")
    n_front = len(study.best_trials())
    study.close()
    assert n_front >= 1  # params comes from the cheap metrics: the toy evaluator lacks it
    assert f"Pareto front: {n_front} trial" in out
    assert "(reference point val_accuracy=0, params=200)" in out
    assert f"nasforge show {tmp_path / 'runs' / 'mo'}" in out


def test_show_json_holds_the_front(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(study_dir), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    study = Study.open(study_dir)
    front = study.best_trials()
    hv = study.hypervolume()
    study.close()
    assert hv is not None
    assert [row["number"] for row in data["pareto_front"]] == [t.number for t in front]
    assert data["hypervolume"]["value"] == pytest.approx(hv[0])
    assert data["hypervolume"]["reference"] == {"val_accuracy": 0.0, "params": 100.0}
    assert data["constraints"] == ["params <= 100", "test_accuracy <= 90"]
    assert data["best"]["number"] == front[0].number
