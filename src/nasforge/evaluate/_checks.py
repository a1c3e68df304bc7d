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
    """Load ``task``, build one sampled architecture of ``space`` and run a tiny batch through it.

    Returns the problems found: data that does not load, a space that cannot build a network for
    this task, or a network whose output does not have one logit per class.
    """
    import numpy as np
    import torch

    try:
        data = task.load()
    except Exception as exc:
        return task_problems(task, exc)
    arch = space.sample(np.random.default_rng(0))
    where = f"space {space.name!r} on task {task.name!r}"
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = space.build(arch, data.info)
            model.eval()
            with torch.no_grad():
                x = torch.as_tensor(data.train.x[:n_examples])
                out = model(x)
    except Exception as exc:
        return [
            Problem(
                "space",
                f"{where}: a sampled network fails on a batch of the task's data "
                f"({type(exc).__name__}: {exc}; architecture {space.format(arch)})",
                "choose a space that fits the task's input shape "
                f"{tuple(data.info.input_shape)}, or change its parameters",
            )
        ]
    expected = (len(x), data.info.n_classes)
    if tuple(out.shape) != expected:
        return [
            Problem(
                "space",
                f"{where}: a sampled network outputs shape {tuple(out.shape)}, expected "
                f"{expected} (one logit per class)",
                "build the last layer with task.n_classes outputs",
            )
        ]
    return []
