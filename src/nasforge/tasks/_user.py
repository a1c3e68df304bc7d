"""User data: tasks from numpy arrays (Python API) and from CSV files.

Classification (the default): both map labels of any type to ``0..K-1`` in sorted order and keep
the original names (:meth:`ArrayTask.classes`, :meth:`CsvTask.classes`) for reports. When no test
data is given, a stratified, seeded test split is carved out first, then validation out of the
rest.

Regression (``problem="regression"``): targets are floats, one column (``(n,)``) or several
(``(n, n_targets)``; in a CSV, ``targets: [a, b]``); the splits are seeded but unstratified.
With ``standardize_targets`` (the default) targets are standardised with the training split's
mean and std, so ``mse`` and ``mae`` are in units of the training std (an ``mse`` of 1 is as good
as predicting the mean) and ``r2`` is unchanged; turn it off for metrics in the targets' units.
"""

from __future__ import annotations

import hashlib
import os
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from nasforge.errors import ConfigError, DataNotFoundError, Problem
from nasforge.imports import try_import
from nasforge.tasks._split import (
    as_groups,
    check_group_count,
    encode_labels,
    make_split,
    random_split,
    standardize,
    stratified_split,
)
from nasforge.tasks.base import TASKS, Kind, Task, TaskData, TaskInfo

Fraction = Annotated[float, Field(gt=0, lt=1)]
ProblemKind = Literal["classification", "regression"]
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
    problem: ProblemKind = "classification",
    standardize_targets: bool = False,
    group: np.ndarray | None = None,
    group_test: np.ndarray | None = None,
) -> tuple[TaskData, list[str]]:
    """Encode labels (or take float targets), split, standardise; return the task data and the
    class names (none for regression). ``group`` (and ``group_test`` with test data) travel with
    their examples through the splits, coded as indices into the sorted group names."""
    codes_all, group_names = _encode_groups(group, group_test)
    g, g_test = _split_codes(codes_all, len(y))
    regression = problem == "regression"
    classes: list[str] = []
    if regression:  # seeded unstratified splits; targets kept as (n, n_targets) floats
        y = _as_float_targets(y)
        y_test = None if y_test is None else _as_float_targets(y_test)
        split = _random_split_of
    else:
        n_train = len(y)
        codes, classes = encode_labels(y if y_test is None else np.concatenate([y, y_test]))
        y, y_test = codes[:n_train], (None if y_test is None else codes[n_train:])
        split = stratified_split
    if x_test is None or y_test is None:
        rest, test = split(y, test_fraction, seed, field="task.test_fraction")
        x_test, y_test = x[test], y[test]
        x, y = x[rest], y[rest]
        g, g_test = _take(g, rest), _take(g, test)
    keep, val = split(y, val_fraction, seed + 1)
    x_train, x_val = x[keep], x[val]
    y_train, y_val = y[keep], y[val]
    if standardize_inputs:
        x_train, x_val, x_test = _standardize_inputs(x_train, x_val, x_test)
    if regression and standardize_targets:
        y_train, y_val, y_test = standardize(y_train, y_val, y_test, axis=(0,))
    info = TaskInfo(
        name=name, input_shape=tuple(x.shape[1:]), n_classes=len(classes), kind=_KINDS[x.ndim],
        problem=problem, n_targets=y.shape[1] if regression else 0, groups=group_names,
    )  # fmt: skip
    data = TaskData(
        info=info,
        train=make_split(x_train, y_train, regression=regression, group=_take(g, keep)),
        val=make_split(x_val, y_val, regression=regression, group=_take(g, val)),
        test=make_split(x_test, y_test, regression=regression, group=g_test),
    )
    return data, classes


def _as_float_targets(y: np.ndarray) -> np.ndarray:
    return y.reshape(len(y), -1).astype(np.float64)


