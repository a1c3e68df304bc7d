"""User data as torch ``Dataset`` / ``DataLoader`` objects: :class:`DatasetTask` (``dataset``).

A Dataset object cannot live in a YAML file, so the YAML form names a function that returns the
splits, ``task: {name: dataset, path: "mymodule:make_datasets", args: {...}}``; the Python API
may also pass the objects themselves. The function form travels to process workers by
reference: a worker imports ``mymodule`` and calls the function once per process, so no data is
pickled. Passing objects pickles them with the task (fine inline; for a process pool prefer the
function).

What a network needs to know is read from the data: the input shape from the first training
example, the problem from its target (an int class id: classification; a float or a float
tensor: regression), the number of classes from the largest class id of all splits (read from a
``targets`` attribute, a ``TensorDataset``'s tensors or a ``Subset`` of those when present, else by
reading each example once) and the number of targets from the target's size. Every inferred value
can be given instead.

Groups: a Dataset with a ``groups`` attribute (one sensitive-attribute value per example, as
``targets`` holds one class id per example; a ``Subset`` of such a Dataset too) gives the task
groups for group metrics. Either every split has one or none does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from nasforge import references
from nasforge.errors import ConfigError, Problem
from nasforge.tasks._split import as_groups, check_group_count, encode_labels, random_split
from nasforge.tasks.base import TASKS, Kind, Split, Task, TaskData, TaskInfo

_KINDS: dict[int, Kind] = {1: "tabular", 2: "signal", 3: "image"}
_SPLITS = ("train", "val", "test")


def resolve_reference(path: str, field: str) -> Any:
    """Import the object ``path`` names (see :func:`nasforge.references.resolve`)."""
    return references.resolve(path, field=field, example="mymodule:make_datasets")


def _unwrap(value: Any, field: str) -> Split:
    """A :class:`Split` of a Dataset, or of a DataLoader's dataset, collate_fn and workers."""
    from torch.utils.data import DataLoader, Dataset

    if isinstance(value, DataLoader):
        return Split(
            dataset=value.dataset, collate_fn=value.collate_fn, num_workers=value.num_workers
        )
    if isinstance(value, Dataset) or (hasattr(value, "__getitem__") and hasattr(value, "__len__")):
        if len(value) == 0:
            raise ConfigError([Problem(field, "the dataset is empty", "give it examples")])
        return Split(dataset=value)
    raise ConfigError(
        [
            Problem(
                field,
                f"expected a torch Dataset or DataLoader; got {type(value).__name__}",
                "pass a torch.utils.data.Dataset (dataset[i] -> (input, target)) or a DataLoader",
            )
        ]
    )


def _splits_of(returned: Any, field: str) -> dict[str, Any]:
    """The splits a dataset function returned: a mapping or a (train, [val,] test) tuple."""
    if isinstance(returned, Mapping):
        unknown = sorted(set(map(str, returned)) - set(_SPLITS))
        if unknown:
            raise ConfigError(
                [
                    Problem(
                        field,
                        f"the function returned unknown split(s) {', '.join(unknown)}",
                        "return a mapping with keys train, test and optionally val",
                    )
                ]
            )
        return {k: returned.get(k) for k in _SPLITS}
    if isinstance(returned, Sequence) and len(returned) in (2, 3):
        if len(returned) == 2:
            return {"train": returned[0], "val": None, "test": returned[1]}
        return dict(zip(_SPLITS, returned, strict=True))
    raise ConfigError(
        [
            Problem(
                field,
                f"the function must return (train, val, test), (train, test) or a mapping of "
                f"them; got {type(returned).__name__}",
                "return the splits as Datasets or DataLoaders",
            )
        ]
    )


def example(split: Split, index: int, name: str = "train") -> tuple[Any, Any]:
    """Example ``index`` of Dataset split ``name`` as ``(input, target)``.

    Raises:
        ConfigError: naming the split and index when reading fails or the item is not a pair.
    """
    assert split.dataset is not None
    try:
        item = split.dataset[index]
    except Exception as exc:
        raise ConfigError(
            [Problem(f"task.{name}", f"reading {name} example {index} failed "
                     f"({type(exc).__name__}: {exc})", "fix the Dataset's __getitem__")]
        ) from exc  # fmt: skip
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise ConfigError(
            [
                Problem(
                    f"task.{name}",
                    f"{name} example {index} is a {type(item).__name__}, expected an (input, "
                    "target) pair",
                    "make __getitem__ return (input_tensor, target)",
                )
            ]
        )
    return item[0], item[1]


