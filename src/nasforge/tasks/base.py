"""Tasks: a dataset split into train / validation / test plus what a network needs to know of it.

A :class:`Task` is a lightweight, picklable description; :meth:`Task.load` materialises the data
and caches it per process, so sending a task to a worker costs a few bytes, not the dataset.
A :class:`Split` holds in-memory arrays (the fast path every built-in task uses) or a torch
``Dataset``; :meth:`Split.loader` reads either in batches.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from nasforge.config import Component
from nasforge.registry import Registry

if TYPE_CHECKING:  # torch is imported when data is read, so importing tasks stays cheap
    import torch
    from torch.utils.data import DataLoader, Dataset

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
        groups: the values of the task's sensitive attribute, in the order of the group codes
            its splits carry (:attr:`Split.group`); empty when the task has no groups. Group
            metrics (demographic parity, equalized odds, worst-group accuracy) need them.
    """

    name: str
    input_shape: tuple[int, ...]
    n_classes: int
    kind: Kind
    problem: Problem = "classification"
    n_targets: int = 0
    groups: tuple[str, ...] = ()

    @property
    def has_groups(self) -> bool:
        """Whether every example carries a sensitive-attribute group (:attr:`groups`)."""
        return bool(self.groups)

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
        if self.groups:  # absent without groups, so older exports read and compare unchanged
            data["groups"] = list(self.groups)
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
            groups=tuple(str(g) for g in data.get("groups", ())),
        )


@dataclass(frozen=True)
class Split:
    """One split of a task: in-memory arrays (the fast path) or a torch ``Dataset``.

    Arrays: inputs ``x`` (float32, first axis = examples) and targets ``y``: int64 class ids of
    shape ``(n,)`` for classification, float32 of shape ``(n, n_targets)`` for regression.

    Dataset: ``dataset[i]`` gives ``(input, target)``; an input is a tensor (or array) of the
    task's ``input_shape``, a target an int class id or a float (or a float tensor of
    ``n_targets`` values). ``collate_fn`` and ``num_workers`` come from a user's ``DataLoader``
    and are used for every batch; batch size and order are chosen by whoever reads the split.

    Groups: ``group`` optionally gives each example's sensitive-attribute group as an int64 code
    (an index into :attr:`TaskInfo.groups`), in the order of the examples, for group metrics.

    Read batches with :meth:`loader` (any split) or take the split whole with :meth:`tensors`;
    both give float32 inputs, and targets as the arrays hold them or as the Dataset's examples
    collate (a regression Dataset of scalar floats gives shape ``(n,)``).

    Example:
        >>> split = Split(np.zeros((5, 3), np.float32), np.arange(5))
        >>> [tuple(x.shape) for x, _ in split.loader(2)]
        [(2, 3), (2, 3), (1, 3)]
    """

    x: np.ndarray | None = None
    y: np.ndarray | None = None
    dataset: Dataset[Any] | None = None
    collate_fn: Callable[[list[Any]], Any] | None = None
    num_workers: int = 0
    group: np.ndarray | None = None

    def __post_init__(self) -> None:
        has_arrays = self.x is not None and self.y is not None
        if has_arrays == (self.dataset is not None) or (self.x is None) != (self.y is None):
            raise ValueError("a Split holds either arrays x and y, or a dataset; not both")
        if self.group is not None:
            if self.group.ndim != 1 or len(self.group) != len(self):
                raise ValueError(
                    f"a Split's group must be 1-D with one code per example ({len(self)}); got "
                    f"shape {self.group.shape}"
                )
            if self.group.dtype.kind not in "iu":
                raise ValueError(
                    f"a Split's group holds int codes into TaskInfo.groups; got {self.group.dtype}"
                )

    @property
    def is_dataset(self) -> bool:
        """Whether examples come from a torch ``Dataset`` rather than in-memory arrays."""
        return self.dataset is not None

    def __len__(self) -> int:
        if self.y is not None:
            return len(self.y)
        return len(self.dataset)  # type: ignore[arg-type]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The in-memory ``(x, y)`` arrays.

        Raises:
            TypeError: the split is a Dataset (use :meth:`loader`, or :meth:`tensors`).
        """
        if self.x is None or self.y is None:
            raise TypeError(
                "this split is a torch Dataset, not arrays; read it with split.loader(batch_size)"
                " or split.tensors()"
            )
        return self.x, self.y

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All inputs and targets as two tensors (inputs float32).

        For arrays these share memory with ``x`` and ``y`` (no copy). For a Dataset every example
        is read once and stacked, so use it only for data that fits in memory.
        """
        import torch

        if self.x is not None and self.y is not None:
            return torch.from_numpy(self.x), torch.from_numpy(self.y)
        xs, ys = [], []
        for x, y in self.loader(256):
            xs.append(x)
            ys.append(y)
        return torch.cat(xs), torch.cat(ys)

    def loader(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> DataLoader[Any]:
        """A ``DataLoader`` over this split: float32 inputs, targets as for arrays.

        Args:
            batch_size: examples per batch.
            shuffle: visit examples in a new order each pass, drawn from a ``torch.Generator``
                seeded with ``seed`` (so two loaders with the same seed give the same batches).
            seed: seeds the shuffling.
            drop_last: drop a last, smaller batch.
        """
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        generator = torch.Generator().manual_seed(seed) if shuffle else None
        if self.x is not None and self.y is not None:
            data: Dataset[Any] = TensorDataset(torch.from_numpy(self.x), torch.from_numpy(self.y))
            collate: Callable[[list[Any]], Any] | None = None
            workers = 0
        else:
            assert self.dataset is not None  # by __post_init__
            data, workers = self.dataset, self.num_workers
            collate = _Collate(self.collate_fn)
        return DataLoader(
            data,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
            drop_last=drop_last,
            collate_fn=collate,
            num_workers=workers,
        )

    def batches(self, index_batches: Sequence[list[int]]) -> DataLoader[Any]:
        """A ``DataLoader`` yielding exactly ``index_batches`` (lists of example indices), in
        order, read as :meth:`loader` reads them (for a trainer that draws its own order)."""
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        if self.x is not None and self.y is not None:
            data: Dataset[Any] = TensorDataset(torch.from_numpy(self.x), torch.from_numpy(self.y))
            return DataLoader(data, batch_sampler=index_batches)
        assert self.dataset is not None  # by __post_init__
        return DataLoader(
            self.dataset,
            batch_sampler=index_batches,
            collate_fn=_Collate(self.collate_fn),
            num_workers=self.num_workers,
        )


class _Collate:
    """Collate a Dataset's examples (the user's ``collate_fn`` or torch's default) and make the
    inputs float32, so a split reads the same whether it holds arrays or a Dataset."""

    def __init__(self, collate_fn: Callable[[list[Any]], Any] | None) -> None:
        self.collate_fn = collate_fn

    def __call__(self, examples: list[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch
        from torch.utils.data import default_collate

        batch = (self.collate_fn or default_collate)(examples)
        x, y = batch[0], batch[1]
        x = torch.as_tensor(x)
        return (x if x.dtype == torch.float32 else x.float()), torch.as_tensor(y)

@dataclass(frozen=True)
class TaskData:
    """A task's data: its :class:`TaskInfo` and three splits (arrays or Datasets, see
    :class:`Split`)."""

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
