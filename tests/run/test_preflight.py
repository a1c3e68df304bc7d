"""Checks before the first trial: each problem is named, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from torch import nn

import nasforge as nf
import nasforge.testing.toys
from nasforge.cli.main import main
from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
from nasforge.space.base import SPACES
from nasforge.testing.toys import ToySpace


def search(tmp_path: Path, **kwargs: Any) -> None:
    settings = {"strategy": "random", "executor": "inline", "budget": {"trials": 2},
                "root": tmp_path / "runs", "name": "p", **kwargs}
    nf.search(**settings)


def test_a_missing_csv_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(nf.ConfigError, match=r"task: task 'csv' could not be loaded") as info:
        search(tmp_path, task={"name": "csv", "path": str(tmp_path / "nope.csv"),
                               "target": "y"}, space="mlp", evaluator={"name": "train"})
    assert "nope.csv" in str(info.value)
    assert not (tmp_path / "runs").exists()


def test_a_csv_without_the_target_column_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(30)))
    with pytest.raises(nf.ConfigError, match="task") as info:
        search(tmp_path, task={"name": "csv", "path": str(data), "target": "y"}, space="mlp",
               evaluator={"name": "train"})
    assert "'y'" in str(info.value)
    assert not (tmp_path / "runs").exists()


class WrongInput(ToySpace):
    """Builds a network for one feature more than the task has."""

    def build(self, arch: Any, task: Any) -> nn.Module:
        return nn.Linear(task.input_shape[0] + 1, task.n_classes)


class WrongOutput(ToySpace):
    """Builds a network with one logit too many."""

    def build(self, arch: Any, task: Any) -> nn.Module:
        return nn.Linear(task.input_shape[0], task.n_classes + 1)


@pytest.fixture
def misfits() -> Iterator[None]:
    """Register the misfit spaces for one test only (the space contract runs over the registry)."""
    names = {"preflight_wrong_input": WrongInput, "preflight_wrong_output": WrongOutput}
    for name, cls in names.items():
        SPACES.register(name)(cls)
    yield
    for name in names:
        del SPACES._entries[name]


@pytest.mark.usefixtures("misfits")
def test_a_space_whose_networks_do_not_fit_the_task_is_refused(tmp_path: Path) -> None:
    with pytest.raises(nf.ConfigError, match=r"space: space 'preflight_wrong_input' on task "
                                             r"'toy': a sampled network fails") as info:
        search(tmp_path, task="toy", space="preflight_wrong_input",
               evaluator={"name": "train", "epochs": 1})
    assert "mat1 and mat2 shapes cannot be multiplied" in str(info.value)
    assert not (tmp_path / "runs").exists()
    with pytest.raises(nf.ConfigError, match=r"outputs shape \(2, 3\), expected \(2, 2\)"):
        search(tmp_path, task="toy", space="preflight_wrong_output",
               evaluator={"name": "train", "epochs": 1})


def test_a_table_evaluator_refuses_a_space_it_cannot_look_up(tmp_path: Path) -> None:
    table = write_dummy_nb201_table(tmp_path / "t.csv.gz")
    with pytest.raises(nf.ConfigError, match="can only look up NAS-Bench-201 cells"):
        search(tmp_path, task="digits", space="mlp",
               evaluator={"name": "nb201_table", "path": str(table)})
    assert not (tmp_path / "runs").exists()


@pytest.mark.usefixtures("misfits")
def test_the_cli_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"name: p\nroot: {tmp_path / 'runs'}\ntask: toy\n"
                      "space: preflight_wrong_input\nevaluator: {name: train, epochs: 1}\n"
                      "executor: inline\nbudget: {trials: 2}\n")
    assert main(["search", str(config), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "space 'preflight_wrong_input' on task 'toy'" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_a_path_encoding_on_a_space_without_paths_is_refused(tmp_path: Path) -> None:
    with pytest.raises(nf.ConfigError, match=r"strategy\.encoding: BANANAS was given encoding "
                                             r"'path', but ToySpace has no cell paths"):
        search(tmp_path, task="toy", space="toy", evaluator="toy",
               strategy={"name": "bananas", "encoding": "path"})
    assert not (tmp_path / "runs").exists()


def fit(model: Any, task: Any, trial: Any) -> dict[str, float]:
    """A training function without a fidelity (for the multi-fidelity refusal)."""
    return {"val_accuracy": 1.0}


def test_a_multi_fidelity_strategy_needs_an_evaluator_with_a_fidelity(tmp_path: Path) -> None:
    with pytest.raises(nf.ConfigError, match=r"hyperband asks for fidelities .* has no fidelity"):
        search(tmp_path, task="toy", space="toy", strategy="hyperband", evaluator=fit)
    assert not (tmp_path / "runs").exists()


def test_a_regression_study_optimises_val_mse_unless_told_otherwise() -> None:
    study = nf.search(
        task="diabetes", space="mlp", strategy="random",
        evaluator={"name": "train", "epochs": 2, "measure_latency": False},
        executor="inline", budget={"trials": 2}, in_memory=True, export_best=False,
    )
    assert [(o.metric, o.direction) for o in study.spec.objectives] == [("val_mse", "min")]
    best = study.best()
    assert best.metrics["val_mse"] == min(t.metrics["val_mse"] for t in study.trials())
    assert {"val_r2", "test_mae"} <= set(best.metrics)


def test_an_accuracy_objective_on_a_regression_task_is_refused_with_the_fix(
    tmp_path: Path,
) -> None:
    with pytest.raises(nf.ConfigError) as info:
        nf.search(
            task="diabetes", space="mlp", strategy="random",
            evaluator={"name": "train", "epochs": 2},
            objectives=[{"metric": "val_accuracy", "direction": "max"}],
            executor="inline", budget={"trials": 2}, root=tmp_path / "runs",
        )
    (problem,) = info.value.problems
    assert problem.field == "objectives.0.metric"
    assert "regression task 'diabetes'" in problem.message
    assert "metric: val_mse, direction: min" in (problem.fix or "")
    assert not (tmp_path / "runs").exists()


def test_a_group_metric_on_a_task_without_groups_says_so() -> None:
    with pytest.raises(nf.ConfigError) as info:
        nf.search(
            task="wine", space="mlp", strategy="random",
            evaluator={"name": "train", "epochs": 1},
            objectives=[{"metric": "val_accuracy", "direction": "max"},
                        {"metric": "val_dp_diff", "direction": "min"}],
            executor="inline", budget={"trials": 2}, in_memory=True,
        )
    (problem,) = info.value.problems
    assert problem.field == "task" and "has no group" in problem.message
    assert "diabetes_fair" in (problem.fix or "")
