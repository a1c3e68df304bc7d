"""Every example of "Bring your own model, training loop and data" runs, on a small budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import nasforge as nf
from nasforge.cli.main import main as cli
from nasforge.references import load_file
from nasforge.trial import TrialState

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write runs/ where they are run


def test_own_training_loop_with_median_pruning(monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_file(EXAMPLES / "own_training_loop.py")
    monkeypatch.setattr(example, "EPOCHS", 3)
    study = example.main(trials=8)
    states = [t.state for t in study.trials()]
    assert len(states) == 8 and TrialState.COMPLETE in states
    assert study.spec.pruner.name == "median"
    assert study.spec.space.params["path"].endswith("own_training_loop.py:net")
    curves = study.curves()
    assert {c.metric for c in curves} == {"val_accuracy"}
    for trial in study.trials():  # one report per epoch trained, pruned ones stop early
        steps = [c.step for c in curves if c.trial == trial.number]
        assert steps == list(range(len(steps))) and 1 <= len(steps) <= 3
        if trial.state is TrialState.COMPLETE:
            assert len(steps) == 3
        else:
            assert trial.state is TrialState.PRUNED
            assert trial.result is not None and trial.result.info["pruned_step"] == steps[-1]
    assert (Path("runs") / "own-loop" / "report.html").is_file()
    # the function evaluator saved the weights fit left, so the winner was exported trained
    best = Path("runs") / "own-loop" / "best"
    assert (best / "loader.py").is_file() and (best / "architecture.json").is_file()
    model = nf.load(best)
    x = torch.as_tensor(study.parts.task.load().test.x[:64])
    accuracy = 100 * float((model(x).argmax(1) == torch.as_tensor(
        study.parts.task.load().test.y[:64])).float().mean())
    assert accuracy > 50, "the exported network is the trained one, not a fresh one"


def test_dataset_task_with_a_process_pool() -> None:
    example = load_file(EXAMPLES / "dataset_task.py")
    study = example.main(trials=2, epochs=1)
    assert [t.state for t in study.trials()] == [TrialState.COMPLETE] * 2
    assert study.parts.task.info().input_shape == (1, 8, 8)
    assert study.spec.task.params["path"].endswith("dataset_task.py:make_datasets")


def test_regression_on_diabetes(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["search", str(EXAMPLES / "regression_diabetes.yaml"), "--set",
                "budget.trials=3", "--set", "evaluator.epochs=2", "--set",
                "executor.workers=1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "mse" in out and "r2: validation" in out
    assert (Path("runs") / "diabetes-mlp" / "best" / "architecture.json").is_file()
