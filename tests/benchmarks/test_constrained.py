"""The constrained benchmark script: the JSON layout and the aware/blind contrast of a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nasforge.evaluate.tabular import NB201Table
from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
from nasforge.references import load_file

bench = load_file(Path(__file__).parents[2] / "benchmarks" / "constrained.py")


@pytest.fixture(scope="module")
def dummy_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dummy_nb201_table(tmp_path_factory.mktemp("nb201") / "nb201_table.csv.gz")


def test_a_tiny_run_writes_the_documented_layout(dummy_table: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    params = NB201Table.load(dummy_table).values("params", "cifar10")
    limit = float(np.quantile(params, 0.3))  # about 70% of the cells infeasible
    out = tmp_path / "constrained.json"
    code = bench.main(["--seeds", "2", "--trials", "12", "--strategies", "random,optuna_tpe",
                       "--path", str(dummy_table), "--out", str(out),
                       "--params-limit", repr(limit)])
    assert code == 0
    stored = json.loads(out.read_text())
    assert stored["trials"] == 12 and stored["seeds"] == 2
    assert 0.6 <= stored["table_infeasible_frac"] <= 0.8
    assert set(stored["strategies"]) == {"random", "optuna_tpe"}
    aware, blind = stored["strategies"]["random"]["aware"], stored["strategies"]["random"]["blind"]
    peer = stored["strategies"]["optuna_tpe"]["constrained"]
    for cell in (aware, blind, peer):
        assert set(cell) == {"infeasible_frac", "infeasible_std", "best_feasible_acc",
                             "best_feasible_std", "n"}
        assert cell["n"] == 2 and 0.0 <= cell["infeasible_frac"] <= 1.0
    assert aware["infeasible_frac"] == 0.0 < blind["infeasible_frac"]
    printed = capsys.readouterr().out
    assert "INFEASIBLE trials" in printed and "optuna_tpe" in printed


def test_bad_arguments_are_refused(dummy_table: Path) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--strategies", "nope"])
    with pytest.raises(SystemExit):
        bench.main(["--path", str(dummy_table), "--params-limit", "0"])
