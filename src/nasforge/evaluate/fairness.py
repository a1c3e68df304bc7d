"""Fairness metrics: how a classifier's predictions differ between groups of a sensitive attribute.

A task has groups when each example carries a sensitive-attribute value (``TaskInfo.groups``,
``Split.group``: a ``group`` array or CSV column, or the built-in ``diabetes_fair``). Three group
metrics are computed with fairlearn (Bird et al. 2020, https://fairlearn.org; the ``fair``
extra):

- **demographic parity difference** (``dp_diff``, 0 to 1, 0 is parity): the largest gap between
  two groups in the rate at which a class is predicted
  (:func:`fairlearn.metrics.demographic_parity_difference`);
- **equalized odds difference** (``eo_diff``, 0 to 1, 0 is parity): the larger of the largest
  gap in true-positive rate and the largest gap in false-positive rate between groups
  (:func:`fairlearn.metrics.equalized_odds_difference`); a rate that is undefined in a group (no
  positives, or no negatives, there) counts as 0, fairlearn's convention;
- **worst-group accuracy** (``worst_group_accuracy``, %): the accuracy of the group on which the
  classifier does worst (a :class:`fairlearn.metrics.MetricFrame`'s ``group_min``).

fairlearn defines the first two for binary classification, class 1 being the positive one, and
that is what a two-class task gets. A task of more classes gets each one-vs-rest (class ``c``
against the others, for every ``c``) and the largest, so 0 still means parity for every class.

:func:`fairness_problems` is the pre-flight check: a fairness metric asked for on a task with no
groups, or on a regression task, is refused with the fix.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from nasforge import metrics as M
from nasforge.errors import Problem
from nasforge.imports import missing_modules, try_import
from nasforge.tasks.base import Task, TaskInfo

_FEATURE = "Group (fairness) metrics"
GROUP_METRICS = ("dp_diff", "eo_diff", "worst_group_accuracy")
"""The keys :func:`group_metrics` returns; the train evaluator prefixes ``val_``/``test_``."""


def missing_fairlearn() -> bool:
    """Whether fairlearn (the ``fair`` extra) is missing; nothing is imported."""
    return bool(missing_modules("fair"))


def group_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, *, n_classes: int
) -> dict[str, float]:
    """Demographic parity difference, equalized odds difference and worst-group accuracy.

    Args:
        y_true: class ids, ``(n,)``.
        y_pred: predicted class ids, ``(n,)``.
        group: each example's group (any values), ``(n,)``.
        n_classes: the task's number of classes (2: fairlearn's binary definitions with class 1
            positive; more: the largest one-vs-rest value, see the module docstring).

    Returns:
        ``{"dp_diff": ..., "eo_diff": ..., "worst_group_accuracy": ...}``, the differences as
        fractions in [0, 1], the accuracy in percent.

    Raises:
        MissingDependencyError: fairlearn is not installed (``pip install 'nasforge[fair]'``).
        ValueError: the arrays differ in length or are empty.

    Example:
        >>> y = np.array([1, 1, 0, 0]); g = np.array(["a", "a", "b", "b"])
        >>> group_metrics(y, np.array([1, 1, 1, 0]), g, n_classes=2)["dp_diff"]
        0.5
    """
    with try_import("fair", _FEATURE) as imports:
        from fairlearn.metrics import (
            MetricFrame,
            demographic_parity_difference,
            equalized_odds_difference,
        )
    imports.check()
    y_true, y_pred, group = (np.asarray(a).reshape(-1) for a in (y_true, y_pred, group))
    if not len(y_true) == len(y_pred) == len(group) or len(y_true) == 0:
        raise ValueError(
            f"group metrics need y_true, y_pred and group of one equal, non-zero length; got "
            f"{len(y_true)}, {len(y_pred)} and {len(group)}"
        )
    positives = [1] if n_classes == 2 else range(n_classes)
    dp, eo = 0.0, 0.0
    for c in positives:
        t, p = (y_true == c).astype(np.int64), (y_pred == c).astype(np.int64)
        dp = max(dp, float(demographic_parity_difference(t, p, sensitive_features=group)))
        eo = max(eo, float(equalized_odds_difference(t, p, sensitive_features=group)))
    frame = MetricFrame(
        metrics=_accuracy, y_true=y_true, y_pred=y_pred, sensitive_features=group
    )
    worst = float(frame.group_min())
    return {"dp_diff": dp, "eo_diff": eo, "worst_group_accuracy": 100.0 * worst}


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def fairness_problems(task: Task | TaskInfo, metrics: Iterable[str]) -> list[Problem]:
    """Problems with asking for ``metrics`` on ``task``: a fairness metric (one of
    :data:`nasforge.metrics.FAIRNESS`) on a task without groups or on a regression task.

    Args:
        task: the task, or its :class:`~nasforge.tasks.TaskInfo`.
        metrics: the metrics asked for (objectives' and constraints' metrics).

    Returns:
        One :class:`~nasforge.errors.Problem` per fairness metric that cannot be computed,
        naming it under the field ``task``; empty when all can be (or none is asked for).
    """
    wanted = [m for m in dict.fromkeys(metrics) if m in M.FAIRNESS]
    if not wanted:
        return []
    info = task.info() if isinstance(task, Task) else task
    name = info.name
    if info.is_regression:
        return [
            Problem("task", f"{m!r} needs a classification task; {name!r} is a regression task",
                    "drop the fairness metric, or use a classification task with a group")
            for m in wanted
        ]  # fmt: skip
    if info.has_groups:
        return []
    return [
        Problem(
            "task",
            f"{m!r} is a group (fairness) metric, but task {name!r} has no group",
            "give the task a sensitive attribute: group: <column> for csv, group=<array> for "
            "arrays, or use the built-in diabetes_fair task",
        )
        for m in wanted
    ]
