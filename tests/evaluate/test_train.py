"""TrainEvaluator on a tiny MLP and a tiny array task: metrics, determinism, early stopping,
failures, time limits and checkpointed continuation."""

from __future__ import annotations

import math
import os
import pickle
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import nasforge.evaluate.train as train_module
from nasforge import metrics as M
from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluate import EVALUATORS, TrainEvaluator, run_evaluation
from nasforge.trial import Candidate, Status

# Metrics that do not depend on wall-clock time.
DETERMINISTIC = (
    M.VAL_ACCURACY,
    M.VAL_LOSS,
    M.TEST_ACCURACY,
    M.TRAIN_LOSS,
    M.PARAMS,
    M.FLOPS,
    M.EPOCHS,
    "best_epoch",
    "test_loss",
)


def _fast(**overrides: Any) -> TrainEvaluator:
    params: dict[str, Any] = {
        "epochs": 6, "batch_size": 16, "lr": 0.05, "measure_latency": False, "device": "cpu",
    }  # fmt: skip
    return TrainEvaluator(**{**params, **overrides})


def _stable(metrics: Any) -> dict[str, float]:
    return {k: metrics[k] for k in DETERMINISTIC if k in metrics}


def test_reports_all_metrics_and_learns(arch: Architecture, make_ctx: Any) -> None:
    result = _fast(measure_latency=True).evaluate(Candidate(arch), make_ctx())
    assert result.status is Status.OK, result.reason
    m = result.metrics
    for key in (*DETERMINISTIC, M.LATENCY_MS, M.TRAIN_SECONDS):
        assert key in m, key
    assert m[M.VAL_ACCURACY] > 70 and m[M.TEST_ACCURACY] > 70  # 3 classes: chance is 33%
    assert 0 <= m[M.VAL_ACCURACY] <= 100
    assert m[M.EPOCHS] == 6 and 1 <= m["best_epoch"] <= 6
    assert m[M.PARAMS] == (6 * 8 + 8) + 2 * 8 + (8 * 3 + 3)  # linear, batchnorm, linear
    assert m[M.FLOPS] == 2 * (6 * 8 + 8 * 3)
    assert m[M.LATENCY_MS] > 0 and result.cost_s > 0


def test_same_seed_same_metrics_other_seed_differs(arch: Architecture, make_ctx: Any) -> None:
    evaluator = _fast()
    before = torch.get_rng_state()
    a = evaluator.evaluate(Candidate(arch), make_ctx(seed=3))
    b = evaluator.evaluate(Candidate(arch), make_ctx(seed=3))
    c = evaluator.evaluate(Candidate(arch), make_ctx(seed=4))
    assert _stable(a.metrics) == _stable(b.metrics)
    assert a.metrics[M.TRAIN_LOSS] != c.metrics[M.TRAIN_LOSS]
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG is untouched


def test_fidelity_sets_epochs_and_cannot_exceed_max(arch: Architecture, make_ctx: Any) -> None:
    evaluator = _fast()
    assert evaluator.max_fidelity == 6
    assert evaluator.evaluate(Candidate(arch, fidelity=2), make_ctx()).metrics[M.EPOCHS] == 2
    result = run_evaluation(evaluator, Candidate(arch, fidelity=7), make_ctx())
    assert result.status is Status.FAILED
    assert "fidelity must be between 1 and the evaluator's epochs (6); got 7" in str(result.reason)


def test_early_stopping_stops_after_patience(make_ctx: Any) -> None:
    # An update too small to change float32 weights, no BatchNorm statistics: validation never
    # improves after the first epoch, so training stops after `patience` more.
    frozen = Architecture(hidden=8, bn=False, dropout=False, nan=False)
    evaluator = _fast(epochs=10, patience=2, optimizer="sgd", lr=1e-30, weight_decay=0.0)
    result = evaluator.evaluate(Candidate(frozen), make_ctx())
    assert result.ok
    assert result.metrics[M.EPOCHS] == 3
    assert result.metrics["best_epoch"] == 1
    without = _fast(epochs=4, optimizer="sgd", lr=1e-30, weight_decay=0.0)
    assert without.evaluate(Candidate(frozen), make_ctx()).metrics[M.EPOCHS] == 4


