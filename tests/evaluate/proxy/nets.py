"""Tiny hand-checkable networks and tasks for the computed proxies' tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch import nn

from nasforge.architecture import Architecture
from nasforge.space.base import SearchSpace
from nasforge.tasks.base import Split, Task, TaskData, TaskInfo


class FixedNetSpace(SearchSpace):
    """A one-architecture space whose network is ``make(task_info)``."""

    def __init__(self, *, make: Callable[[TaskInfo], nn.Module]) -> None:
        self.make = make

    def sample(self, rng: np.random.Generator) -> Architecture:
        return Architecture(net=0)

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        return arch

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        return []

    def encode(self, arch: Architecture) -> np.ndarray:
        return np.zeros(1)

    def validate(self, arch: Architecture) -> None:
        pass

    @property
    def size(self) -> float:
        return 1.0

    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module:
        return self.make(task)


class ArrayTask(Task):
    """A classification task over given training arrays (validation and test reuse them)."""

    def __init__(self, *, x: Any, y: Any, n_classes: int = 2) -> None:
        self.x = np.asarray(x, np.float32)
        self.y = np.asarray(y, np.int64)
        self.n_classes = n_classes

    def load(self) -> TaskData:
        return self._load()  # not cached: the process cache keys on parameters' repr

    def _load(self) -> TaskData:
        split = Split(self.x, self.y)
        info = TaskInfo("arrays", tuple(self.x.shape[1:]), self.n_classes, "tabular")
        return TaskData(info, split, split, split)


ARCH = Architecture(net=0)
