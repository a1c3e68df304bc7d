"""The pruning benchmark's layout: three runs per seed, the JSON the issue asks for.

Nothing here asserts a time or an accuracy; the run is tiny and only its bookkeeping is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nasforge.references import load_file

ROOT = Path(__file__).parents[2]


def test_a_tiny_run_writes_every_side_with_ratios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = load_file(ROOT / "benchmarks" / "pruning.py")
    example = load_file(ROOT / "examples" / "own_training_loop.py")
    monkeypatch.setattr(example, "EPOCHS", 2)
    for key in ("n_startup_trials", "n_warmup_steps"):  # main() sets them; restore after
        monkeypatch.setitem(script.MEDIAN, key, script.MEDIAN[key])
    threads = torch.get_num_threads()
    out = tmp_path / "pruning.json"
    script.main(["--seeds", "1", "--trials", "3", "--startup", "1", "--warmup", "0",
                 "--out", str(out)])
    assert torch.get_num_threads() == threads, "the benchmark restores torch's threads"
    data = json.loads(out.read_text())
    for side in ("nasforge_median", "nasforge_none", "optuna_median"):
        assert {"cpu_s", "best_test_mean", "best_test_std", "seeds"} <= set(data[side])
        assert data[side]["seeds"] == 1 and data[side]["cpu_s"] > 0
        assert 0 <= data[side]["best_test_mean"] <= 100
    assert data["nasforge_none"]["pruned_mean"] == 0
    assert {"cpu_saved", "best_test_gap_points", "cpu_vs_optuna"} <= set(data["ratios"])
    assert data["median_pruner"] == {"n_startup_trials": 1, "n_warmup_steps": 0}
    assert data["epochs"] == 2
