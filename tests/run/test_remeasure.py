"""The front's latency measured again when a study finishes: which studies get it, what
summary.json, Finished and ``nasforge show`` hold, finishing again, and failures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import nasforge as nf
import nasforge.testing.toys  # registers the toy parts
from nasforge import metrics as M
from nasforge.cli.main import main
from nasforge.run.remeasure import SUMMARY_KEY, metrics_to_remeasure, remeasure_front
from nasforge.space.base import SearchSpace

TINY_SPACE = {"name": "mlp", "depths": [1], "widths": [4, 8], "activations": ["relu"],
              "dropouts": [0.0]}


def _mnist1d(tmp_path: Path, name: str, **kwargs: Any) -> nf.Study:
    settings: dict[str, Any] = {
        "task": {"name": "mnist1d", "num_samples": 200}, "space": TINY_SPACE,
        "strategy": "random", "executor": "inline", "budget": {"trials": 3},
        "export_best": False, "root": tmp_path / "runs", "name": name,
        "evaluator": {"name": "train", "epochs": 1, "latency": {"min_run_time": 0.01}},
        **kwargs}
    return nf.search(**settings)


@pytest.fixture(scope="module")
def latency_study(tmp_path_factory: pytest.TempPathFactory) -> nf.Study:
    return _mnist1d(tmp_path_factory.mktemp("remeasure"), "fast",
                    objectives=[{"metric": "val_accuracy"},
                                {"metric": "latency_ms", "direction": "min"}])


def _summary(study: nf.Study) -> dict[str, Any]:
    assert study.directory is not None
    data: dict[str, Any] = json.loads((study.directory / "summary.json").read_text())
    return data


def test_summary_holds_the_front_measured_again(latency_study: nf.Study) -> None:
    rows = _summary(latency_study)[SUMMARY_KEY]
    front = latency_study.best_trials()
    # latency_ms is an objective; latency_batch_ms the evaluator measured too
    expected = [(t.number, m) for t in front for m in (M.LATENCY_MS, M.LATENCY_BATCH_MS)]
    assert [(r["number"], r["metric"]) for r in rows] == expected
    trials = {t.number: t for t in front}
    for row in rows:
        assert row["searched"] == trials[row["number"]].metrics[row["metric"]]
        assert math.isfinite(row["median_ms"]) and row["median_ms"] > 0
        assert math.isfinite(row["iqr_ms"]) and row["iqr_ms"] >= 0
        assert row["error"] is None
        assert (row["runtime"], row["threads"]) == ("torch", 1)
        assert row["batch_size"] == (1 if row["metric"] == M.LATENCY_MS else 64)


def test_finishing_again_measures_again(latency_study: nf.Study) -> None:
    finished = latency_study.finish()
    rows = finished.summary[SUMMARY_KEY]
    assert [r.to_dict() for r in finished.remeasured] == rows
    assert rows == _summary(latency_study)[SUMMARY_KEY]
    assert {r["number"] for r in rows} == {t.number for t in latency_study.best_trials()}


def test_show_lists_the_remeasured_front(
    latency_study: nf.Study, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(latency_study.directory)]) == 0
    out = capsys.readouterr().out
    assert "front latency measured again after the search" in out
    assert "latency_batch_ms" in out
    assert main(["show", str(latency_study.directory), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown[SUMMARY_KEY] == _summary(latency_study)[SUMMARY_KEY]


def test_a_candidate_that_does_not_build_is_reported_not_fatal(
    latency_study: nf.Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no such layer")

    monkeypatch.setattr(latency_study.parts.space, "build", broken)
    rows = remeasure_front(latency_study, min_run_time=0.01, limit=1)
    assert [r.number for r in rows] == [latency_study.best_trials()[0].number] * 2
    assert all(r.median_ms is None and r.error == "RuntimeError: no such layer" for r in rows)
    with pytest.raises(ValueError, match="limit must be >= 1"):
        remeasure_front(latency_study, limit=0)


def test_a_study_without_latency_has_none_and_builds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _mnist1d(tmp_path, "plain", evaluator={"name": "train", "epochs": 1,
                                                    "measure_latency": False})
    assert _summary(study)[SUMMARY_KEY] == []
    assert metrics_to_remeasure(study, study.best_trials()) == ()

    def build(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a study without latency must not build a network")

    monkeypatch.setattr(SearchSpace, "build", build)
    monkeypatch.setattr(type(study.parts.space), "build", build)
    finished = study.finish()
    assert finished.remeasured == () and finished.summary[SUMMARY_KEY] == []


def test_a_toy_study_without_latency_pays_nothing(tmp_path: Path) -> None:
    study = nf.search(task="toy", space={"name": "toy", "n_decisions": 2, "n_options": 2},
                      evaluator="toy", strategy="random", executor="inline",
                      budget={"trials": 2}, root=tmp_path, name="toy")
    assert _summary(study)[SUMMARY_KEY] == []


def test_a_constraint_on_latency_is_remeasured(tmp_path: Path) -> None:
    study = _mnist1d(tmp_path, "bound", budget={"trials": 2},
                     constraints=["latency_ms <= 1e6"],
                     evaluator={"name": "train", "epochs": 1,
                                "latency": {"min_run_time": 0.01, "batch_size": 1}})
    rows = _summary(study)[SUMMARY_KEY]
    assert {r["metric"] for r in rows} == {M.LATENCY_MS, M.LATENCY_BATCH_MS}
    assert all(r["batch_size"] == 1 and r["median_ms"] > 0 for r in rows)


def test_the_end_of_search_message_points_to_the_remeasured_front(
    latency_study: nf.Study, capsys: pytest.CaptureFixture[str]
) -> None:
    from nasforge.cli.finish import print_finished

    print_finished(latency_study, latency_study.finish())
    out = " ".join(capsys.readouterr().out.split())
    n = len(latency_study.best_trials())
    assert f"latency of the {n} front trial" in out and "nasforge show lists both" in out
    assert "Energy of" not in out  # no energy tracked in this study


def test_show_numbers_each_remeasured_row_at_80_columns(
    latency_study: nf.Study, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["show", str(latency_study.directory)]) == 0
    out = capsys.readouterr().out
    table = out[out.index("front latency measured again"):]
    numbers = {t.number for t in latency_study.best_trials()}
    rows = [line for line in table.splitlines() if "latency_ms" in line]
    assert rows and {int(line.split("│")[1]) for line in rows} <= numbers


def test_with_one_objective_the_message_names_the_best_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nasforge.cli.finish import print_finished

    study = _mnist1d(tmp_path, "single", objectives=[{"metric": "val_accuracy"}])
    print_finished(study, study.finish())
    out = " ".join(capsys.readouterr().out.split())
    assert "latency of the best trial measured again after the search" in out
