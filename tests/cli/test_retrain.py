"""``nasforge retrain`` and ``finalize``: the table, the pick, retrain.json, the messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nasforge.cli.main import main
from nasforge.evaluate.tabular import write_dummy_nb201_table
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study

DIGITS = {
    "name": "d",
    "task": "digits",
    "space": {"name": "mlp"},
    "strategy": "random",
    "evaluator": {"name": "train", "epochs": 1, "measure_latency": False},
    "executor": "inline",
    "budget": {"trials": 3},
    "export_best": False,
}


def _write(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**DIGITS, "root": str(tmp_path / "runs"), **changes}))
    return path


def test_finalize_ends_the_search_with_the_pick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _write(tmp_path, finalize={"top": 2, "seeds": 2})
    assert main(["search", str(spec), "--no-progress", "--set", "finalize.epochs=2"]) == 0
    printed = capsys.readouterr().out
    assert "final pick:" in printed and "picked by mean val_accuracy" in printed
    summary = json.loads((tmp_path / "runs" / "d" / "summary.json").read_text())
    pick = summary["final_pick"]
    assert (pick["epochs"], pick["seeds"], len(pick["architectures"])) == (2, 2, 2)
    assert summary["best"]["number"] < 3  # the search's best, from the search's trials
    means = {a["arch_string"]: a["metrics"]["val_accuracy"]["mean"]
             for a in pick["architectures"]}
    assert pick["winner"]["arch_string"] == max(means, key=means.__getitem__)
    stored = json.loads((tmp_path / "runs" / "d" / "retrain.json").read_text())
    assert stored == pick


def test_retrain_prints_the_table_and_continues_a_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", str(_write(tmp_path)), "--no-progress"]) == 0
    study_dir = tmp_path / "runs" / "d"
    capsys.readouterr()
    assert main(["retrain", str(study_dir), "--trial", "1", "--seeds", "2", "--epochs", "2",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "2 epochs, 2 seeds each" in printed and "#1" in printed
    assert "retrain.json" in printed
    assert main(["show", str(study_dir)]) == 0
    shown = capsys.readouterr().out
    assert "of 3 trials + 2 retrain" in shown and "final pick:" in shown
    frame = Study.open(study_dir).to_dataframe()
    assert list(frame["source"]) == ["strategy"] * 3 + ["retrain"] * 2


@pytest.mark.parametrize(("args", "message"), [
    (["--top", "0"], "--top: must be a whole number >= 1; got 0"),
    (["--seeds", "0"], "--seeds: must be a whole number >= 1; got 0"),
    (["--trial", "7"], "--trial: study 'd' has no Trial#7"),
    (["--set", "budget.trials=9"], "'budget.trials=9' changes no section retrain uses"),
])
def test_bad_retrain_input_is_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["search", str(_write(tmp_path)), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["retrain", str(tmp_path / "runs" / "d"), *args]) == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert message in printed and "Traceback" not in printed


def test_retrain_of_a_table_study_says_how_to_train_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = write_dummy_nb201_table(tmp_path / "nb201.csv.gz")
    study = Study.create(parse_spec({
        "name": "tab", "root": str(tmp_path), "space": {"name": "nb201", "dims": 2},
        "strategy": "random", "evaluator": {"name": "nb201_table", "path": str(table)},
        "executor": "inline", "budget": {"trials": 2}, "export_best": False,
    }))
    study.run()
    study.close()
    assert main(["retrain", str(tmp_path / "tab"), "--top", "1"]) == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert "looks results up in a table" in printed and "nothing to train" in printed
    assert "--task mnist1d" in printed and "--set space.dims=1" in printed


def test_finalize_is_validated_with_its_field(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", str(_write(tmp_path)), "--set", "finalize.seeds=0"]) == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert "finalize.seeds" in printed
