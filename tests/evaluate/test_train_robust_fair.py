"""TrainEvaluator's robustness and group metrics: which metrics each task gets, their values
against the clean ones, determinism, the pre-flight refusals and a whole study on
``diabetes_fair`` that searches on a group metric."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import nasforge as nf
from nasforge import metrics as M
from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluate import EVALUATORS, TrainEvaluator
from nasforge.evaluate.base import WEIGHTS_FILE, EvalContext
from nasforge.tasks import ArrayTask, from_datasets, get_task
from nasforge.trial import Candidate, Status

from .conftest import TinySpace, tiny_arrays


def _fast(**overrides: Any) -> TrainEvaluator:
    params: dict[str, Any] = {
        "epochs": 4, "batch_size": 16, "lr": 0.05, "measure_latency": False, "device": "cpu",
    }  # fmt: skip
    return TrainEvaluator(**{**params, **overrides})


def _grouped_task() -> ArrayTask:
    x, y = tiny_arrays()
    return ArrayTask(x=x, y=y, val_fraction=0.25, seed=0, group=np.where(x[:, 0] > 0, "p", "q"))


def test_zero_strength_gives_the_clean_accuracies(arch: Architecture, make_ctx: Any) -> None:
    result = _fast(robustness={"noise_std": 0.0, "fgsm_eps": 0.0}).evaluate(
        Candidate(arch), make_ctx()
    )
    assert result.status is Status.OK, result.reason
    m = result.metrics
    assert m[M.VAL_NOISE_ACCURACY] == m[M.VAL_FGSM_ACCURACY] == m[M.VAL_ACCURACY]
    assert m[M.TEST_NOISE_ACCURACY] == m[M.TEST_FGSM_ACCURACY] == m[M.TEST_ACCURACY]
    assert not set(M.FAIRNESS) & set(m)  # the task has no groups


def test_attacks_lower_accuracy_deterministically(arch: Architecture, make_ctx: Any) -> None:
    evaluator = _fast(robustness={"noise_std": 1.5, "fgsm_eps": 0.5})
    first = evaluator.evaluate(Candidate(arch), make_ctx()).metrics
    again = evaluator.evaluate(Candidate(arch), make_ctx()).metrics
    for key in M.ROBUSTNESS:
        assert first[key] == again[key], key
        assert 0 <= first[key] <= 100
    assert first[M.TEST_FGSM_ACCURACY] < first[M.TEST_ACCURACY]
    assert first[M.VAL_NOISE_ACCURACY] < first[M.VAL_ACCURACY]


def test_only_the_robustness_asked_for_is_listed_and_reported(
    arch: Architecture, make_ctx: Any
) -> None:
    evaluator = _fast(robustness={"fgsm_eps": 0.1})
    task = make_ctx().task
    listed = evaluator.metrics_for(task)
    assert M.TEST_FGSM_ACCURACY in listed and M.VAL_FGSM_ACCURACY in listed
    assert M.TEST_NOISE_ACCURACY not in listed
    reported = evaluator.evaluate(Candidate(arch), make_ctx()).metrics
    assert {k for k in M.ROBUSTNESS if k in reported} == {M.VAL_FGSM_ACCURACY, M.TEST_FGSM_ACCURACY}
    assert not set(M.ROBUSTNESS) & set(_fast().metrics_for(task))  # off by default
    assert set(M.ROBUSTNESS) | set(M.FAIRNESS) <= set(TrainEvaluator.provides)
    assert TrainEvaluator.units[M.TEST_FGSM_ACCURACY] == "%"


def test_robustness_on_a_regression_task_is_refused_at_preflight() -> None:
    evaluator = _fast(robustness={"noise_std": 0.1})
    task = get_task("diabetes")
    assert not set(M.ROBUSTNESS) & set(evaluator.metrics_for(task))
    space = nf.space.SPACES.create("mlp", {})
    (problem,) = evaluator.preflight(space, task)
    assert problem.field == "evaluator.robustness"
    assert "regression task" in problem.message and "remove evaluator.robustness" in problem.fix


@pytest.mark.parametrize(
    ("robustness", "match"),
    [
        ({"noise_sd": 0.1}, "did you mean 'noise_std'"),
        ({"fgsm_eps": -0.1}, "robustness.fgsm_eps"),
        ({"noise_std": float("inf")}, "robustness.noise_std"),
    ],
)
def test_bad_robustness_settings_name_the_key(robustness: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TrainEvaluator(robustness=robustness)


def test_settings_round_trip_and_do_not_change_the_checkpoint_key(make_ctx: Any) -> None:
    evaluator = _fast(robustness={"noise_std": 0.1, "fgsm_eps": 0.05}, fairness=False)
    assert EVALUATORS.create("train", evaluator.get_params()) == evaluator
    arch, ctx = Architecture(hidden=4, bn=True, dropout=True, nan=False), make_ctx()
    # Robustness and group metrics are measured after training, so they share checkpoints.
    assert evaluator._checkpoint_key(arch, ctx) == _fast()._checkpoint_key(arch, ctx)


def test_group_metrics_on_a_task_with_groups(arch: Architecture, space: TinySpace) -> None:
    task = _grouped_task()
    evaluator = _fast()
    assert set(M.FAIRNESS) <= set(evaluator.metrics_for(task))
    result = evaluator.evaluate(Candidate(arch), EvalContext(space=space, task=task, seed=0))
    assert result.status is Status.OK, result.reason
    m = result.metrics
    for split in ("val", "test"):
        assert 0 <= m[f"{split}_dp_diff"] <= 1 and 0 <= m[f"{split}_eo_diff"] <= 1
        assert 0 <= m[f"{split}_worst_group_accuracy"] <= m[f"{split}_accuracy"]
    again = evaluator.evaluate(Candidate(arch), EvalContext(space=space, task=task, seed=0))
    assert {k: again.metrics[k] for k in M.FAIRNESS} == {k: m[k] for k in M.FAIRNESS}
    off = _fast(fairness=False)
    assert not set(M.FAIRNESS) & set(off.metrics_for(task))
    plain = off.evaluate(Candidate(arch), EvalContext(space=space, task=task, seed=0)).metrics
    assert not set(M.FAIRNESS) & set(plain)


def test_group_metrics_match_the_kept_weights_predictions_by_hand(
    arch: Architecture, space: TinySpace, tmp_path: Path
) -> None:
    task = _grouped_task()
    ctx = EvalContext(space=space, task=task, seed=0, workdir=str(tmp_path))
    m = _fast().evaluate(Candidate(arch), ctx).metrics
    data = task.load()
    model = space.build(arch, data.info)
    model.load_state_dict(torch.load(tmp_path / WEIGHTS_FILE, weights_only=True))
    model.eval()
    x, y = data.test.tensors()
    with torch.no_grad():
        predicted = model(x).argmax(dim=1).numpy()
    group = data.test.group
    assert group is not None and set(group) == {0, 1}
    accuracy = [100 * np.mean(predicted[group == g] == y.numpy()[group == g]) for g in (0, 1)]
    assert m[M.TEST_WORST_GROUP_ACCURACY] == pytest.approx(min(accuracy))
    # Three classes: the largest gap over classes in the rate of predicting that class.
    rates = [[np.mean(predicted[group == g] == c) for g in (0, 1)] for c in range(3)]
    assert m[M.TEST_DP_DIFF] == pytest.approx(max(abs(a - b) for a, b in rates))


def test_missing_fairlearn_is_refused_at_preflight_on_a_task_with_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "fairlearn", None)
    space = nf.space.SPACES.create("mlp", {})
    (problem,) = _fast().preflight(space, get_task("diabetes_fair"))
    assert problem.field == "evaluator.fairness"
    assert "pip install 'nasforge[fair]'" in problem.fix
    assert "evaluator.fairness: false" in problem.fix
    assert _fast(fairness=False).preflight(space, get_task("diabetes_fair")) == []
    assert _fast().preflight(space, get_task("wine")) == []  # no groups, nothing needed


def test_a_study_on_diabetes_fair_searches_on_a_group_metric() -> None:
    study = nf.search(
        task="diabetes_fair", space="mlp", strategy="random",
        evaluator={"name": "train", "epochs": 2, "measure_latency": False,
                   "robustness": {"fgsm_eps": 0.1}},
        objectives=[{"metric": "val_dp_diff"}],
        executor="inline", budget={"trials": 2}, in_memory=True, export_best=False,
    )  # fmt: skip
    assert [(o.metric, o.direction) for o in study.spec.objectives] == [("val_dp_diff", "min")]
    best = study.best()
    assert best.metrics[M.VAL_DP_DIFF] == min(t.metrics[M.VAL_DP_DIFF] for t in study.trials())
    assert {M.TEST_EO_DIFF, M.TEST_WORST_GROUP_ACCURACY, M.TEST_FGSM_ACCURACY} <= set(best.metrics)


def test_a_group_metric_objective_on_a_task_without_groups_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        nf.search(
            task="wine", space="mlp", strategy="random",
            evaluator={"name": "train", "epochs": 2},
            objectives=[{"metric": "val_dp_diff", "direction": "min"}],
            executor="inline", budget={"trials": 2}, root=tmp_path / "runs",
        )  # fmt: skip
    assert "val_dp_diff" in str(info.value)
    assert not (tmp_path / "runs").exists()


class _Grouped(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """A Dataset of the tiny arrays with a ``groups`` attribute (read through a DataLoader)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
        self.groups = np.where(x[:, 0] > 0, "p", "q")

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def test_dataset_splits_with_groups_get_robustness_and_group_metrics(
    arch: Architecture, space: TinySpace
) -> None:
    x, y = tiny_arrays()
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    task = from_datasets(_Grouped(x[:90], y[:90]), _Grouped(x[120:], y[120:]),
                         _Grouped(x[90:120], y[90:120]))  # fmt: skip
    evaluator = _fast(robustness={"noise_std": 0.0, "fgsm_eps": 0.2})
    ctx = EvalContext(space=space, task=task, seed=0)
    first = evaluator.evaluate(Candidate(arch), ctx).metrics
    assert set(M.FAIRNESS) | set(M.ROBUSTNESS) <= set(first)
    assert first[M.TEST_NOISE_ACCURACY] == first[M.TEST_ACCURACY]  # read in the same order
    assert first[M.TEST_WORST_GROUP_ACCURACY] <= first[M.TEST_ACCURACY]
    again = evaluator.evaluate(Candidate(arch), ctx).metrics
    keys = (*M.FAIRNESS, *M.ROBUSTNESS)
    assert {k: again[k] for k in keys} == {k: first[k] for k in keys}
