"""The latency-predictor benchmark's layout: a tiny run's JSON, merging into another results file,
and bad arguments refused before anything is timed.

Nothing here asserts an error or a time: the run is tiny and only its bookkeeping is checked.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from nasforge.references import load_file

ROOT = Path(__file__).parents[2]
TINY = ["--n", "3", "--spaces", "mnist1d_chain", "--n-fit", "3", "--n-cover", "0",
        "--min-run-time", "0.01"]


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("NASFORGE_CACHE", str(tmp_path / "cache"))
    return load_file(ROOT / "benchmarks" / "latency_predictor.py")


def test_a_tiny_run_writes_the_issue_layout(script: Any, tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    threads = torch.get_num_threads()
    assert script.main([*TINY, "--out", str(out)]) == 0
    assert torch.get_num_threads() == threads, "the benchmark restores torch's threads"
    data = json.loads(out.read_text())
    assert set(data) == {"latency_predictor", "_meta"}
    [(name, row)] = data["latency_predictor"].items()
    assert name == "mnist1d_chain" and row["n"] == 3
    assert row["mape"] >= 0
    assert math.isnan(row["spearman"]) or -1 <= row["spearman"] <= 1  # NaN: constant predictions
    assert row["calibration_networks"] == 3 and row["calibration_s"] > 0
    assert math.isfinite(row["mape_layer_sum"]) and row["median_measured_ms"] > 0
    assert data["_meta"]["min_run_time"] == 0.01 and data["_meta"]["threads"] == 1
    assert not (tmp_path / "cache").exists(), "calibrates in its own temporary cache"


def test_an_existing_results_file_keeps_its_other_keys(script: Any, tmp_path: Path) -> None:
    out = tmp_path / "multiobjective.json"
    out.write_text(json.dumps({"nb201_flops": {"nsga2": {"100": {"hv_frac": 0.9}}},
                               "latency_predictor": {"stale": {}}}))
    assert script.main([*TINY, "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["nb201_flops"] == {"nsga2": {"100": {"hv_frac": 0.9}}}
    assert set(data["latency_predictor"]) == {"mnist1d_chain"}
    assert "_latency_predictor_meta" in data and "_meta" not in data


def test_the_held_out_networks_are_not_those_calibrated_on(script: Any) -> None:
    space, _ = script.SPACES["mnist1d"]()
    calibrated = script.calibration_archs(space, 10)
    archs = script.held_out(space, 20, calibrated, script.HELD_OUT_SEED)
    assert len({str(a) for a in archs}) == 20 and not {str(a) for a in archs} & calibrated


@pytest.mark.parametrize(("args", "message"), [
    (["--n", "0"], "must be > 0; got 0"),
    (["--spaces", "nb201,cifar"], "--spaces: unknown cifar; choose from nb201, mnist1d"),
    (["--n-cover", "-1"], "--n-cover must be >= 0"),
    (["--min-run-time", "0"], "must be > 0"),
])
def test_bad_arguments_are_refused_naming_them(
    script: Any, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        script.main(args)
    assert message in capsys.readouterr().err


def test_an_out_file_that_is_not_json_is_refused_before_timing(script: Any,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "broken.json"
    out.write_text("{")
    with pytest.raises(SystemExit, match="exists but is not JSON"):
        script.main([*TINY, "--out", str(out)])
