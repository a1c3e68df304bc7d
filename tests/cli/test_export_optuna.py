"""``nasforge export-optuna``: a study in an Optuna storage; option names in its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import nasforge.testing.toys  # noqa: F401  (registers the toy parts)
from nasforge.cli.main import main
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study

optuna = pytest.importorskip("optuna")


def test_export_then_optuna_reads_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = parse_spec({"name": "s", "root": str(tmp_path), "task": "toy",
                       "space": {"name": "toy", "n_decisions": 2, "n_options": 3},
                       "strategy": "random", "evaluator": "toy", "executor": "inline",
                       "budget": {"trials": 8}, "export_best": False, "seed": 0})
    Study.create(spec).run().close()
    url = f"sqlite:///{tmp_path / 'o.db'}"
    assert main(["export-optuna", str(tmp_path / "s"), "--storage", url]) == 0
    assert f"8 trials written to {url} as study 's'" in " ".join(capsys.readouterr().out.split())
    loaded = optuna.load_study(study_name="s", storage=url)
    assert len(loaded.trials) == 8 and set(loaded.trials[0].params) == {"d0", "d1"}
    optuna.visualization.plot_parallel_coordinate(loaded)

    assert main(["export-optuna", str(tmp_path / "s"), "--storage", url]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--study-name:" in err and "pass --overwrite" in err
    assert main(["export-optuna", str(tmp_path / "s"), "--storage", url, "--overwrite"]) == 0
    assert main(["export-optuna", str(tmp_path / "s"), "--storage", url,
                 "--study-name", "copy"]) == 0
    assert {s.study_name for s in optuna.get_all_study_summaries(url)} == {"s", "copy"}
    capsys.readouterr()
    assert main(["export-optuna", str(tmp_path / "s"), "--storage", "o.db"]) == 2
    assert "--storage: 'o.db' is not a storage URL" in " ".join(capsys.readouterr().err.split())
    assert main(["export-optuna", str(tmp_path / "missing"), "--storage", url]) == 2
    assert "no study in" in " ".join(capsys.readouterr().err.split())
