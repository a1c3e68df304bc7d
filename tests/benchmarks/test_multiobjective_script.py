"""The multi-objective benchmark script: true fronts, scoring, and the JSON layout of a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasforge.evaluate.tabular import NB201Table, resolve_nb201_path
from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
from nasforge.pareto import pareto_set
from nasforge.references import load_file

mo = load_file(Path(__file__).parents[2] / "benchmarks" / "multiobjective.py")


@pytest.fixture(scope="module")
def dummy_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dummy_nb201_table(tmp_path_factory.mktemp("nb201") / "nb201_table.csv.gz")


def test_true_front_is_the_pareto_set_and_scores_one(dummy_table: Path) -> None:
    table = NB201Table.load(dummy_table)
    front = mo.TrueFront(table, "flops")
    acc, flops = table.values("val_accuracy"), table.values("flops")
    brute = {table.archs[i] for i in pareto_set(list(zip(acc, flops, strict=True)), ["max", "min"])}
    assert set(front.cells) == brute
    assert front.reference == (85.0, float(flops.max()))
    hv, found, classes = front.score(list(table.archs))
    assert hv == pytest.approx(1.0) and found == len(front.cells) and classes >= 1
    assert front.score([]) == (0.0, 0, 0)
    some = front.score(list(table.archs[:50]))
    assert 0.0 <= some[0] < 1.0


def test_a_tiny_run_writes_the_documented_layout(dummy_table: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mo.json"
    code = mo.main(["--seeds", "2", "--budgets", "5,12", "--strategies", "nsga2,optuna_random",
                    "--path", str(dummy_table), "--out", str(out), "--workers", "1",
                    "--parts", "nb201"])
    assert code == 0
    stored = json.loads(out.read_text())
    for problem in ("nb201_flops", "nb201_params"):
        assert set(stored[problem]) == {"nsga2", "optuna_random"}
        for entry in stored[problem].values():
            assert "errors" not in entry
            for budget in ("5", "12"):
                cell = entry[budget]
                assert set(cell) >= {"hv_frac", "hv_std", "front_found", "n"}
                assert 0.0 <= cell["hv_frac"] <= 1.0 and cell["hv_std"] >= 0.0
                assert cell["n"] == 2 and 0 <= cell["front_found"] <= 12
        assert set(stored["_fronts"][problem]) == {"nsga2", "optuna_random"}
    meta = stored["_runs"][-1]
    assert meta["seeds"] == 2 and meta["budgets"] == [5, 12]
    assert meta["true_front"]["nb201_flops"]["cells"]
    assert out.with_suffix(".png").exists()
    printed = capsys.readouterr().out
    assert "nb201_flops: hypervolume fraction" in printed and "optuna_random" in printed


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        mo.main(["--strategies", "nope"])
    assert info.value.code == 2
    assert "unknown strategies ['nope']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mo.main(["--budgets", "50,x"])
    assert "--budgets must be comma-separated integers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mo.main(["--problems", "nb201_latency"])
    assert "unknown problems ['nb201_latency']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mo.main(["--parts", "nb201,energy"])
    assert "--parts must be a comma-separated subset of nb201,latency" in capsys.readouterr().err


def test_the_other_parts_run_their_scripts_into_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import latency_predictor
    import mo_real

    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(latency_predictor, "main", lambda argv: calls.append(("lp", argv)) or 0)
    monkeypatch.setattr(mo_real, "main", lambda argv: calls.append(("real", argv)) or 0)
    out = tmp_path / "mo.json"
    assert mo.main(["--parts", "latency,fairness,mnist1d", "--out", str(out), "--minutes", "3",
                    "--latency-n", "7"]) == 0
    assert calls == [
        ("lp", ["--n", "7", "--out", str(out)]),
        ("real", ["--parts", "mnist1d,fairness", "--minutes", "3.0", "--out", str(out)]),
    ]


def test_the_real_table_has_ten_pareto_cells_for_accuracy_against_flops() -> None:
    try:
        path = resolve_nb201_path()
    except Exception:
        pytest.skip("the NAS-Bench-201 table is not available")
    front = mo.TrueFront(NB201Table.load(path), "flops")
    assert len(front.cells) == 10
