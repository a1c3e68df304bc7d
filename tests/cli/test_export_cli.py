"""A real (tiny) training study exported from the command line and loaded back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import nasforge as nf
from nasforge.cli.main import main
from nasforge.evaluate.base import WEIGHTS_FILE


@pytest.fixture(scope="module")
def trained_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    config = root / "c.yaml"
    config.write_text(yaml.safe_dump({
        "name": "digits", "seed": 0, "root": str(root), "task": "digits", "space": "mlp",
        "strategy": "random", "evaluator": {"name": "train", "epochs": 2},
        "executor": "inline", "budget": {"trials": 3}, "export_best": True,
    }))
    assert main(["search", str(config), "--no-progress"]) == 0
    return root / "digits"


def test_search_exports_the_best_model(trained_study: Path) -> None:
    summary = json.loads((trained_study / "summary.json").read_text())
    assert summary["export"] == str(trained_study / "best")
    meta = json.loads((trained_study / "best" / "architecture.json").read_text())
    assert meta["trial"] == summary["best"]["number"]
    assert (trained_study / "report.html").is_file()


def test_export_command_then_load_gives_the_trained_network(trained_study: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "exp"
    assert main(["export", str(trained_study), "--trial", "1", "--out", str(out)]) == 0
    model = nf.load(out)
    study = nf.open_study(trained_study)
    trial = study.trial(1)
    reference = study.parts.space.build(trial.arch, study.parts.task.info())
    reference.load_state_dict(torch.load(study.workdir(trial.candidate) / WEIGHTS_FILE,
                                         weights_only=True))
    reference.eval()
    x = torch.from_numpy(study.parts.task.load().test.x[:16])
    assert torch.equal(model(x), reference(x))
    assert (out / "model.onnx").is_file() and (out / "model.py").is_file()
    # The exported network scores what the study recorded for it.
    data = study.parts.task.load().test
    accuracy = (model(torch.from_numpy(data.x)).argmax(1).numpy() == data.y).mean() * 100
    assert accuracy == pytest.approx(trial.metrics["test_accuracy"], abs=1e-6)


def test_export_errors_exit_2(trained_study: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(trained_study), "--trial", "99", "--out", str(tmp_path)]) == 2
    assert "no Trial#99" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