def is_integer_target(target: Any) -> bool:
    """Whether a target is a class id (int, bool, integer array or tensor) rather than a float."""
    dtype = getattr(target, "dtype", None)
    if dtype is not None:
        name = str(dtype)
        return "int" in name or "bool" in name
    return isinstance(target, (int, np.integer)) and not isinstance(target, float)


def labels_of(dataset: Any) -> np.ndarray | None:
    """Every class id of a Dataset when they can be read without reading its examples: a
    ``targets`` attribute (torchvision datasets, :class:`ImageFolderDataset`), a
    ``TensorDataset``'s last tensor, or a ``Subset`` of either; ``None`` otherwise."""
    from torch.utils.data import Subset, TensorDataset

    if isinstance(dataset, Subset):
        inner = labels_of(dataset.dataset)
        return None if inner is None else inner[np.asarray(dataset.indices, dtype=np.int64)]
    if isinstance(dataset, TensorDataset):
        return np.asarray(dataset.tensors[-1].numpy())
    targets = getattr(dataset, "targets", None)
    if targets is not None and len(targets) == len(dataset):
        return np.asarray(targets)
    return None


def groups_of(dataset: Any, field: str = "task") -> np.ndarray | None:
    """A Dataset's ``groups`` attribute (one value per example), through ``Subset`` wrappers;
    ``None`` when it has none.

    Raises:
        ConfigError: naming ``field`` when ``groups`` does not give one value per example or
            has missing values.
    """
    from torch.utils.data import Subset

    if isinstance(dataset, Subset):
        inner = groups_of(dataset.dataset, field)
        return None if inner is None else inner[np.asarray(dataset.indices, dtype=np.int64)]
    groups = getattr(dataset, "groups", None)
    if groups is None:
        return None
    return as_groups(groups, len(dataset), f"{field}.groups")


def _with_groups(splits: dict[str, Split], info: TaskInfo) -> tuple[dict[str, Split], TaskInfo]:
    """The splits with their Datasets' ``groups`` as codes, and the info naming the groups."""
    found = {name: groups_of(split.dataset, f"task.{name}") for name, split in splits.items()}
    if all(g is None for g in found.values()):
        return splits, info
    lacking = [name for name in _SPLITS if found[name] is None]
    if lacking:
        raise ConfigError(
            [Problem(f"task.{lacking[0]}", f"the {lacking[0]} Dataset has no groups attribute "
                     "but another split's has", "give every split's Dataset a groups "
                     "attribute (one value per example), or none of them")]
        )  # fmt: skip
    parts = [np.asarray(found[name]) for name in _SPLITS]
    if len({p.dtype.kind for p in parts}) > 1:
        parts = [p.astype(str) for p in parts]
    check_group_count(np.concatenate(parts), None, "task.train.groups")
    codes, names = encode_labels(np.concatenate(parts))
    bounds = np.cumsum([0, *(len(p) for p in parts)])
    coded = {
        name: dataclasses.replace(splits[name], group=codes[bounds[i] : bounds[i + 1]])
        for i, name in enumerate(_SPLITS)
    }
    return coded, dataclasses.replace(info, groups=tuple(names))


def _all_labels(split: Split, name: str) -> np.ndarray:
    known = labels_of(split.dataset)
    if known is not None:
        return known
    values = [np.asarray(example(split, i, name)[1]) for i in range(len(split))]
    if any(v.size != 1 for v in values):
        raise ConfigError(
            [Problem(f"task.{name}", "classification targets must be one class id each",
                     "return int(label), or set problem: regression")]
        )  # fmt: skip
    return np.asarray([v.item() for v in values])