def test_nan_output_fails_with_epoch_and_step(make_ctx: Any) -> None:
    broken = Architecture(hidden=4, bn=True, dropout=True, nan=True)
    result = _fast().evaluate(Candidate(broken), make_ctx())
    assert result.status is Status.FAILED
    assert result.reason == "non-finite training loss at epoch 1, step 1"
    assert result.metrics[M.PARAMS] > 0  # costs are known even for a failed trial


def test_divergent_lr_fails_not_crashes(arch: Architecture, make_ctx: Any) -> None:
    result = run_evaluation(_fast(lr=1e30, optimizer="sgd", epochs=3), Candidate(arch), make_ctx())
    assert result.status is Status.FAILED
    assert "non-finite" in str(result.reason)


def test_zero_time_limit_times_out_at_first_step(arch: Architecture, make_ctx: Any) -> None:
    result = _fast().evaluate(Candidate(arch), make_ctx(time_limit_s=0.0))
    assert result.status is Status.TIMEOUT
    assert result.reason == "time limit reached at epoch 1, step 1"
    assert result.metrics[M.EPOCHS] == 0 and M.VAL_ACCURACY not in result.metrics


class _Clock:
    """A fake ``time`` module whose clock advances one second per training forward pass."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def test_time_limit_mid_training_keeps_partial_metrics(
    arch: Architecture, make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    monkeypatch.setattr(
        train_module, "time", types.SimpleNamespace(perf_counter=clock.perf_counter)
    )

    class Ticking(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.training:
                clock.now += 1.0
            return x

    space = make_ctx().space
    original = space.build
    monkeypatch.setattr(space, "build", lambda a, t: nn.Sequential(Ticking(), original(a, t)))
    evaluator = _fast()
    n_train = len(make_ctx().task.load().train)
    steps = evaluator._steps_per_epoch(n_train)
    # Room for one epoch and a half step: the second step of epoch 2 is refused.
    result = evaluator.evaluate(Candidate(arch), make_ctx(time_limit_s=steps + 0.5))
    assert result.status is Status.TIMEOUT
    assert result.reason == "time limit reached at epoch 2, step 2"
    assert result.metrics[M.EPOCHS] == 1
    assert M.VAL_ACCURACY in result.metrics and M.TEST_ACCURACY not in result.metrics


def test_continuation_equals_training_straight_through(
    arch: Architecture, make_ctx: Any, tmp_path: Path
) -> None:
    evaluator = _fast()
    straight = evaluator.evaluate(Candidate(arch, fidelity=5), make_ctx(seed=1))
    workdir = str(tmp_path)
    first = evaluator.evaluate(Candidate(arch, fidelity=2), make_ctx(seed=1, workdir=workdir))
    assert first.info["resumed_from_epoch"] == 0
    assert len([f for f in os.listdir(workdir) if f.startswith("train-")]) == 1
    more = evaluator.evaluate(Candidate(arch, fidelity=5), make_ctx(seed=1, workdir=workdir))
    assert more.info["resumed_from_epoch"] == 2
    assert _stable(more.metrics) == _stable(straight.metrics)
    assert more.metrics[M.TRAIN_SECONDS] >= first.metrics[M.TRAIN_SECONDS]  # cumulative

    # Asking for the same fidelity again is answered from the checkpoint, no training.
    again = evaluator.evaluate(Candidate(arch, fidelity=5), make_ctx(seed=1, workdir=workdir))
    assert again.info["resumed_from_epoch"] == 5
    assert _stable(again.metrics) == _stable(straight.metrics)

    # A lower fidelity cannot rewind: it is trained from scratch and the longer checkpoint kept.
    lower = evaluator.evaluate(Candidate(arch, fidelity=3), make_ctx(seed=1, workdir=workdir))
    fresh = evaluator.evaluate(Candidate(arch, fidelity=3), make_ctx(seed=1))
    assert lower.info["resumed_from_epoch"] == 0
    assert _stable(lower.metrics) == _stable(fresh.metrics)
    full = evaluator.evaluate(Candidate(arch), make_ctx(seed=1, workdir=workdir))
    assert full.info["resumed_from_epoch"] == 5


def test_checkpoint_not_shared_across_seeds_or_settings(
    arch: Architecture, make_ctx: Any, tmp_path: Path
) -> None:
    workdir = str(tmp_path)
    _fast().evaluate(Candidate(arch, fidelity=2), make_ctx(seed=1, workdir=workdir))
    other_seed = _fast().evaluate(Candidate(arch, fidelity=3), make_ctx(seed=2, workdir=workdir))
    other_lr = _fast(lr=0.02).evaluate(
        Candidate(arch, fidelity=3), make_ctx(seed=1, workdir=workdir)
    )
    assert other_seed.info["resumed_from_epoch"] == 0
    assert other_lr.info["resumed_from_epoch"] == 0
    # measure_latency does not change training, so it shares the checkpoint.
    latency = _fast(measure_latency=True).evaluate(
        Candidate(arch, fidelity=3), make_ctx(seed=1, workdir=workdir)
    )
    assert latency.info["resumed_from_epoch"] == 2


def test_early_stopped_checkpoint_answers_higher_fidelity(make_ctx: Any, tmp_path: Path) -> None:
    frozen = Architecture(hidden=8, bn=False, dropout=False, nan=False)
    evaluator = _fast(epochs=10, patience=1, optimizer="sgd", lr=1e-30, weight_decay=0.0)
    ctx = make_ctx(workdir=str(tmp_path))
    first = evaluator.evaluate(Candidate(frozen, fidelity=5), ctx)
    assert first.metrics[M.EPOCHS] == 2
    later = evaluator.evaluate(Candidate(frozen, fidelity=10), ctx)
    assert later.info["resumed_from_epoch"] == 2
    assert _stable(later.metrics) == _stable(first.metrics)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"optimizer": "sgd", "momentum": 0.9}, id="sgd-nesterov"),
        pytest.param({"optimizer": "sgd", "momentum": 0.0}, id="sgd-plain"),
        pytest.param({"optimizer": "adam", "lr": 0.01}, id="adam"),
        pytest.param({"optimizer": "adamw", "schedule": "constant"}, id="adamw-constant"),
        pytest.param({"grad_clip": 0.5, "label_smoothing": 0.1}, id="clip-smooth"),
        pytest.param({"batch_size": 1000}, id="full-batch"),
    ],
)
def test_optimizer_variants_train(
    overrides: dict[str, Any], arch: Architecture, make_ctx: Any
) -> None:
    result = _fast(epochs=3, **overrides).evaluate(Candidate(arch), make_ctx())
    assert result.ok, result.reason
    assert result.metrics[M.VAL_ACCURACY] > 50


def test_cosine_schedule_spans_max_epochs() -> None:
    evaluator = _fast(lr=1.0)
    assert evaluator._lr_at(0, 100) == 1.0
    assert evaluator._lr_at(50, 100) == pytest.approx(0.5)
    assert evaluator._lr_at(100, 100) == pytest.approx(0.0)
    assert _fast(lr=1.0, schedule="constant")._lr_at(50, 100) == 1.0


def test_steps_skip_a_final_batch_of_one() -> None:
    evaluator = _fast(batch_size=16)
    assert evaluator._steps_per_epoch(32) == 2
    assert evaluator._steps_per_epoch(33) == 2
    assert evaluator._steps_per_epoch(34) == 3
    assert evaluator._steps_per_epoch(5) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"epochs": 0}, "evaluator.epochs"),
        ({"lr": -1}, "evaluator.lr"),
        ({"optimizer": "rmsprop"}, "evaluator.optimizer"),
        ({"schedule": "step"}, "evaluator.schedule"),
        ({"patience": 0}, "evaluator.patience"),
        ({"device": "tpu"}, "evaluator.device"),
        ({"label_smoothing": 1.0}, "evaluator.label_smoothing"),
        ({"momentum": 1.0}, "evaluator.momentum"),
        ({"grad_clip": 0}, "evaluator.grad_clip"),
        ({"epoch": 3}, "evaluator.epoch"),
    ],
)
def test_bad_params_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        EVALUATORS.create("train", params, field="evaluator")
    assert field in [p.field for p in info.value.problems]


def test_params_round_trip_and_pickle() -> None:
    evaluator = TrainEvaluator(epochs=3, optimizer="sgd", patience=2, grad_clip=1.0)
    assert EVALUATORS.create("train", evaluator.get_params()) == evaluator
    assert pickle.loads(pickle.dumps(evaluator)) == evaluator
    assert EVALUATORS.get("train") is TrainEvaluator


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_requested_without_cuda_fails_clearly(arch: Architecture, make_ctx: Any) -> None:
    result = run_evaluation(TrainEvaluator(device="cuda"), Candidate(arch), make_ctx())
    assert result.status is Status.FAILED
    assert "CUDA is not available" in str(result.reason)


def test_best_weights_saved_for_export_and_not_replaced_by_lower_fidelity(
    arch: Architecture, make_ctx: Any, tmp_path: Path
) -> None:
    from nasforge.evaluate.base import WEIGHTS_FILE

    ctx = make_ctx(seed=1, workdir=str(tmp_path))
    result = _fast().evaluate(Candidate(arch, fidelity=4), ctx)
    weights = torch.load(tmp_path / WEIGHTS_FILE, weights_only=True)
    model = ctx.space.build(arch, ctx.task.info())
    model.load_state_dict(weights)  # strict: the plain state_dict of the built network
    data = ctx.task.load()
    test = train_module._Data(data.test, data.info, torch.device("cpu"))
    acc = _fast()._score(model, test, data.info)["accuracy"]
    assert acc == result.metrics[M.TEST_ACCURACY]
    _fast().evaluate(Candidate(arch, fidelity=2), ctx)
    again = torch.load(tmp_path / WEIGHTS_FILE, weights_only=True)
    assert all(torch.equal(weights[k], again[k]) for k in weights)


def test_damaged_checkpoint_is_ignored(
    arch: Architecture, make_ctx: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = make_ctx(seed=1, workdir=str(tmp_path))
    _fast().evaluate(Candidate(arch, fidelity=2), ctx)
    (checkpoint,) = tmp_path.glob("train-*.pt")
    checkpoint.write_bytes(b"not a checkpoint")
    result = _fast().evaluate(Candidate(arch, fidelity=3), ctx)
    assert result.ok and result.info["resumed_from_epoch"] == 0
    assert "ignoring unreadable checkpoint" in caplog.text


# -- latency and memory ------------------------------------------------------------------------

QUICK_LATENCY = {"min_run_time": 0.01}
TORCH_LATENCY = (M.LATENCY_MS, M.LATENCY_IQR_MS, M.LATENCY_BATCH_MS)
ONNX_LATENCY = (M.ONNX_LATENCY_MS, M.ONNX_LATENCY_BATCH_MS)


def test_latency_metrics_and_settings_by_default(arch: Architecture, make_ctx: Any) -> None:
    evaluator = _fast(epochs=1, measure_latency=True, latency=QUICK_LATENCY)
    result = evaluator.evaluate(Candidate(arch), make_ctx())
    m = result.metrics
    for key in (M.LATENCY_MS, M.LATENCY_BATCH_MS, M.MEMORY_MB):
        assert math.isfinite(m[key]) and m[key] > 0, key
    assert math.isfinite(m[M.LATENCY_IQR_MS]) and m[M.LATENCY_IQR_MS] >= 0
    assert not set(ONNX_LATENCY) & set(m)  # onnx is opt-in
    info = result.info["latency"]
    assert info["settings"] == {"batch_size": 64, "runtimes": ["torch"], "threads": 1,
                                "min_run_time": 0.01}
    measured = {(x["runtime"], x["batch_size"]): x for x in info["measured"]}
    assert set(measured) == {("torch", 1), ("torch", 64)}
    assert measured["torch", 1]["median_ms"] == m[M.LATENCY_MS]
    assert measured["torch", 1]["iqr_ms"] == m[M.LATENCY_IQR_MS]
    assert measured["torch", 64]["median_ms"] == m[M.LATENCY_BATCH_MS]
    assert all(x["threads"] == 1 for x in measured.values())
    expected = set(evaluator.provides_for(make_ctx().task.info()))
    assert set(m) == expected


def test_onnx_latency_at_batch_one_is_measured_once(arch: Architecture, make_ctx: Any) -> None:
    pytest.importorskip("onnxruntime")
    evaluator = _fast(epochs=1, measure_latency=True,
                      latency={**QUICK_LATENCY, "runtimes": ["onnx", "torch"], "batch_size": 1})
    result = evaluator.evaluate(Candidate(arch), make_ctx())
    m = result.metrics
    assert all(math.isfinite(m[k]) and m[k] > 0 for k in (M.LATENCY_MS, *ONNX_LATENCY))
    assert m[M.ONNX_LATENCY_BATCH_MS] == m[M.ONNX_LATENCY_MS]  # batch 1 is the latency batch
    assert m[M.LATENCY_BATCH_MS] == m[M.LATENCY_MS]
    runs = [(x["runtime"], x["batch_size"]) for x in result.info["latency"]["measured"]]
    assert runs == [("onnx", 1), ("torch", 1)]
    assert set(evaluator.provides_for(make_ctx().task.info())) >= set(ONNX_LATENCY)


def test_without_latency_memory_is_still_reported(
    arch: Architecture, make_ctx: Any, space: Any
) -> None:
    evaluator = _fast(epochs=1, latency={"batch_size": 5})
    result = evaluator.evaluate(Candidate(arch), make_ctx())
    info = make_ctx().task.info()
    assert not set(evaluator.LATENCY_METRICS) & set(result.metrics)
    assert not set(evaluator.LATENCY_METRICS) & set(evaluator.provides_for(info))
    assert "latency" not in result.info
    # memory_mb is the forward pass of latency.batch_size examples (exact on the CPU)
    expected = train_module.peak_memory_mb(space.build(arch, info), info.input_shape, batch_size=5)
    assert result.metrics[M.MEMORY_MB] == pytest.approx(expected)


def test_provides_follow_the_runtimes_asked_for(make_ctx: Any) -> None:
    info = make_ctx().task.info()
    torch_only = set(TrainEvaluator().provides_for(info))
    onnx_only = set(TrainEvaluator(latency={"runtimes": ["onnx"]}).provides_for(info))
    assert set(TORCH_LATENCY) <= torch_only and not set(ONNX_LATENCY) & torch_only
    assert set(ONNX_LATENCY) <= onnx_only and not set(TORCH_LATENCY) & onnx_only
    assert {*TORCH_LATENCY, *ONNX_LATENCY, M.MEMORY_MB} <= set(TrainEvaluator.provides)


def test_onnx_latency_without_onnxruntime_is_refused_at_preflight(
    make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx()
    monkeypatch.setattr(train_module, "missing_modules", lambda extra: ["onnxruntime"])
    onnx = _fast(measure_latency=True, latency={"runtimes": ["torch", "onnx"]})
    (problem,) = onnx.preflight(ctx.space, ctx.task)
    assert problem.field == "evaluator.latency.runtimes"
    assert "onnxruntime" in problem.message
    assert "pip install 'nasforge[onnx]'" in problem.fix
    assert _fast(measure_latency=True).preflight(ctx.space, ctx.task) == []  # torch only
    unmeasured = _fast(latency={"runtimes": ["onnx"]})  # measure_latency is off
    assert unmeasured.preflight(ctx.space, ctx.task) == []


def test_latency_settings_share_the_checkpoint(
    arch: Architecture, make_ctx: Any, tmp_path: Path
) -> None:
    workdir = str(tmp_path)
    _fast().evaluate(Candidate(arch, fidelity=2), make_ctx(workdir=workdir))
    other = _fast(measure_latency=True, latency={**QUICK_LATENCY, "batch_size": 3})
    assert other.evaluate(Candidate(arch, fidelity=2), make_ctx(workdir=workdir)).info[
        "resumed_from_epoch"
    ] == 2


def test_states_one_gpu_per_trial_only_for_device_cuda() -> None:
    from nasforge.evaluate.train import TrainEvaluator
    from nasforge.execute.resources import Resources, requested_resources

    assert requested_resources(TrainEvaluator(device="cuda")) == Resources(gpus=1.0)
    assert requested_resources(TrainEvaluator(device="cpu")) == Resources()
    assert requested_resources(TrainEvaluator()) == Resources()