def _random_split_of(
    y: np.ndarray, fraction: float, seed: int, *, field: str = "task.val_fraction"
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`random_split` over the examples of ``y`` (the regression split)."""
    return random_split(len(y), fraction, seed, field=field)


def _encode_groups(
    group: np.ndarray | None, group_test: np.ndarray | None
) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Code the training (then test) groups together as indices into their sorted names."""
    if group is None:
        return None, ()
    both = group if group_test is None else np.concatenate([group, group_test])
    codes, names = encode_labels(both)
    return codes, tuple(names)


def _split_codes(
    codes: np.ndarray | None, n_train: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The training and test parts of codes made by :func:`_encode_groups`."""
    if codes is None:
        return None, None
    return codes[:n_train], (codes[n_train:] if len(codes) > n_train else None)


def _take(codes: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
    return None if codes is None else codes[index]


def _standardize_inputs(*arrays: np.ndarray) -> list[np.ndarray]:
    # Per feature for tabular data, per channel for signals and images.
    ndim = arrays[0].ndim
    axis = (0,) if ndim == 2 else tuple(i for i in range(ndim) if i != 1)
    return standardize(*arrays, axis=axis)


def _as_targets(value: Any, n: int, field: str, problem: ProblemKind) -> np.ndarray:
    """Labels (1-D, any type) or regression targets (1-D or 2-D, finite numbers)."""
    array = np.asarray(value)
    if problem == "classification":
        if array.ndim != 1 or len(array) != n:
            raise ConfigError(
                [
                    Problem(
                        field,
                        f"must be 1-D with one label per row of x ({n}); got shape {array.shape}",
                        "pass class labels, not one-hot vectors (or problem='regression' for "
                        "float targets)",
                    )
                ]
            )
        if array.dtype.kind == "f" and len(array) and not np.all(array == np.round(array)):
            raise ConfigError(
                [
                    Problem(
                        field,
                        "classification labels must be class ids; got non-integer floats",
                        "set problem: regression to predict them as numbers",
                    )
                ]
            )
        return array
    if array.ndim not in (1, 2) or len(array) != n:
        raise ConfigError(
            [
                Problem(
                    field,
                    f"regression targets must be (n,) or (n, n_targets) with n = {n} rows; got "
                    f"shape {array.shape}",
                    "give one row of targets per example",
                )
            ]
        )
    try:
        targets = array.astype(np.float64)
    except (TypeError, ValueError):
        raise ConfigError(
            [Problem(field, f"regression targets must be numbers; got {array.dtype}",
                     "convert them to numbers, or use problem: classification")]
        ) from None  # fmt: skip
    if not np.isfinite(targets).all():
        raise ConfigError([Problem(field, "contains NaN or inf", "impute or drop those rows")])
    return targets


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
        y: training labels of any type (mapped to ``0..K-1`` in sorted order), or for
            regression float targets ``(n,)`` or ``(n, n_targets)``.
        x_test: test inputs; when ``None``, ``test_fraction`` of ``x`` is held out.
        y_test: test labels or targets (required with ``x_test``).
        val_fraction: share of the training examples held out for validation.
        test_fraction: share held out for test when no test data is given.
        seed: seeds the splits.
        standardize: standardise inputs with training statistics (per feature or per channel).
        problem: ``classification`` or ``regression``.
        standardize_targets: standardise regression targets with training statistics (see the
            module docstring).
        group: each training example's sensitive attribute (any type, e.g. ``"f"``/``"m"``),
            for group metrics such as demographic parity; kept apart from the inputs.
        group_test: each test example's group (required with ``x_test`` when ``group`` is
            given).

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
        problem: ProblemKind = "classification",
        standardize_targets: bool = True,
        group: Any = None,
        group_test: Any = None,
    ) -> None:
        self.x = _as_inputs(x, "task.x")
        self.y = _as_targets(y, len(self.x), "task.y", problem)
        if (x_test is None) != (y_test is None):
            raise ConfigError(
                [Problem("task.x_test", "x_test and y_test go together", "give both or neither")]
            )
        self.x_test = None if x_test is None else _as_inputs(x_test, "task.x_test")
        self.y_test = (
            None
            if y_test is None or self.x_test is None
            else _as_targets(y_test, len(self.x_test), "task.y_test", problem)
        )
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
            if problem == "regression" and self.y_test.reshape(len(self.y_test), -1).shape[
                1
            ] != self.y.reshape(len(self.y), -1).shape[1]:
                raise ConfigError(
                    [Problem("task.y_test", "y_test must have as many targets as y",
                             "give the same target columns")]
                )  # fmt: skip
        _check_fractions(val_fraction, test_fraction, self.x_test is not None)
        self.group = None if group is None else as_groups(group, len(self.x), "task.group")
        if group_test is not None and self.group is None:
            raise ConfigError(
                [Problem("task.group_test", "group_test needs group (the training examples' "
                         "groups)", "give group too, or leave group_test out")]
            )  # fmt: skip
        if self.group is not None and self.x_test is not None and group_test is None:
            raise ConfigError(
                [Problem("task.group_test", "with x_test and group, the test examples need "
                         "their groups too", "give group_test, one value per row of x_test")]
            )  # fmt: skip
        self.group_test = (
            None if group_test is None or self.x_test is None
            else as_groups(group_test, len(self.x_test), "task.group_test")
        )  # fmt: skip
        if self.group is not None:
            check_group_count(self.group, self.group_test, "task.group")
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.standardize = standardize
        self.problem = problem
        self.standardize_targets = standardize_targets
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
                problem=self.problem,
                standardize_targets=self.standardize_targets,
                group=self.group,
                group_test=self.group_test,
            )
        return self._data

    def load(self) -> TaskData:
        """The task's data, cached on this object.

        Not in the per-process cache of :class:`Task`: its key is the parameters' ``repr``,
        which numpy abbreviates, so two different large arrays could share a key.
        """
        return self._prepared()[0]

    def classes(self) -> list[str]:
        """Original label of each class index (empty for regression)."""
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
            self.problem,
            self.standardize_targets,
            _fingerprint(self.group),
            _fingerprint(self.group_test),
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

    Every column but the target(s) and the group is a feature unless ``features`` names them.
    Features must be numeric and complete; labels may be anything (mapped to ``0..K-1`` in sorted
    order, names kept in :meth:`classes`); regression targets must be numeric and complete.

    Args:
        path: the CSV file.
        target: the label column (or the one regression target).
        targets: several regression target columns (instead of ``target``).
        test_path: a CSV file with the same columns used as the test split; when ``None``,
            ``test_fraction`` of ``path`` is held out.
        features: the feature columns (default: all columns except ``target``).
        val_fraction: share of the training rows held out for validation.
        test_fraction: share held out for test when there is no ``test_path``.
        seed: seeds the splits.
        standardize: standardise features with training statistics.
        problem: ``classification`` or ``regression``.
        standardize_targets: standardise regression targets with training statistics.
        group: a column holding each row's sensitive attribute (any values, none missing), for
            group metrics such as demographic parity. It is not a feature unless ``features``
            lists it.

    Example (YAML):
        ``task: {name: csv, path: adult.csv, target: income, group: sex}``
    """

    def __init__(
        self,
        *,
        path: str,
        target: str | None = None,
        targets: list[str] | None = None,
        test_path: str | None = None,
        features: list[str] | None = None,
        val_fraction: Fraction = 0.2,
        test_fraction: Fraction = 0.2,
        seed: Annotated[int, Field(ge=0)] = 0,
        standardize: bool = True,
        problem: ProblemKind = "classification",
        standardize_targets: bool = True,
        group: str | None = None,
    ) -> None:
        _check_fractions(val_fraction, test_fraction, test_path is not None)
        if group is not None and group in ([target] if targets is None else targets):
            raise ConfigError(
                [Problem("task.group", f"the group column {group!r} is also the target",
                         "name a different column as group")]
            )  # fmt: skip
        if (target is None) == (targets is None):
            raise ConfigError(
                [Problem("task.target", "give target (one column) or targets (a list), not "
                         f"{'both' if target else 'neither'}", "e.g. target: label")]
            )  # fmt: skip
        if targets is not None and problem != "regression":
            raise ConfigError(
                [Problem("task.targets", "several target columns need problem: regression",
                         "set problem: regression, or give one target column")]
            )  # fmt: skip
        if targets is not None and (not targets or len(set(targets)) != len(targets)):
            raise ConfigError(
                [Problem("task.targets", f"must list distinct columns; got {targets}",
                         "name each target column once")]
            )  # fmt: skip
        self.path = path
        self.target = target
        self.targets = targets
        self.test_path = test_path
        self.features = features
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.standardize = standardize
        self.problem = problem
        self.standardize_targets = standardize_targets
        self.group = group

    @property
    def _target_columns(self) -> list[str]:
        return self.targets if self.targets is not None else [str(self.target)]

    def _read(self, path: str, field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
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
        wanted = self._target_columns
        field_name = "task.target" if self.targets is None else "task.targets"
        absent = [c for c in wanted if c not in frame.columns]
        if absent:
            raise ConfigError(
                [
                    Problem(
                        field_name,
                        f"column{'s' if len(absent) > 1 else ''} "
                        f"{', '.join(map(repr, absent))} not in {path}",
                        f"choose one of: {', '.join(columns)}",
                    )
                ]
            )
        if self.group is not None and self.group not in frame.columns:
            raise ConfigError(
                [Problem("task.group", f"column {self.group!r} not in {path}",
                         f"choose one of: {', '.join(columns)}")]
            )  # fmt: skip
        group = None if self.group is None else as_groups(
            frame[self.group].to_numpy(), len(frame), "task.group"
        )  # fmt: skip
        features = self.features or [c for c in columns if c not in wanted and c != self.group]
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
        doubled = [c for c in wanted if c in features]
        if doubled:
            raise ConfigError(
                [Problem("task.features", f"the target {doubled[0]!r} is listed as a feature",
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
        unlabelled = [c for c in wanted if frame[c].isna().any()]
        if unlabelled:
            raise ConfigError(
                [Problem(field_name, f"missing values in column {unlabelled[0]!r} of {path}",
                         "drop the unlabelled rows")]
            )  # fmt: skip
        x = frame[features].to_numpy(dtype=np.float32)
        if self.problem == "regression":
            text = [c for c in wanted if not pd.api.types.is_numeric_dtype(frame[c])]
            if text:
                raise ConfigError(
                    [Problem(field_name, f"regression target column {text[0]!r} of {path} is "
                             "not numeric", "encode it as numbers, or use problem: "
                             "classification")]
                )  # fmt: skip
            return x, frame[wanted].to_numpy(dtype=np.float64), group
        # Labels as strings, unless all numeric, so "10" sorts after "9" as a number would.
        labels = frame[wanted[0]]
        if pd.api.types.is_float_dtype(labels) and not (labels == labels.round()).all():
            raise ConfigError(
                [Problem("task.target", f"column {wanted[0]!r} of {path} holds non-integer "
                         "numbers, not class labels", "set problem: regression to predict them")]
            )  # fmt: skip
        y = labels.to_numpy() if pd.api.types.is_numeric_dtype(labels) else labels.astype(str)
        return x, np.asarray(y), group

    def _key(self) -> tuple[str, str]:
        return (type(self).__qualname__, repr(sorted(self.get_params().items())))

    def _load(self) -> TaskData:
        x, y, group = self._read(self.path, "task.path")
        x_test: np.ndarray | None = None
        y_test: np.ndarray | None = None
        group_test: np.ndarray | None = None
        if self.test_path is not None:
            x_test, y_test, group_test = self._read(self.test_path, "task.test_path")
        if group is not None:
            if group_test is not None and group.dtype.kind != group_test.dtype.kind:
                group, group_test = group.astype(str), group_test.astype(str)
            check_group_count(group, group_test, "task.group")
        if self.problem == "classification" and y_test is not None and (
            y.dtype.kind != y_test.dtype.kind
        ):
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
            problem=self.problem,
            standardize_targets=self.standardize_targets,
            group=group,
            group_test=group_test,
        )
        _CLASSES[self._key()] = classes
        return data

    def classes(self) -> list[str]:
        """Original label of each class index (loads the data if needed; empty for
        regression)."""
        key = self._key()
        if key not in _CLASSES:
            self._load()
        return _CLASSES[key]
