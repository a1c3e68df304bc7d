"""Shared helpers for tasks: seeded stratified splits, standardisation and split validation.

Every built-in task carves its validation (and, where the source has none, test) examples out of
the training data with :func:`stratified_split`, so class proportions match across splits and the
same seed always gives the same split; regression tasks use the unstratified :func:`random_split`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nasforge.errors import ConfigError, Problem
from nasforge.tasks.base import Split


def stratified_split(
    y: np.ndarray, fraction: float, seed: int, *, field: str = "task.val_fraction"
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices of ``y`` into (kept, held-out) with ``fraction`` of each class held out.

    ``round(fraction * len(y))`` examples are held out, each class contributing its share rounded
    down or up (at most ``n_class - 1``, so no class vanishes from the kept part). Both index
    arrays are sorted, so examples keep their source order within a split; trainers shuffle.

    Raises:
        ConfigError: naming ``field`` when the held-out part would be empty.
    """
    rng = np.random.default_rng(seed)
    labels, counts = np.unique(y, return_counts=True)
    # Largest-remainder allocation: the held-out total is exactly round(fraction * n) and each
    # class gets its share rounded down or up.
    share = fraction * counts
    quota = np.floor(share).astype(np.int64)
    extra = round(fraction * len(y)) - int(quota.sum())
    if extra > 0:
        order = np.argsort(-(share - quota), kind="stable")
        quota[order[:extra]] += 1
    quota = np.minimum(quota, counts - 1)
    held: list[np.ndarray] = []
    for label, n_out in zip(labels, quota, strict=True):
        if n_out > 0:
            held.append(rng.permutation(np.flatnonzero(y == label))[:n_out])
    out = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    if fraction > 0 and len(out) == 0:
        raise ConfigError(
            [
                Problem(
                    field,
                    f"{fraction} of {len(y)} examples leaves no held-out examples",
                    f"raise {field.rsplit('.', 1)[-1]} or provide more data",
                )
            ]
        )
    keep = np.setdiff1d(np.arange(len(y)), out, assume_unique=True)
    return keep, out


def standardize(train: np.ndarray, *others: np.ndarray, axis: tuple[int, ...]) -> list[np.ndarray]:
    """Standardise arrays with the mean and std of ``train`` over ``axis`` (float32 results).

    Statistics come from the training split only, so no information leaks from validation or
    test data. Constant features (std 0) are only centred.
    """
    mean = train.mean(axis=axis, keepdims=True, dtype=np.float64)
    std = train.std(axis=axis, keepdims=True, dtype=np.float64)
    std = np.where(std > 0, std, 1.0)
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def make_split(
    x: np.ndarray, y: np.ndarray, *, regression: bool = False, group: np.ndarray | None = None
) -> Split:
    """A :class:`Split` with contiguous float32 inputs and int64 labels, or, for regression,
    float32 targets of shape ``(n, n_targets)`` (a 1-D ``y`` becomes one column); ``group``
    (int codes, one per example) is kept as int64."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    codes = None if group is None else np.ascontiguousarray(group, dtype=np.int64)
    if regression:
        targets = np.asarray(y, dtype=np.float32)
        return Split(
            x=x, y=np.ascontiguousarray(targets.reshape(len(targets), -1)), group=codes
        )
    return Split(x=x, y=np.ascontiguousarray(y, dtype=np.int64), group=codes)


def random_split(
    n: int, fraction: float, seed: int, *, field: str = "task.val_fraction"
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into sorted (kept, held-out) indices, ``round(fraction * n)`` held out.

    The unstratified counterpart of :func:`stratified_split`, for regression targets.

    Raises:
        ConfigError: naming ``field`` when the held-out or the kept part would be empty.
    """
    n_out = round(fraction * n)
    if fraction > 0 and not 0 < n_out < n:
        raise ConfigError(
            [
                Problem(
                    field,
                    f"{fraction} of {n} examples leaves no held-out or no kept examples",
                    f"change {field.rsplit('.', 1)[-1]} or provide more data",
                )
            ]
        )
    out = np.sort(np.random.default_rng(seed).permutation(n)[:n_out])
    keep = np.setdiff1d(np.arange(n), out, assume_unique=True)
    return keep, out


def encode_labels(y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Map arbitrary labels to ``0..K-1`` in sorted order; return codes and the class names."""
    classes, codes = np.unique(y, return_inverse=True)
    return codes.astype(np.int64), [str(c) for c in classes]


def as_groups(value: Any, n: int, field: str) -> np.ndarray:
    """``value`` as one sensitive-attribute value per example (any type; object arrays become
    strings), none missing.

    Raises:
        ConfigError: naming ``field`` when the shape is wrong or a value is missing.
    """
    array = np.asarray(value)
    if array.ndim != 1 or len(array) != n:
        raise ConfigError(
            [Problem(field, f"must be 1-D with one group value per example ({n}); got shape "
                     f"{array.shape}", "give each example's group, e.g. a column of sex or age "
                     "band")]
        )  # fmt: skip
    missing = (
        np.isnan(array) if array.dtype.kind == "f"
        else np.array([v is None or v != v for v in array.tolist()], dtype=bool)
        if array.dtype.kind == "O" else np.zeros(len(array), dtype=bool)
    )  # fmt: skip
    if missing.any():
        raise ConfigError(
            [Problem(field, f"{int(missing.sum())} example(s) have no group (first: row "
                     f"{int(np.flatnonzero(missing)[0])})", "fill in the group or drop those "
                     "rows")]
        )  # fmt: skip
    # Object arrays (mixed or pandas values) become strings: their bytes are pointers, which
    # would make fingerprints and checkpoint keys differ from one process to the next.
    return array.astype(str) if array.dtype.kind == "O" else array


def check_group_count(group: np.ndarray, group_test: np.ndarray | None, field: str) -> None:
    """Refuse a group array (with its test part) holding a single group, naming ``field``."""
    both = group if group_test is None else np.concatenate([group, group_test])
    if len(np.unique(both)) < 2:
        raise ConfigError(
            [Problem(field, f"has a single group ({both[0]!r}); group metrics compare groups",
                     "give a column with at least two groups, or leave group out")]
        )  # fmt: skip
