"""TrainEvaluator beyond arrays of classes: regression, Dataset splits, and the learning curve it
reports to ``ctx.reporter`` (pruned when the reporter says so)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from nasforge import metrics as M
from nasforge.architecture import Architecture
from nasforge.evaluate import TrainEvaluator, run_evaluation
from nasforge.evaluate.base import EvalContext
from nasforge.tasks import ArrayTask, DatasetTask, get_task
from nasforge.tasks.base import TaskInfo
from nasforge.trial import Candidate, Status
from tests.evaluate.conftest import TinySpace, tiny_arrays


class OutputsSpace(TinySpace):
    """TinySpace with a head of ``task.n_outputs`` (classes or regression targets)."""

    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module:
        hidden = int(arch["hidden"])
        return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(task.input_shape)), hidden),
                             nn.ReLU(), nn.Linear(hidden, task.n_outputs))


class FakeReporter:
    """Records reports; asks to prune after ``prune_after`` reports (never when None)."""

    def __init__(self, prune_after: int | None = None) -> None:
        self.prune_after = prune_after
        self.reports: list[tuple[int, dict[str, float]]] = []

    def report(self, step: int, values: Mapping[str, float]) -> None:
        self.reports.append((step, dict(values)))

    def should_prune(self) -> bool:
        return self.prune_after is not None and len(self.reports) >= self.prune_after


ARCH = Architecture(hidden=8, bn=True, dropout=True, nan=False)


def _fast(**overrides: Any) -> TrainEvaluator:
    params: dict[str, Any] = {"epochs": 5, "batch_size": 16, "lr": 0.02, "measure_latency": False,
                              "device": "cpu"}
    return TrainEvaluator(**{**params, **overrides})


def _regression_task() -> ArrayTask:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 5))
    noise = 0.1 * rng.normal(size=(160, 2))
    y = np.stack([x @ rng.normal(size=5), np.sin(x[:, 0])], axis=1) + noise
    return ArrayTask(x=x, y=y, problem="regression", seed=0)


def test_regression_metrics_learn_and_match_sklearn() -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    task, space = _regression_task(), OutputsSpace()
    evaluator = _fast(epochs=8)
    result = evaluator.evaluate(Candidate(ARCH), EvalContext(space=space, task=task, seed=0))
    assert result.status is Status.OK, result.reason
    m = result.metrics
    assert set(evaluator.provides_for(task.info())) - {M.LATENCY_MS} == set(m)
    assert M.VAL_ACCURACY not in m and M.TEST_ACCURACY not in m
    assert m[M.VAL_R2] > 0.5 and m[M.TEST_R2] > 0.5 and m[M.VAL_MSE] < 0.5
    # The test metrics are those of the best-validation weights: recompute them from the
    # saved weights (the run is deterministic) with scikit-learn.
    x, y = task.load().test.tensors()
    predictions = _best_predictions(task, space, x)
    assert m[M.TEST_MSE] == pytest.approx(mean_squared_error(y, predictions), rel=1e-5)
    assert m[M.TEST_MAE] == pytest.approx(mean_absolute_error(y, predictions), rel=1e-5)
    assert m[M.TEST_R2] == pytest.approx(r2_score(y, predictions), rel=1e-5)


def _best_predictions(task: ArrayTask, space: OutputsSpace, x: torch.Tensor) -> np.ndarray:
    """Predictions of the best-validation weights, saved through a workdir."""
    import tempfile

    from nasforge.evaluate.base import WEIGHTS_FILE

    with tempfile.TemporaryDirectory() as workdir:
        _fast(epochs=8).evaluate(
            Candidate(ARCH), EvalContext(space=space, task=task, seed=0, workdir=workdir)
        )
        model = space.build(ARCH, task.info())
        model.load_state_dict(torch.load(f"{workdir}/{WEIGHTS_FILE}", weights_only=True))
    model.eval()
    with torch.no_grad():
        return model(x).numpy()


def test_diabetes_trains_and_provides_depend_on_the_task() -> None:
    task = get_task({"name": "diabetes"})
    evaluator = _fast(epochs=3)
    result = evaluator.evaluate(Candidate(ARCH), EvalContext(space=OutputsSpace(), task=task,
                                                             seed=1))
    assert result.status is Status.OK and np.isfinite(result.metrics[M.TEST_MSE])
    classes = evaluator.provides_for(get_task("wine").info())
    assert M.VAL_ACCURACY in classes and M.VAL_MSE not in classes
    assert {M.VAL_MSE, M.VAL_ACCURACY} <= set(TrainEvaluator.provides)
    assert M.DIRECTIONS[M.VAL_MSE] == "min" and M.DIRECTIONS[M.VAL_R2] == "max"


def _as_datasets(task: ArrayTask) -> DatasetTask:
    data = task.load()
    parts = {}
    for name in ("train", "val", "test"):
        x, y = getattr(data, name).tensors()
        # float64 inputs and scalar targets: the trainer converts them as it reads batches
        parts[name] = TensorDataset(x.double(), y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y)
    return DatasetTask(**parts)


@pytest.mark.parametrize("problem", ["classification", "regression"])
def test_dataset_splits_train_exactly_as_arrays(problem: str) -> None:
    if problem == "regression":
        x, y = tiny_arrays()
        arrays = ArrayTask(x=x, y=y[:, None] * 1.5 + x[:, :1], problem="regression")
    else:
        x, y = tiny_arrays()
        arrays = ArrayTask(x=x, y=y, val_fraction=0.25)
    datasets = _as_datasets(arrays)
    assert datasets.info().problem == problem
    space = OutputsSpace()
    a = _fast().evaluate(Candidate(ARCH), EvalContext(space=space, task=arrays, seed=3))
    b = _fast().evaluate(Candidate(ARCH), EvalContext(space=space, task=datasets, seed=3))
    assert a.status is b.status is Status.OK, (a.reason, b.reason)
    keys = set(a.metrics) - {M.TRAIN_SECONDS}
    assert keys == set(b.metrics) - {M.TRAIN_SECONDS}
    for key in keys:
        assert a.metrics[key] == pytest.approx(b.metrics[key], rel=1e-6, abs=1e-9), key


def test_each_epoch_is_reported_and_a_prune_stops_training() -> None:
    x, y = tiny_arrays()
    task = ArrayTask(x=x, y=y, val_fraction=0.25)
    reporter = FakeReporter()
    ctx = EvalContext(space=OutputsSpace(), task=task, seed=0, reporter=reporter)
    result = _fast(epochs=4).evaluate(Candidate(ARCH), ctx)
    assert [step for step, _ in reporter.reports] == [0, 1, 2, 3]
    assert all(set(v) == {M.VAL_ACCURACY, M.VAL_LOSS} for _, v in reporter.reports)
    assert max(v[M.VAL_ACCURACY] for _, v in reporter.reports) == result.metrics[M.VAL_ACCURACY]

    pruning = FakeReporter(prune_after=2)
    ctx = EvalContext(space=OutputsSpace(), task=task, seed=0, reporter=pruning)
    pruned = run_evaluation(_fast(epochs=4), Candidate(ARCH), ctx)
    assert pruned.status is Status.PRUNED
    assert "pruned after epoch 2 (step 1: val_accuracy" in (pruned.reason or "")
    assert [step for step, _ in pruning.reports] == [0, 1]

    regression = FakeReporter()
    ctx = EvalContext(space=OutputsSpace(), task=_regression_task(), seed=0, reporter=regression)
    _fast(epochs=2).evaluate(Candidate(ARCH), ctx)
    assert [set(v) for _, v in regression.reports] == [{M.VAL_MSE, M.VAL_MAE, M.VAL_R2}] * 2
