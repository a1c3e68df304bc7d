"""User data: tasks from numpy arrays (Python API) and from CSV files.

Both map labels of any type to ``0..K-1`` in sorted order and keep the original names
(:meth:`ArrayTask.classes`, :meth:`CsvTask.classes`) for reports. When no test data is given,
a stratified, seeded test split is carved out first, then validation out of the rest.
"""

from __future__ import annotations

import hashlib
import os
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from nasforge.errors import ConfigError, DataNotFoundError, Problem
from nasforge.imports import try_import
from nasforge.tasks._split import encode_labels, make_split, standardize, stratified_split
from nasforge.tasks.base import TASKS, Kind, Task, TaskData, TaskInfo

Fraction = Annotated[float, Field(gt=0, lt=1)]
_KINDS: dict[int, Kind] = {2: "tabular", 3: "signal", 4: "image"}
_CLASSES: dict[tuple[str, str], list[str]] = {}


def _check_fractions(val_fraction: float, test_fraction: float, has_test: bool) -> None:
    if not has_test and val_fraction + test_fraction >= 1:
        raise ConfigError(
            [
                Problem(
                    "task.val_fraction",
                    f"val_fraction + test_fraction must be < 1; got {val_fraction} + "
                    f"{test_fraction}",
                    "lower one of them",
                )
            ]
        )


def _assemble(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray | None,
    y_test: np.ndarray | None,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    standardize_inputs: bool,
) -> tuple[TaskData, list[str]]:
    """Encode labels, split, standardise; return the task data and the class names."""
    n_train = len(y)
    all_y = y if y_test is None else np.concatenate([y, y_test])
    codes, classes = encode_labels(all_y)
    y_codes, y_test_codes = codes[:n_train], (None if y_test is None else codes[n_train:])
    if x_test is None or y_test_codes is None:
        rest, test = stratified_split(y_codes, test_fraction, seed, field="task.test_fraction")
        x_test, y_test_codes = x[test], y_codes[test]
        x, y_codes = x[rest], y_codes[rest]
    keep, val = stratified_split(y_codes, val_fraction, seed + 1)
    x_train, x_val = x[keep], x[val]
    if standardize_inputs:
        # Per feature for tabular data, per channel for signals and images.
        axis = (0,) if x.ndim == 2 else tuple(i for i in range(x.ndim) if i != 1)
        x_train, x_val, x_test = standardize(x_train, x_val, x_test, axis=axis)
    info = TaskInfo(
        name=name, input_shape=tuple(x.shape[1:]), n_classes=len(classes), kind=_KINDS[x.ndim]
    )
    data = TaskData(
        info=info,
        train=make_split(x_train, y_codes[keep]),
        val=make_split(x_val, y_codes[val]),
        test=make_split(x_test, y_test_codes),
    )
    return data, classes


def _as_inputs(value: Any, field: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            [Problem(field, f"must be a numeric array; {exc}", "convert it to numbers first")]
        ) from None
    if array.ndim not in _KINDS:
        raise ConfigError(
            [
                Problem(
                    field,
                    f"must have 2 (tabular), 3 (signal: N, C, L) or 4 (image: N, C, H, W) "
                    f"dimensions; got shape {array.shape}",
                    "add a channel axis, e.g. x[:, None]",
                )
            ]
        )
    if not np.isfinite(array).all():
        raise ConfigError([Problem(field, "contains NaN or inf", "impute or drop those rows")])
    return array


def _fingerprint(array: np.ndarray | None) -> str:
    if array is None:
        return "none"
    digest = hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]
    return f"{array.dtype}{array.shape}:{digest}"


