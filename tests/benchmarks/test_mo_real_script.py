"""The real multi-objective searches script: a tiny fairness run's layout, merging into an
existing results file, and bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasforge.references import load_file

real = load_file(Path(__file__).parents[2] / "benchmarks" / "mo_real.py")

pytest.importorskip("fairlearn")


def test_a_tiny_fairness_run_is_merged_into_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mo.json"
    out.write_text(json.dumps({"nb201_flops": {"nsga2": {}}}))
    assert real.main(["--parts", "fairness", "--fair-trials", "4", "--out", str(out),
                      "--root", str(tmp_path / "runs")]) == 0
    stored = json.loads(out.read_text())
    assert stored["nb201_flops"] == {"nsga2": {}}  # other keys kept
    part = stored["diabetes_fairness"]
    assert part["trials"] == 4 and part["front"]
    for point in [*part["front"], part["most_accurate"]]:
        assert 0 <= point["val_accuracy"] <= 100 and 0 <= point["val_dp_diff"] <= 1
        assert 0 <= point["test_dp_diff"] <= 1
    printed = capsys.readouterr().out
    assert "accuracy against demographic parity" in printed and "most accurate" in printed


def test_bad_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        real.main(["--parts", "nope"])
    assert "unknown parts ['nope']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        real.main(["--minutes", "0"])
    assert "--minutes must be > 0" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SystemExit):
        real.main(["--out", str(broken)])
    assert "is not JSON" in capsys.readouterr().err


@pytest.mark.slow
def test_a_short_mnist1d_search_reports_the_remeasured_front_and_energy(tmp_path: Path) -> None:
    pytest.importorskip("codecarbon")
    part = real.mnist1d_latency(0.4, 2, 0, tmp_path)
    assert part["complete"] >= 1 and part["front"]
    assert all(p.get("latency_ms_again", 0) > 0 for p in part["front"])
    assert part["energy"]["kwh"] > 0 and part["energy"]["country"] == "FRA"
