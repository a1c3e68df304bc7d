"""Tasks: datasets split into train / validation / test, and what a network needs to know of them.

Built-in tasks register on import: the classification tasks ``mnist1d``, ``digits``,
``breast_cancer``, ``wine`` and ``fashion_mnist``, the regression task ``diabetes``, the
fairness task ``diabetes_fair`` (its target cut at the median, ``sex`` as the group), and user
data through ``arrays`` (:class:`ArrayTask`), ``csv`` (:class:`CsvTask`), ``dataset`` (torch
Datasets or DataLoaders, :class:`DatasetTask`; in YAML
``task: {name: dataset, path: "mymodule:make_datasets"}``) and ``image_folder`` (one subfolder
per class, :class:`ImageFolderTask`). Arrays, CSV and Datasets may be classification or
regression (``problem: regression``); arrays and CSV take a ``group`` (a sensitive attribute
for group metrics; ``TaskInfo.groups`` lists its values), Datasets a ``groups`` attribute. Heavy
dependencies (mnist1d, scikit-learn, pandas, torch, Pillow) load only when a task's data is first
loaded, so importing this package is cheap.

A task's data is a :class:`TaskData` of three :class:`Split` objects; read one in batches with
``split.loader(batch_size, shuffle=True, seed=0)`` (a torch DataLoader, for arrays and Datasets
alike) or whole with ``split.tensors()``.

Example:
    >>> task = get_task({"name": "wine", "seed": 1})
    >>> task.info().n_classes
    3
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasforge.errors import ConfigError, Problem
from nasforge.tasks._dataset import DatasetTask, from_datasets
from nasforge.tasks._fashion import FashionMNISTTask
from nasforge.tasks._images import ImageFolderDataset, ImageFolderTask
from nasforge.tasks._mnist1d import MNIST1DTask
from nasforge.tasks._sklearn import (
    BreastCancerTask,
    DiabetesFairTask,
    DiabetesTask,
    DigitsTask,
    SklearnTask,
    WineTask,
)
from nasforge.tasks._user import ArrayTask, CsvTask
from nasforge.tasks._validate import check_splits
from nasforge.tasks.base import TASKS, Kind, Split, Task, TaskData, TaskInfo


def get_task(spec: str | Mapping[str, Any] | Task) -> Task:
    """Build a task from a registered name, a ``{name: ..., **params}`` mapping, or pass a Task.

    Raises:
        ConfigError: naming the field ``task`` (or ``task.<param>``) when the spec is not
            understood, the name is unknown or a parameter is invalid.
    """
    if isinstance(spec, Task):
        return spec
    if isinstance(spec, str):
        return TASKS.create(spec, {}, field="task")
    if isinstance(spec, Mapping):
        params = dict(spec)
        name = params.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(
                [
                    Problem(
                        "task.name",
                        f"a task mapping needs a 'name' string; got {name!r}",
                        f"add name: one of {', '.join(TASKS.names())}",
                    )
                ]
            )
        return TASKS.create(name, params, field="task")
    raise ConfigError(
        [
            Problem(
                "task",
                f"expected a task name or a mapping with 'name'; got {type(spec).__name__}",
                "use e.g. task: mnist1d, or task: {name: wine, seed: 0}",
            )
        ]
    )


__all__ = [
    "TASKS",
    "ArrayTask",
    "BreastCancerTask",
    "CsvTask",
    "DatasetTask",
    "DiabetesFairTask",
    "DiabetesTask",
    "DigitsTask",
    "FashionMNISTTask",
    "ImageFolderDataset",
    "ImageFolderTask",
    "Kind",
    "MNIST1DTask",
    "SklearnTask",
    "Split",
    "Task",
    "TaskData",
    "TaskInfo",
    "WineTask",
    "check_splits",
    "from_datasets",
    "get_task",
]
