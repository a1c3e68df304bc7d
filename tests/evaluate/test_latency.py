"""Measured latency: the settings an evaluator takes (validated, defaults filled in), the
measurement itself (both runtimes, positive and finite, the model and thread count restored)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from nasforge.errors import ConfigError
from nasforge.evaluate import EVALUATORS, Latency, TrainEvaluator, measure_latency
from nasforge.evaluate.latency import LatencySettings

QUICK = 0.01  # seconds timed per measurement: enough for a tiny model, fast tests


def test_settings_defaults_and_partial_settings() -> None:
    assert LatencySettings.parse(None) == LatencySettings()
    assert LatencySettings() == LatencySettings(64, ("torch",), 1, 0.1)
    partial = LatencySettings.parse({"runtimes": ["torch", "onnx"], "batch_size": 8})
    assert partial == LatencySettings(8, ("torch", "onnx"), 1, 0.1)
    assert partial.to_dict() == {
        "batch_size": 8, "runtimes": ["torch", "onnx"], "threads": 1, "min_run_time": 0.1,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("latency", "field", "fix"),
    [
        pytest.param({"batchsize": 8}, "evaluator.latency.batchsize", "did you mean 'batch_size'",
                     id="unknown-key"),
        pytest.param({"runtimes": []}, "evaluator.latency.runtimes", "", id="empty-runtimes"),
        pytest.param({"runtimes": ["tensorrt"]}, "evaluator.latency.runtimes.0", "'torch'",
                     id="unknown-runtime"),
        pytest.param({"runtimes": ["onnx", "onnx"]}, "evaluator.latency.runtimes",
                     "list each runtime once", id="twice"),
        pytest.param({"batch_size": 0}, "evaluator.latency.batch_size", ">= 1", id="batch"),
        pytest.param({"threads": 0}, "evaluator.latency.threads", ">= 1", id="threads"),
        pytest.param({"min_run_time": 0}, "evaluator.latency.min_run_time", "> 0", id="time"),
        pytest.param({"min_run_time": math.inf}, "evaluator.latency.min_run_time", "",
                     id="infinite-time"),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(
    latency: dict[str, Any], field: str, fix: str
) -> None:
    for make in (lambda: TrainEvaluator(latency=latency),
                 lambda: EVALUATORS.create("train", {"latency": latency}, field="evaluator")):
        with pytest.raises(ConfigError) as caught:
            make()
        (problem,) = caught.value.problems
        assert problem.field == field
        assert fix in problem.fix


def test_settings_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match=r"evaluator\.latency"):
        LatencySettings.parse([64])  # type: ignore[arg-type]


def test_train_evaluator_keeps_the_settings_verbatim() -> None:
    evaluator = TrainEvaluator(latency={"batch_size": 16})
    assert evaluator.get_params()["latency"] == {"batch_size": 16}
    assert evaluator.latency_settings == LatencySettings(batch_size=16)
    assert EVALUATORS.create("train", evaluator.get_params()) == evaluator


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def test_torch_latency_is_positive_and_describes_itself() -> None:
    found = measure_latency(_model(), (6,), batch_size=4, min_run_time=QUICK, warmup=1)
    assert isinstance(found, Latency)
    assert (found.runtime, found.batch_size, found.threads) == ("torch", 4, 1)
    assert math.isfinite(found.median_ms) and found.median_ms > 0
    assert math.isfinite(found.iqr_ms) and found.iqr_ms >= 0
    assert found.runs >= 1 and found.passes >= found.runs
    assert found.spread == pytest.approx(found.iqr_ms / found.median_ms)
    assert found.to_dict()["median_ms"] == found.median_ms


def test_restores_threads_training_mode_and_state() -> None:
    model = _model().train()
    running = model[1].running_mean.clone()
    torch.set_num_threads(2)  # the fixture restores the setting before the test after
    measure_latency(model, (6,), threads=1, min_run_time=QUICK, warmup=1)
    assert torch.get_num_threads() == 2
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    torch.testing.assert_close(model[1].running_mean, running)  # timed in eval mode
    model.eval()
    measure_latency(model, (6,), min_run_time=QUICK, warmup=0)
    assert not model.training


def test_onnx_latency() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = _model().train()
    found = measure_latency(model, (6,), batch_size=2, runtime="onnx", min_run_time=QUICK)
    assert (found.runtime, found.batch_size) == ("onnx", 2)
    assert math.isfinite(found.median_ms) and found.median_ms > 0
    assert model.training


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"threads": 0}, "threads must be >= 1"),
        ({"warmup": -1}, "warmup must be >= 1; got -1"),
        ({"min_run_time": 0}, "min_run_time must be > 0"),
        ({"runtime": "tensorrt"}, "runtime must be one of"),
    ],
)
def test_measure_refuses_bad_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        measure_latency(_model(), (6,), **kwargs)
