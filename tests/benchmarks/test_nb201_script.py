"""The benchmark script's bookkeeping: queries, best-by-validation, aggregation."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "nb201.py"
spec = importlib.util.spec_from_file_location("nb201_script", SCRIPT)
assert spec is not None and spec.loader is not None
nb201 = importlib.util.module_from_spec(spec)
sys.modules["nb201_script"] = nb201
spec.loader.exec_module(nb201)


def test_curve_counts_unique_queries_and_keeps_best_by_validation() -> None:
    points = [("a", 80.0, 70.0), ("b", 85.0, 60.0), ("a", 80.0, 70.0), ("c", 84.0, 90.0),
              ("d", 86.0, 65.0)]
    curve = nb201._curve(points, [1, 2, 3, 4])
    assert curve == {1: (80.0, 70.0), 2: (85.0, 60.0), 3: (85.0, 60.0), 4: (86.0, 65.0)}


def test_aggregate_means_and_regret() -> None:
    rows = [("s", "cifar10", seed, {"curve": {10: (90.0 + seed, 94.0 + seed)}, "seconds": 1.0,
                                    "proxy_scores": 0, "epochs": {10: 2000.0}})
            for seed in (0, 1)]
    rows.append(("s", "cifar10", 2, {"error": "ValueError: boom"}))
    out = nb201.aggregate(rows, [10], {"cifar10": {"best_val": 92.0}})
    cell = out["cifar10"]["s"]["10"]
    assert cell["mean"] == pytest.approx(94.5) and cell["n"] == 2
    assert cell["val_regret"] == pytest.approx(1.5)
    assert cell["epochs_per_query"] == pytest.approx(200.0)
    assert out["cifar10"]["s"]["errors"] == ["ValueError: boom"]


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        nb201.main(["--strategies", "nope", "--seeds", "1"])
    assert info.value.code == 2
    assert "unknown strategies ['nope']" in capsys.readouterr().err
