"""``nasforge report`` and ``nasforge show --importance``: files written, bad input refused."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import nasforge.testing.toys  # noqa: F401  (registers the toy parts)
from nasforge.cli.main import main
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study


def _study(root: Path, name: str, seed: int) -> Path:
    spec = parse_spec({"name": name, "root": str(root), "task": "toy",
                       "space": {"name": "toy", "n_decisions": 3, "n_options": 3},
                       "strategy": "random", "evaluator": "toy", "executor": "inline",
                       "budget": {"trials": 14}, "export_best": False, "seed": seed})
    Study.create(spec).run().close()
    return root / name


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli_report")
    return _study(root, "a", 0), _study(root, "b", 1)


def test_report_of_one_study_goes_into_its_folder(
    studies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = studies
    assert main(["report", str(a)]) == 0
    text = (a / "report.html").read_text()
    assert "Study <code>a</code>" in text and "Plotly.newPlot(" in text
    assert (a / "report_figures" / "best_so_far.png").is_file()
    assert f"report written to {a / 'report.html'}" in " ".join(capsys.readouterr().out.split())


def test_report_compares_several_studies(studies: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "both.html"
    assert main(["report", *map(str, studies), "--out", str(out), "--no-pngs"]) == 0
    text = out.read_text()
    assert "Comparison" in text and "Study <code>a</code>" in text and "<code>b</code>" in text
    assert not (tmp_path / "both_figures").exists()


def test_report_refuses_what_is_not_a_study(
    studies: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"no study in {tmp_path}" in err and "Traceback" not in err
    a, _ = studies
    assert main(["report", str(a), str(a)]) == 2
    assert "is given twice" in " ".join(capsys.readouterr().err.split())
    assert main(["report", str(a), "--out", str(tmp_path / "nowhere" / "r.html")]) == 2
    assert "--out: the folder" in " ".join(capsys.readouterr().err.split())
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "study.db").write_text("not sqlite at all, but long enough" * 10)
    assert main(["report", str(tmp_path / "d")]) == 2
    assert "Traceback" not in " ".join(capsys.readouterr().err.split())


def test_report_refuses_a_store_from_a_newer_nasforge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study_dir = _study(tmp_path, "new", 0)
    with sqlite3.connect(study_dir / "study.db") as db:
        db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    assert main(["report", str(study_dir)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "written by a newer nasforge (schema 999" in err and "upgrade nasforge" in err


def test_show_importance_ranks_the_decisions(
    studies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("optuna")
    a, _ = studies
    assert main(["show", str(a), "--importance"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "which choices matter for val_accuracy" in out
    assert main(["show", str(a), "--importance", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["importance"]
    assert {r["decision"] for r in rows} == {"d0", "d1", "d2"}
    assert sum(r["importance"] for r in rows) == pytest.approx(1.0)
    assert all(r["low"] <= r["mean"] <= r["high"] for r in rows)
    assert [r["importance"] for r in rows] == sorted((r["importance"] for r in rows),
                                                    reverse=True)