@TASKS.register("arrays")
class ArrayTask(Task):
    """A task from in-memory arrays (Python API; not meant for YAML, but it pickles).

    The kind follows ``x.ndim``: 2 → tabular ``(F,)``, 3 → signal ``(C, L)``, 4 → image
    ``(C, H, W)``.

    Args:
        x: training inputs, first axis = examples.
        y: training labels of any type (mapped to ``0..K-1`` in sorted order).
        x_test: test inputs; when ``None``, ``test_fraction`` of ``x`` is held out.
        y_test: test labels (required with ``x_test``).
        val_fraction: share of the training examples held out for validation.
        test_fraction: share held out for test when no test data is given.
        seed: seeds the splits.
        standardize: standardise inputs with training statistics (per feature or per channel).

    Example:
        >>> x = np.random.default_rng(0).normal(size=(60, 4)); y = np.arange(60) % 3
        >>> ArrayTask(x=x, y=y).info().input_shape
        (4,)
    """

    def __init__(
        self,
        *,
        x: Any,
        y: Any,
        x_test: Any = None,
        y_test: Any = None,
        val_fraction: Fraction = 0.2,
        test_fraction: Fraction = 0.2,
        seed: Annotated[int, Field(ge=0)] = 0,
        standardize: bool = True,
    ) -> None:
        self.x = _as_inputs(x, "task.x")
        self.y = np.asarray(y)
        if self.y.ndim != 1 or len(self.y) != len(self.x):
            raise ConfigError(
                [
                    Problem(
                        "task.y",
                        f"must be 1-D with one label per row of x ({len(self.x)}); got shape "
                        f"{self.y.shape}",
                        "pass class labels, not one-hot vectors",
                    )
                ]
            )
        if (x_test is None) != (y_test is None):
            raise ConfigError(
                [Problem("task.x_test", "x_test and y_test go together", "give both or neither")]
            )
        self.x_test = None if x_test is None else _as_inputs(x_test, "task.x_test")
        self.y_test = None if y_test is None else np.asarray(y_test)
        if self.x_test is not None and self.y_test is not None:
            if self.x_test.shape[1:] != self.x.shape[1:]:
                raise ConfigError(
                    [
                        Problem(
                            "task.x_test",
                            f"examples must have the shape of x's, {self.x.shape[1:]}; got "
                            f"{self.x_test.shape[1:]}",
                            "reshape x_test like x",
                        )
                    ]
                )
            if self.y_test.ndim != 1 or len(self.y_test) != len(self.x_test):
                raise ConfigError(
                    [
                        Problem(
                            "task.y_test",
                            f"must be 1-D with one label per row of x_test ({len(self.x_test)});"
                            f" got shape {self.y_test.shape}",
                            "pass class labels",
                        )
                    ]
                )
        _check_fractions(val_fraction, test_fraction, self.x_test is not None)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.standardize = standardize
        self._data: tuple[TaskData, list[str]] | None = None

    def _load(self) -> TaskData:
        return self._prepared()[0]

    def _prepared(self) -> tuple[TaskData, list[str]]:
        if self._data is None:
            self._data = _assemble(
                "arrays",
                self.x,
                self.y,
                self.x_test,
                self.y_test,
                val_fraction=self.val_fraction,
                test_fraction=self.test_fraction,
                seed=self.seed,
                standardize_inputs=self.standardize,
            )
        return self._data

    def load(self) -> TaskData:
        """The task's data, cached on this object.

        Not in the per-process cache of :class:`Task`: its key is the parameters' ``repr``,
        which numpy abbreviates, so two different large arrays could share a key.
        """
        return self._prepared()[0]

    def classes(self) -> list[str]:
        """Original label of each class index."""
        return self._prepared()[1]

    def _key(self) -> tuple[object, ...]:
        return (
            _fingerprint(self.x),
            _fingerprint(self.y),
            _fingerprint(self.x_test),
            _fingerprint(self.y_test),
            self.val_fraction,
            self.test_fraction,
            self.seed,
            self.standardize,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArrayTask):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        test = "" if self.x_test is None else f", x_test={self.x_test.shape}"
        return f"ArrayTask(x={self.x.shape}{test}, seed={self.seed})"

    def __getstate__(self) -> dict[str, Any]:
        # Send the arrays, not the prepared splits: workers rebuild them cheaply.
        state = dict(self.__dict__)
        state["_data"] = None
        return state


