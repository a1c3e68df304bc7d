"""Checks of a task's loaded data against its :class:`TaskInfo`, for the pre-flight check.

Array splits are checked whole (cheap): example shape, label dtype and range, target shape.
Dataset splits are checked on a few examples (the first ``n_examples`` and the last), so the
check stays fast on data read from disk; their class ids are checked whole when the Dataset
exposes them without reading examples (``targets``, a ``TensorDataset``). Every problem names
the split, the example's index and shape or value, and the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nasforge.errors import Problem
from nasforge.tasks._dataset import is_integer_target, labels_of
from nasforge.tasks.base import Split, TaskData, TaskInfo

_NAMES = ("train", "val", "test")


def check_splits(data: TaskData, *, n_examples: int = 8) -> list[Problem]:
    """Problems with ``data``'s splits: empty splits, examples whose input shape differs from
    ``info.input_shape``, inputs that are not tensors, float labels or class ids out of range in
    a classification task, targets of the wrong size in a regression task, missing or out-of-range
    group codes in a task with groups. At most one problem
    per split (the first found), so a broken Dataset does not flood the message."""
    problems: list[Problem] = []
    for name in _NAMES:
        split: Split = getattr(data, name)
        field = f"task.{name}"
        if len(split) == 0:
            problems.append(Problem(field, f"the {name} split has no examples",
                                    "give it examples (or lower the fractions held out)"))
            continue
        found = _check_arrays(split, data.info, name) if not split.is_dataset else (
            _check_dataset(split, data.info, name, n_examples)
        )  # fmt: skip
        if found is None:
            found = _check_groups(split, data.info, name)
        if found is not None:
            problems.append(Problem(field, *found))
    return problems


def _check_groups(split: Split, info: TaskInfo, name: str) -> tuple[str, str] | None:
    """A task with groups needs a group code in ``0..len(groups)-1`` for every example."""
    if not info.has_groups:
        return None
    if split.group is None:
        return (f"the task has groups {list(info.groups)} but the {name} split carries none",
                "give every split a group array (Split(group=...)), or none of them")
    bad = np.flatnonzero((split.group < 0) | (split.group >= len(info.groups)))
    if len(bad):
        i = int(bad[0])
        return (f"{name} example {i} has group code {split.group[i]}, outside "
                f"0..{len(info.groups) - 1} (the task's groups: {list(info.groups)})",
                "code groups as indices into TaskInfo.groups")  # fmt: skip
    return None


def _check_arrays(split: Split, info: TaskInfo, name: str) -> tuple[str, str] | None:
    x, y = split.arrays()
    if tuple(x.shape[1:]) != tuple(info.input_shape):
        return (f"{name} examples have shape {tuple(x.shape[1:])}, the task says "
                f"{tuple(info.input_shape)}", "give every split the same example shape")
    if info.is_regression:
        if y.ndim != 2 or y.shape[1] != info.n_targets or y.dtype.kind != "f":
            return (f"{name} targets have shape {y.shape} ({y.dtype}), expected "
                    f"({len(y)}, {info.n_targets}) floats", "give n_targets float columns")
        return None
    if y.dtype.kind not in "iu":
        return (f"{name} labels are {y.dtype}, expected integer class ids",
                "use integer labels, or problem: regression for float targets")  # fmt: skip
    return _label_range(y, info, name)


def _label_range(labels: np.ndarray, info: TaskInfo, name: str) -> tuple[str, str] | None:
    bad = np.flatnonzero((labels < 0) | (labels >= info.n_classes))
    if len(bad):
        i = int(bad[0])
        return (f"{name} example {i} has class id {labels[i]}, outside 0..{info.n_classes - 1}"
                f" ({len(bad)} such example(s))",
                "number the classes 0..n_classes-1, or set n_classes")  # fmt: skip
    return None


def _check_dataset(
    split: Split, info: TaskInfo, name: str, n_examples: int
) -> tuple[str, str] | None:
    assert split.dataset is not None
    n = len(split)
    if not info.is_regression:
        labels = labels_of(split.dataset)
        if labels is not None:
            if labels.dtype.kind not in "iub":
                return (f"{name} labels are {labels.dtype}, expected integer class ids",
                        "return int class ids, or set problem: regression")  # fmt: skip
            found = _label_range(labels.reshape(-1), info, name)
            if found is not None:
                return found
    for index in sorted({*range(min(n_examples, n)), n - 1}):
        try:
            item = split.dataset[index]
        except Exception as exc:
            return (f"reading {name} example {index} failed ({type(exc).__name__}: {exc})",
                    "fix the Dataset's __getitem__")  # fmt: skip
        found = _check_example(item, info, name, index)
        if found is not None:
            return found
    return None


def _check_example(item: Any, info: TaskInfo, name: str, index: int) -> tuple[str, str] | None:
    where = f"{name} example {index}"
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        return (f"{where} is a {type(item).__name__}, expected an (input, target) pair",
                "make __getitem__ return (input_tensor, target)")  # fmt: skip
    x, target = item[0], item[1]
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        return (f"{where}: the input is a {type(x).__name__}, expected a tensor",
                "return the input as a tensor, e.g. torch.as_tensor(x, dtype=torch.float32)")
    if tuple(x.shape) != tuple(info.input_shape):
        return (f"{where} has input shape {tuple(x.shape)}, expected {tuple(info.input_shape)} "
                "(the first training example's)",
                "give every example the same shape (resize or pad in the Dataset)")  # fmt: skip
    value = np.asarray(target.detach().cpu() if hasattr(target, "detach") else target)
    if value.dtype.kind not in "iubf":
        return (f"{where}: the target is {type(target).__name__} ({value.dtype}), expected a "
                "number", "return an int class id or float target(s)")  # fmt: skip
    if info.is_regression:  # int targets are fine: they are trained on as floats
        if value.size != info.n_targets:
            return (f"{where} has {value.size} target value(s), expected n_targets = "
                    f"{info.n_targets}", "return n_targets values per example, or set "
                    "n_targets")  # fmt: skip
        return None
    if not is_integer_target(target) or value.size != 1:
        return (f"{where} has target {_short(value)} ({value.dtype}), a float or not one value;"
                " a classification task needs one integer class id",
                "return int(label), or set problem: regression for float targets")  # fmt: skip
    label = int(value.reshape(-1)[0])
    if not 0 <= label < info.n_classes:
        return (f"{where} has class id {label}, outside 0..{info.n_classes - 1}",
                "number the classes 0..n_classes-1, or set n_classes")  # fmt: skip
    return None


def _short(value: np.ndarray) -> str:
    text = np.array2string(value, threshold=6)
    return text if len(text) <= 40 else text[:37] + "..."
