"""Small stored studies the report tests share: completed (NB201 cells on a dummy table), with
failures (curves, an infeasible constraint, a raised error, a steering event) and
multi-objective. Each is run once per session with the inline executor."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasforge.run.spec import parse_spec
from nasforge.run.study import Study


def _run(spec: dict[str, object]) -> Study:
    study = Study.create(parse_spec(spec)).run()
    study.finish()
    return study


@pytest.fixture(scope="session")
def completed_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    from nasforge.evaluate.tabular import write_dummy_nb201_table

    root = tmp_path_factory.mktemp("report_nb")
    table = write_dummy_nb201_table(root / "nb201_table.csv.gz")
    return _run({"name": "nb", "space": {"name": "nb201", "dims": 2},
                 "strategy": "regularized_evolution",
                 "evaluator": {"name": "nb201_table", "path": str(table)},
                 "budget": {"trials": 24}, "root": str(root), "executor": "inline",
                 "export_best": False, "seed": 0})


@pytest.fixture(scope="session")
def failing_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("report_fail")
    study = _run({"name": "fails", "task": "toy",
                  "space": {"name": "toy", "n_decisions": 2, "n_options": 4},
                  "strategy": "random", "executor": "inline",
                  "evaluator": {"name": "function", "path": "tests.report.loops:fit"},
                  "constraints": ["val_accuracy >= 30"],
                  "max_consecutive_failures": 100,
                  "budget": {"trials": 16}, "root": str(root), "export_best": False, "seed": 3})
    study.store.add_event(study.record.id, "stop", {"why": "<b>enough</b>"})
    return study


@pytest.fixture(scope="session")
def multi_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("report_mo")
    return _run({"name": "mo", "task": "toy",
                 "space": {"name": "toy", "n_decisions": 3, "n_options": 4},
                 "strategy": "random", "executor": "inline", "evaluator": "toy",
                 "objectives": [{"metric": "val_accuracy", "direction": "max"},
                                {"metric": "params", "direction": "min"}],
                 "budget": {"trials": 30}, "root": str(root), "export_best": False, "seed": 1})


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    return tmp_path / "report.html"