@TASKS.register("csv")
class CsvTask(Task):
    """A tabular task from a CSV file read with pandas (the ``pandas`` extra).

    Every column but ``target`` is a feature unless ``features`` names them. Features must be
    numeric and complete; labels may be anything (mapped to ``0..K-1`` in sorted order, names
    kept in :meth:`classes`).

    Args:
        path: the CSV file.
        target: the label column.
        test_path: a CSV file with the same columns used as the test split; when ``None``,
            ``test_fraction`` of ``path`` is held out.
        features: the feature columns (default: all columns except ``target``).
        val_fraction: share of the training rows held out for validation.
        test_fraction: share held out for test when there is no ``test_path``.
        seed: seeds the splits.
        standardize: standardise features with training statistics.
    """

    def __init__(
        self,
        *,
        path: str,
        target: str,
        test_path: str | None = None,
        features: list[str] | None = None,
        val_fraction: Fraction = 0.2,
        test_fraction: Fraction = 0.2,
        seed: Annotated[int, Field(ge=0)] = 0,
        standardize: bool = True,
    ) -> None:
        _check_fractions(val_fraction, test_fraction, test_path is not None)
        self.path = path
        self.target = target
        self.test_path = test_path
        self.features = features
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.standardize = standardize

    def _read(self, path: str, field: str) -> tuple[np.ndarray, np.ndarray]:
        # Imported here: pandas is slow to import, and optional (the ``pandas`` extra).
        with try_import("pandas", "Reading a CSV task") as imports:
            import pandas as pd
        imports.check()

        if not os.path.isfile(path):
            raise DataNotFoundError(
                f"{field}: CSV file {path!r} not found; set {field} to an existing file"
            )
        frame = pd.read_csv(path)
        columns = [str(c) for c in frame.columns]
        if self.target not in frame.columns:
            raise ConfigError(
                [
                    Problem(
                        "task.target",
                        f"column {self.target!r} not in {path}",
                        f"choose one of: {', '.join(columns)}",
                    )
                ]
            )
        features = self.features or [c for c in columns if c != self.target]
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise ConfigError(
                [
                    Problem(
                        "task.features",
                        f"column(s) {', '.join(map(repr, missing))} not in {path}",
                        f"choose from: {', '.join(columns)}",
                    )
                ]
            )
        if self.target in features:
            raise ConfigError(
                [Problem("task.features", f"the target {self.target!r} is listed as a feature",
                         "remove it from features")]
            )  # fmt: skip
        non_numeric = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            raise ConfigError(
                [
                    Problem(
                        "task.features",
                        f"non-numeric feature column(s) in {path}: "
                        f"{', '.join(map(repr, non_numeric))}",
                        "encode them as numbers in the file, or leave them out by listing the "
                        "numeric columns in features",
                    )
                ]
            )
        incomplete = [c for c in features if frame[c].isna().any()]
        if incomplete:
            raise ConfigError(
                [
                    Problem(
                        "task.features",
                        f"missing values in column(s) {', '.join(map(repr, incomplete))} of {path}",
                        "impute or drop those rows, or leave the columns out of features",
                    )
                ]
            )
        if frame[self.target].isna().any():
            raise ConfigError(
                [Problem("task.target", f"missing labels in column {self.target!r} of {path}",
                         "drop the unlabelled rows")]
            )  # fmt: skip
        x = frame[features].to_numpy(dtype=np.float32)
        # Labels as strings, unless all numeric, so "10" sorts after "9" as a number would.
        labels = frame[self.target]
        y = labels.to_numpy() if pd.api.types.is_numeric_dtype(labels) else labels.astype(str)
        return x, np.asarray(y)

    def _key(self) -> tuple[str, str]:
        return (type(self).__qualname__, repr(sorted(self.get_params().items())))

    def _load(self) -> TaskData:
        x, y = self._read(self.path, "task.path")
        x_test: np.ndarray | None = None
        y_test: np.ndarray | None = None
        if self.test_path is not None:
            x_test, y_test = self._read(self.test_path, "task.test_path")
        if y_test is not None and y.dtype.kind != y_test.dtype.kind:
            y, y_test = y.astype(str), y_test.astype(str)
        name = os.path.splitext(os.path.basename(self.path))[0] or "csv"
        data, classes = _assemble(
            name,
            x,
            y,
            x_test,
            y_test,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            seed=self.seed,
            standardize_inputs=self.standardize,
        )
        _CLASSES[self._key()] = classes
        return data

    def classes(self) -> list[str]:
        """Original label of each class index (loads the data if needed)."""
        key = self._key()
        if key not in _CLASSES:
            self._load()
        return _CLASSES[key]
