"""TrainEvaluator with ``fidelity: data_fraction``: nested seeded subsets, warm-started
promotions, fraction 1.0 equal to the epochs path, and refusals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasforge import metrics as M
from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluate import TrainEvaluator
from nasforge.evaluate.train import data_fraction_order, data_fraction_size
from nasforge.tasks.base import Split
from nasforge.trial import Candidate

STABLE = (M.VAL_ACCURACY, M.VAL_LOSS, M.TEST_ACCURACY, M.TRAIN_LOSS, M.EPOCHS, "test_loss")


def _fast(**overrides: Any) -> TrainEvaluator:
    params: dict[str, Any] = {"epochs": 3, "batch_size": 16, "lr": 0.05, "device": "cpu",
                              "measure_latency": False, "fidelity": "data_fraction"}
    return TrainEvaluator(**{**params, **overrides})


def _stable(metrics: Any) -> dict[str, float]:
    return {k: metrics[k] for k in STABLE if k in metrics}


def test_subsets_are_nested_seeded_and_stratified(task: Any) -> None:
    data = task.load()
    order = data_fraction_order(data.train, data.info, seed=0)
    n = len(data.train)
    assert sorted(order.tolist()) == list(range(n))
    assert np.array_equal(order, data_fraction_order(data.train, data.info, seed=0))
    assert not np.array_equal(order, data_fraction_order(data.train, data.info, seed=1))
    low, high = (set(order[: data_fraction_size(n, f)].tolist()) for f in (0.2, 0.5))
    assert low < high
    # Each class takes about its share of any prefix (at most one example off per class).
    labels = np.asarray(data.train.y)
    prefix = labels[order[: data_fraction_size(n, 0.3)]]
    for label in np.unique(labels):
        share = float(np.mean(labels == label)) * len(prefix)
        assert abs(int(np.sum(prefix == label)) - share) <= 1.0


def test_sizes_round_up_and_plain_permutation_for_regression() -> None:
    assert [data_fraction_size(1000, f) for f in (0.1, 0.001, 1 / 3, 1.0)] == [100, 1, 334, 1000]
    split = Split(x=np.zeros((10, 2), np.float32), y=np.zeros((10, 1), np.float32))
    info: Any = type("Info", (), {"is_regression": True})()
    order = data_fraction_order(split, info, seed=3)
    assert np.array_equal(order, np.random.default_rng(3).permutation(10))


def test_metrics_differ_by_fraction_and_fraction_one_equals_epochs(
    arch: Architecture, make_ctx: Any
) -> None:
    evaluator = _fast()
    assert evaluator.max_fidelity == 1.0 and evaluator.fidelity_kind == "data_fraction"
    small = evaluator.evaluate(Candidate(arch, 0.25), make_ctx(seed=1))
    full = evaluator.evaluate(Candidate(arch, 1.0), make_ctx(seed=1))
    assert small.ok and full.ok
    n = full.info["train_examples"]
    assert small.info["train_examples"] == data_fraction_size(n, 0.25) < n
    assert small.metrics[M.EPOCHS] == full.metrics[M.EPOCHS] == 3  # full epochs at any fraction
    assert _stable(small.metrics) != _stable(full.metrics)
    epochs = _fast(fidelity="epochs").evaluate(Candidate(arch, 3), make_ctx(seed=1))
    assert _stable(full.metrics) == _stable(epochs.metrics)
    none = evaluator.evaluate(Candidate(arch), make_ctx(seed=1))
    assert _stable(none.metrics) == _stable(full.metrics)


def test_promotion_warm_starts_from_the_lower_fraction(
    arch: Architecture, make_ctx: Any, tmp_path: Path
) -> None:
    evaluator, workdir = _fast(), str(tmp_path)
    scratch = evaluator.evaluate(Candidate(arch, 0.5), make_ctx(seed=1))
    low = evaluator.evaluate(Candidate(arch, 0.25), make_ctx(seed=1, workdir=workdir))
    assert "warm_started_from" not in low.info
    high = evaluator.evaluate(Candidate(arch, 0.5), make_ctx(seed=1, workdir=workdir))
    assert high.info["warm_started_from"] == 0.25
    assert _stable(high.metrics) != _stable(scratch.metrics)  # a warm start, not bit-identical
    names = sorted(f for f in os.listdir(workdir) if f.startswith("train-"))
    assert len(names) == 2 and names[0].endswith("-f0.25.pt") and names[1].endswith("-f0.5.pt")
    again = evaluator.evaluate(Candidate(arch, 0.5), make_ctx(seed=1, workdir=workdir))
    assert again.info["resumed_from_epoch"] == 3 and "warm_started_from" not in again.info
    assert _stable(again.metrics) == _stable(high.metrics)
    # An epochs checkpoint of the same architecture is never mixed up with a fraction's.
    by_epochs = _fast(fidelity="epochs")
    epochs = by_epochs.evaluate(Candidate(arch, 3), make_ctx(seed=1, workdir=workdir))
    assert epochs.info["resumed_from_epoch"] == 0


@pytest.mark.parametrize("fidelity", [0.0, -0.5, 1.5, 2])
def test_bad_fractions_fail_with_a_clear_reason(
    arch: Architecture, make_ctx: Any, fidelity: float
) -> None:
    with pytest.raises(ValueError, match=r"data fraction in \(0, 1\]"):
        _fast().evaluate(Candidate(arch, fidelity), make_ctx(seed=1))


def test_a_fraction_of_too_few_examples_and_fractional_epochs_are_refused(
    arch: Architecture, make_ctx: Any
) -> None:
    with pytest.raises(ValueError, match=r"is 1 example\(s\); training needs at least 2"):
        _fast().evaluate(Candidate(arch, 0.001), make_ctx(seed=1))
    with pytest.raises(ValueError, match=r"whole epochs .*evaluator.fidelity: data_fraction"):
        _fast(fidelity="epochs").evaluate(Candidate(arch, 0.5), make_ctx(seed=1))
    with pytest.raises(ConfigError, match=r"fidelity"):
        TrainEvaluator(fidelity="fraction")  # type: ignore[arg-type]