@TASKS.register("dataset")
class DatasetTask(Task):
    """A task from torch Datasets or DataLoaders for train, validation and test.

    Give either ``path``, naming a function that returns the splits (YAML and Python), or the
    splits themselves (Python). The function is called with ``args`` as keyword arguments and
    returns ``(train, val, test)``, ``(train, test)`` or a mapping ``{train, val?, test}``; each
    split is a ``Dataset`` whose ``dataset[i]`` is ``(input, target)``, or a ``DataLoader`` (its
    dataset, ``collate_fn`` and ``num_workers`` are used; batch size and shuffling are the
    evaluator's, so runs stay seeded). When no validation split is given, ``val_fraction`` of
    the training examples is held out (seeded, unstratified).

    Inputs are used as given (no standardisation: do it in the Dataset). Shapes, the problem,
    classes and targets are inferred from the data (see the module docstring) unless given.

    Args:
        path: ``"module:function"`` (or ``"file.py:function"``, or in Python the function itself)
            returning the splits; travels to workers by reference.
        args: keyword arguments for the function.
        train: the training Dataset or DataLoader (instead of ``path``).
        val: the validation split (optional).
        test: the test split.
        problem: ``classification`` or ``regression`` (default: from the first target's type).
        n_classes: number of classes (default: largest class id + 1 over all splits).
        n_targets: number of regression targets (default: the first target's size).
        input_shape: one example's shape (default: the first training input's).
        kind: ``tabular``, ``signal`` or ``image`` (default: from the input's number of
            dimensions, 1, 2 or 3).
        val_fraction: share of training examples held out when there is no validation split.
        seed: seeds that held-out split.

    Example:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> ds = TensorDataset(torch.randn(20, 3), torch.arange(20) % 2)
        >>> DatasetTask(train=ds, test=ds).info().n_classes
        2
    """

    def __init__(
        self,
        *,
        path: str | Callable[..., Any] | None = None,
        args: dict[str, Any] | None = None,
        train: Any = None,
        val: Any = None,
        test: Any = None,
        problem: Literal["classification", "regression"] | None = None,
        n_classes: Annotated[int, Field(ge=2)] | None = None,
        n_targets: Annotated[int, Field(ge=1)] | None = None,
        input_shape: list[Annotated[int, Field(ge=1)]] | None = None,
        kind: Kind | None = None,
        val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2,
        seed: Annotated[int, Field(ge=0)] = 0,
    ) -> None:
        if callable(path):  # stored, pickled and reopened as its reference
            path = references.reference_of(path, field="task.path")
        given = [s for s, v in zip(_SPLITS, (train, val, test), strict=True) if v is not None]
        if path is None and (train is None or test is None):
            raise ConfigError(
                [
                    Problem(
                        "task.path",
                        "a dataset task needs either path or the train and test splits",
                        'name a function returning the splits, path: "mymodule:make_datasets"'
                        ", or pass train= and test= (val= is optional)",
                    )
                ]
            )
        if path is not None and given:
            raise ConfigError(
                [
                    Problem(
                        "task.path",
                        f"give either path or the splits, not both (got path and "
                        f"{', '.join(given)})",
                        "drop one of them",
                    )
                ]
            )
        if args and path is None:
            raise ConfigError(
                [Problem("task.args", "args are passed to the path function; there is none",
                         "drop args, or give path")]
            )  # fmt: skip
        self.path = path
        self.args = args
        self.train = train
        self.val = val
        self.test = test
        self.problem = problem
        self.n_classes = n_classes
        self.n_targets = n_targets
        self.input_shape = input_shape
        self.kind = kind  # type: ignore[assignment,misc]  # Task.kind is the class default
        self.val_fraction = val_fraction
        self.seed = seed
        self._data: TaskData | None = None
        # Check the objects now (a bad value surfaces at once); a function is called on load.
        if path is None:
            for split_name in given:
                _unwrap(getattr(self, split_name), f"task.{split_name}")

    # -- loading ----------------------------------------------------------------------------

    def _raw_splits(self) -> dict[str, Any]:
        if self.path is None:
            return {"train": self.train, "val": self.val, "test": self.test}
        function = resolve_reference(self.path, "task.path")
        if not callable(function):
            raise ConfigError(
                [Problem("task.path", f"{self.path!r} is a {type(function).__name__}, not a "
                         "function", "name a function that returns the splits")]
            )  # fmt: skip
        try:
            returned = function(**(self.args or {}))
        except TypeError as exc:
            raise ConfigError(
                [Problem("task.args", f"calling {self.path} failed: {exc}",
                         "match args to the function's parameters")]
            ) from None  # fmt: skip
        splits = _splits_of(returned, "task.path")
        for required in ("train", "test"):
            if splits[required] is None:
                raise ConfigError(
                    [Problem("task.path", f"{self.path} returned no {required} split",
                             f"return a {required} Dataset")]
                )  # fmt: skip
        return splits

    def _load(self) -> TaskData:
        from torch.utils.data import Subset

        raw = self._raw_splits()
        splits = {k: _unwrap(v, f"task.{k}") for k, v in raw.items() if v is not None}
        if "val" not in splits:
            train = splits["train"]
            keep, held = random_split(len(train), self.val_fraction, self.seed)
            assert train.dataset is not None
            collate, workers = train.collate_fn, train.num_workers
            splits["train"] = Split(
                dataset=Subset(train.dataset, keep.tolist()), collate_fn=collate,
                num_workers=workers,
            )  # fmt: skip
            splits["val"] = Split(
                dataset=Subset(train.dataset, held.tolist()), collate_fn=collate,
                num_workers=workers,
            )  # fmt: skip
        info = self._infer_info(splits)
        splits, info = _with_groups(splits, info)
        return TaskData(info=info, train=splits["train"], val=splits["val"], test=splits["test"])

    def _infer_info(self, splits: dict[str, Split]) -> TaskInfo:
        x, y = example(splits["train"], 0)
        shape = tuple(self.input_shape or np.shape(np.asarray(x)))
        kind = self.kind or _KINDS.get(len(shape))
        if kind is None:
            raise ConfigError(
                [
                    Problem(
                        "task.kind",
                        f"inputs of shape {shape} are neither tabular (F,), signal (C, L) nor "
                        "image (C, H, W)",
                        "reshape the inputs in the Dataset, or set kind",
                    )
                ]
            )
        problem = self.problem or (
            "classification" if is_integer_target(y) else "regression"
        )
        name = self.path.rpartition(":")[2] if self.path else "dataset"
        if problem == "regression":
            n_targets = self.n_targets or int(np.asarray(y).size)
            return TaskInfo(name=name, input_shape=shape, n_classes=0, kind=kind,
                            problem="regression", n_targets=n_targets)  # fmt: skip
        n_classes = self.n_classes
        if n_classes is None:
            labels = np.concatenate([_all_labels(splits[s], s).reshape(-1) for s in _SPLITS])
            if labels.dtype.kind not in "iub":
                raise ConfigError(
                    [
                        Problem(
                            "task.problem",
                            f"classification needs integer class ids; the targets are "
                            f"{labels.dtype}",
                            "return int class ids from the Dataset, or set problem: regression",
                        )
                    ]
                )
            n_classes = int(labels.max()) + 1 if len(labels) else 0
            if n_classes < 2:
                raise ConfigError(
                    [Problem("task.n_classes", f"found {n_classes} class(es) in the data",
                             "a classification task needs at least 2 classes")]
                )  # fmt: skip
        return TaskInfo(name=name, input_shape=shape, n_classes=n_classes, kind=kind)

    def load(self) -> TaskData:
        """The task's data; Dataset objects are cached on this object, a function's splits in
        this process (keyed by path and args, so each worker calls the function once)."""
        if self.path is not None:
            return super().load()
        if self._data is None:
            self._data = self._load()
        return self._data

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_data"] = None
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DatasetTask):
            return NotImplemented
        if self.path is None or other.path is None:
            return self is other
        return self.get_params() == other.get_params()

    def __hash__(self) -> int:
        return id(self) if self.path is None else super().__hash__()


def from_datasets(train: Any, test: Any, val: Any = None, **options: Any) -> DatasetTask:
    """A :class:`DatasetTask` from split objects: ``from_datasets(train_ds, test_ds, val_ds)``.

    ``options`` are :class:`DatasetTask`'s other parameters (``problem``, ``n_classes`` ...).
    """
    return DatasetTask(train=train, val=val, test=test, **options)
