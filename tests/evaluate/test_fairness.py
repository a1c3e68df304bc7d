"""Group metrics against values worked out by hand, the one-vs-rest extension to more classes,
the missing-extra message, and the pre-flight refusal of fairness metrics on tasks without
groups."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from nasforge import metrics as M
from nasforge.evaluate.fairness import fairness_problems, group_metrics, missing_fairlearn
from nasforge.imports import MissingDependencyError
from nasforge.tasks import ArrayTask, get_task
from nasforge.tasks.base import TaskInfo


def test_binary_metrics_match_hand_computed_rates() -> None:
    # group a: 4 examples, group b: 4 examples.
    y_true = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    group = np.array(["a"] * 4 + ["b"] * 4)
    found = group_metrics(y_true, y_pred, group, n_classes=2)
    # Selection rates: a 3/4, b 1/4 -> 0.5. TPR: a 2/2, b 1/2; FPR: a 1/2, b 0/2 -> max 0.5.
    assert found["dp_diff"] == pytest.approx(0.5)
    assert found["eo_diff"] == pytest.approx(0.5)
    # Accuracy: a 3/4, b 3/4.
    assert found["worst_group_accuracy"] == pytest.approx(75.0)


def test_equal_treatment_scores_zero_and_worst_group_is_the_minimum() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 200)
    group = np.repeat([0, 1], 100)
    perfect = group_metrics(y_true, y_true, group, n_classes=2)
    assert perfect == {"dp_diff": perfect["dp_diff"], "eo_diff": 0.0, "worst_group_accuracy": 100}
    y_pred = y_true.copy()
    y_pred[100:130] = 1 - y_pred[100:130]  # group 1 gets 30 of its 100 wrong
    found = group_metrics(y_true, y_pred, group, n_classes=2)
    assert found["worst_group_accuracy"] == pytest.approx(70.0)
    by_hand = abs(y_pred[:100].mean() - y_pred[100:].mean())
    assert found["dp_diff"] == pytest.approx(by_hand)


def test_more_classes_take_the_largest_one_vs_rest_gap() -> None:
    y_true = np.array([0, 1, 2, 0, 1, 2])
    y_pred = np.array([0, 1, 2, 2, 2, 2])
    group = np.array([0, 0, 0, 1, 1, 1])
    found = group_metrics(y_true, y_pred, group, n_classes=3)
    # Rates of predicting class 2: group 0 1/3, group 1 3/3 -> 2/3 (classes 0, 1: 1/3).
    assert found["dp_diff"] == pytest.approx(2 / 3)
    # Class 2 against the rest: FPR group 0 0/2, group 1 2/2 -> 1.
    assert found["eo_diff"] == pytest.approx(1.0)
    assert found["worst_group_accuracy"] == pytest.approx(100 / 3)


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="one equal, non-zero length; got 3, 3 and 2"):
        group_metrics(np.zeros(3), np.zeros(3), np.zeros(2), n_classes=2)


def test_missing_fairlearn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fairlearn", None)
    monkeypatch.setitem(sys.modules, "fairlearn.metrics", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'nasforge\[fair\]'"):
        group_metrics(np.zeros(2), np.zeros(2), np.array([0, 1]), n_classes=2)
    assert missing_fairlearn()
    monkeypatch.undo()
    assert not missing_fairlearn()


def test_fairness_metric_on_a_task_without_groups_is_refused() -> None:
    problems = fairness_problems(get_task("wine"), [M.VAL_ACCURACY, M.VAL_DP_DIFF, M.VAL_DP_DIFF])
    assert len(problems) == 1  # once per metric
    assert problems[0].field == "task"
    assert "'val_dp_diff' is a group (fairness) metric, but task 'wine' has no group" in (
        problems[0].message
    )
    assert "group: <column>" in problems[0].fix and "diabetes_fair" in problems[0].fix
    assert fairness_problems(get_task("wine"), [M.VAL_ACCURACY, M.PARAMS]) == []


def test_fairness_metric_on_a_task_with_groups_is_allowed() -> None:
    assert fairness_problems(get_task("diabetes_fair"), M.FAIRNESS) == []
    x = np.random.default_rng(0).normal(size=(40, 2))
    task = ArrayTask(x=x, y=np.arange(40) % 2, group=np.arange(40) % 2)
    assert fairness_problems(task, [M.TEST_EO_DIFF]) == []


def test_fairness_metric_on_a_regression_task_is_refused() -> None:
    info = TaskInfo("r", (3,), 0, "tabular", problem="regression", n_targets=1, groups=("a", "b"))
    (problem,) = fairness_problems(info, [M.TEST_WORST_GROUP_ACCURACY])
    assert "needs a classification task" in problem.message
