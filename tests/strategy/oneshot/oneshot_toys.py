"""A tiny signal task, nb201 settings and helpers for one-shot tests: seconds per search."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasforge.evaluate.base import EvalContext
from nasforge.space import NB201Space
from nasforge.tasks import ArrayTask

TINY_SPACE: dict[str, Any] = {"dims": 1, "channels": 4, "cells_per_stage": 1}
"""The nb201 settings of every one-shot test: 1-D, 4 channels, one cell per stage."""

FAST: dict[str, dict[str, Any]] = {
    "darts": {"epochs": 2, "batch_size": 16, "score_examples": 32, "bn_batches": 1},
    "gdas": {"epochs": 2, "batch_size": 16, "score_examples": 32, "bn_batches": 1},
    "enas": {"epochs": 2, "batch_size": 16, "controller_steps": 3, "n_final": 3,
             "score_examples": 32, "bn_batches": 1},
    "spos": {"epochs": 2, "batch_size": 16, "population": 4, "generations": 2, "parents": 2,
             "score_examples": 32, "bn_batches": 1},
}
"""Settings that keep each strategy's search to about a second on the tiny task."""


def tiny_task(seed: int = 0) -> ArrayTask:
    """120 examples of 1x16 signals in 3 classes, told apart by the sign of a bump."""
    rng = np.random.default_rng(seed)
    y = np.arange(120) % 3
    x = rng.normal(scale=0.3, size=(120, 1, 16)).astype(np.float32)
    x[:, 0, 4:8] += (y[:, None] - 1.0)
    return ArrayTask(x=x, y=y, seed=seed)


def context(space: NB201Space, task: ArrayTask, workdir: str | None = None,
            reporter: Any = None) -> EvalContext:
    """An evaluation context for a search outside a study."""
    return EvalContext(space=space, task=task, seed=0, workdir=workdir, reporter=reporter)


class Reports:
    """A reporter that keeps what it is given (and may act on a step: ``on_step``)."""

    def __init__(self, on_step: Any = None) -> None:
        self.steps: list[tuple[int, dict[str, float]]] = []
        self.on_step = on_step

    def report(self, step: int, values: Any) -> None:
        self.steps.append((step, dict(values)))
        if self.on_step is not None:
            self.on_step(step)

    def should_prune(self) -> bool:
        return False
