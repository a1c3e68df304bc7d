"""Checks an evaluator runs before the first trial: does the task load, does a network fit it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasforge.errors import ConfigError, NasforgeError, Problem

if TYPE_CHECKING:
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task


def task_problems(task: Task, exc: Exception) -> list[Problem]:
    """Why ``task`` could not be loaded: its own problems when it names them (a missing file,
    a missing column), else one problem quoting the error."""
    if isinstance(exc, ConfigError):
        return list(exc.problems)
    if isinstance(exc, NasforgeError):  # its message says what to do (e.g. a missing file)
        return [Problem("task", f"task {task.name!r} could not be loaded: {exc}")]
    what = f"{type(exc).__name__}: {exc}"
    return [
        Problem(
            "task",
            f"task {task.name!r} could not be loaded: {what}",
            "check the task's path and columns (see `nasforge components task`)",
        )
    ]


def check_forward(space: SearchSpace, task: Task, *, n_examples: int = 2) -> list[Problem]:
    """Load ``task``, check its splits, build one sampled architecture of ``space`` and run a
    tiny batch of training examples through it.

    Returns the problems found, each naming the split, the example or the shape and the fix:
    data that does not load; splits that are empty or whose examples do not match the task
    (:func:`nasforge.tasks.check_splits`: wrong shapes, non-tensor inputs, float labels or class
    ids out of range in a classification task); a space that cannot build a network for this
    task; a network whose output is not ``(n, task.n_outputs)`` (one logit per class, or one
    output per regression target). Nothing is stored: the study runs this before it writes.
    """
    import numpy as np
    import torch

    from nasforge.tasks import check_splits

    try:
        data = task.load()
        problems = check_splits(data)
    except Exception as exc:
        return task_problems(task, exc)
    if problems:
        return problems
    info = data.info
    arch = space.sample(np.random.default_rng(0))
    where = f"space {space.name!r} on task {task.name!r}"
    n = min(n_examples, len(data.train))
    try:
        x, _ = next(iter(data.train.batches([list(range(n))])))
    except Exception as exc:
        return task_problems(task, exc)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = space.build(arch, info)
            model.eval()
            with torch.no_grad():
                out = model(x)
    except Exception as exc:
        return [
            Problem(
                "space",
                f"{where}: a sampled network fails on a batch of the task's data "
                f"({type(exc).__name__}: {exc}; architecture {space.format(arch)})",
                "choose a space that fits the task's input shape "
                f"{tuple(info.input_shape)}, or change its parameters",
            )
        ]
    expected = (len(x), info.n_outputs)
    shape = tuple(getattr(out, "shape", ()))
    if not isinstance(out, torch.Tensor) or shape != expected:
        what = (
            f"one output per regression target (n_targets = {info.n_targets})"
            if info.is_regression
            else f"one logit per class (n_classes = {info.n_classes})"
        )
        got = f"shape {shape}" if isinstance(out, torch.Tensor) else type(out).__name__
        return [
            Problem(
                "space",
                f"{where}: a sampled network outputs {got}, expected {expected} for a batch "
                f"of {len(x)} ({what}; architecture {space.format(arch)})",
                "build the last layer with task.n_outputs outputs (n_classes for "
                "classification, n_targets for regression)",
            )
        ]
    return []
