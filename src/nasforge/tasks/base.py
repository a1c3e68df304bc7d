"""Tasks: a dataset split into train / validation / test plus what a network needs to know of it.

A :class:`Task` is a lightweight, picklable description; :meth:`Task.load` materialises the data
and caches it per process, so sending a task to a worker costs a few bytes, not the dataset.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from nasforge.config import Component
from nasforge.registry import Registry

Kind = Literal["signal", "image", "tabular"]
Problem = Literal["classification", "regression"]


@dataclass(frozen=True)
class TaskInfo:
    """The shape of a task, all a search space needs to build a network for it.

    Attributes:
        input_shape: one example's shape: ``(C, L)`` for 1-D signals, ``(C, H, W)`` for images,
            ``(F,)`` for tabular features.
        n_classes: number of classes of a classification task; ``0`` for regression.
        kind: ``signal``, ``image`` or ``tabular``; spaces use it to pick 1-D, 2-D or dense layers.
        problem: ``classification`` (integer labels, one logit per class) or ``regression``
            (float targets, one output per target).
        n_targets: number of regression targets (``0`` for classification).
    """

    name: str
    input_shape: tuple[int, ...]
    n_classes: int
    kind: Kind
    problem: Problem = "classification"
    n_targets: int = 0

    @property
    def n_outputs(self) -> int:
        """Width of a network's last layer: one logit per class, or one output per target."""
        return self.n_targets if self.problem == "regression" else self.n_classes

    @property
    def is_regression(self) -> bool:
        return self.problem == "regression"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
            "kind": self.kind,
        }
        if self.is_regression:
            data.update(problem=self.problem, n_targets=self.n_targets)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskInfo:
        return cls(
            name=data["name"],
            input_shape=tuple(data["input_shape"]),
            n_classes=int(data["n_classes"]),
            kind=data["kind"],
            problem=data.get("problem", "classification"),
            n_targets=int(data.get("n_targets", 0)),
        )


@dataclass(frozen=True)
class Split:
    """Inputs ``x`` (float32, first axis = examples) and integer labels ``y`` (int64)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class TaskData:
    info: TaskInfo
    train: Split
    val: Split
    test: Split


_CACHE: dict[tuple[str, str], TaskData] = {}


class Task(Component, ABC):
    """A registered dataset with its splits. Subclasses implement :meth:`_load`."""

    kind: ClassVar[Kind] = "tabular"

    @abstractmethod
    def _load(self) -> TaskData:
        """Read or generate the data (called once per process per parameter set)."""

    def load(self) -> TaskData:
        """The task's data, cached in this process."""
        key = (type(self).__qualname__, repr(sorted(self.get_params().items())))
        if key not in _CACHE:
            _CACHE[key] = self._load()
        return _CACHE[key]

    def info(self) -> TaskInfo:
        return self.load().info


TASKS: Registry[Task] = Registry("task")
"""Registered tasks (``@TASKS.register("mnist1d")``)."""
