"""`NB201Task` (``nb201`` in TASKS): the task of a NAS-Bench-201 benchmark study.

A benchmark study looks results up instead of training, but the study loop, reports and
``BestTrial.build()`` still want a task that says what the networks see. This task describes the
benchmark's images (CIFAR-10/100: 3×32×32, ImageNet16-120: 3×16×16) without loading anything;
asking it for data is an error saying why, so a ``train`` evaluator paired with it fails clearly.
"""

from __future__ import annotations

from nasforge.errors import ConfigError, Problem
from nasforge.evaluate.tabular._table import Dataset, n_classes
from nasforge.tasks.base import TASKS, Task, TaskData, TaskInfo

_SHAPES: dict[str, tuple[int, ...]] = {
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
    "imagenet16-120": (3, 16, 16),
}


@TASKS.register("nb201")
class NB201Task(Task):
    """The image task behind a NAS-Bench-201 table; describes its shape, holds no data.

    Args:
        dataset: ``cifar10``, ``cifar100`` or ``imagenet16-120``; give the ``nb201_table``
            evaluator the same.
    """

    kind = "image"

    def __init__(self, *, dataset: Dataset = "cifar10") -> None:
        self.dataset = dataset

    def info(self) -> TaskInfo:
        return TaskInfo(
            name=f"nb201-{self.dataset}",
            input_shape=_SHAPES[self.dataset],
            n_classes=n_classes(self.dataset),
            kind="image",
        )

    def _load(self) -> TaskData:
        raise ConfigError(
            [
                Problem(
                    "task",
                    f"task nb201 ({self.dataset}) has no data to train on: NAS-Bench-201 results "
                    "are looked up in a table, not trained",
                    "use evaluator: {name: nb201_table} with it, or a task with data (e.g. "
                    "mnist1d) to train networks",
                )
            ]
        )
