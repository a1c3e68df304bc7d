"""Small tasks from scikit-learn's bundled datasets (no download).

Each classification task is split into train / validation / test with seeded stratified splits
(test first, then validation out of the rest) and standardised with statistics of the training
split only. The regression task ``diabetes`` is split the same way but unstratified, and both its
features and its target are standardised with the training split's mean and std.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from nasforge.errors import ConfigError, Problem
from nasforge.tasks._split import make_split, random_split, standardize, stratified_split
from nasforge.tasks.base import TASKS, Kind, Task, TaskData, TaskInfo

Fraction = Annotated[float, Field(gt=0, lt=1)]


class SklearnTask(Task):
    """Base of the scikit-learn dataset tasks; subclasses set ``loader`` and ``dataset``.

    Args:
        val_fraction: share of the non-test examples held out for validation.
        test_fraction: share of all examples held out for test.
        seed: seeds both splits.
    """

    kind: ClassVar[Kind] = "tabular"
    loader: ClassVar[str] = ""
    """Name of the ``sklearn.datasets`` function returning ``(X, y)``."""
    dataset: ClassVar[str] = ""

    def __init__(
        self,
        *,
        val_fraction: Fraction = 0.2,
        test_fraction: Fraction = 0.2,
        seed: Annotated[int, Field(ge=0)] = 0,
    ) -> None:
        if val_fraction + test_fraction >= 1:
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
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed

    def _raw(self) -> tuple[np.ndarray, np.ndarray]:
        import sklearn.datasets  # imported lazily: sklearn is slow to import

        load: Any = getattr(sklearn.datasets, self.loader)
        x, y = load(return_X_y=True)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.int64)

    def _shape(self, x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
        """Reshape flat features to the task's example shape (identity for tabular tasks)."""
        return x, (x.shape[1],)

    def _load(self) -> TaskData:
        x, y = self._raw()
        rest, test = stratified_split(y, self.test_fraction, self.seed, field="task.test_fraction")
        # A different stream for the second split, so it is not correlated with the first.
        sub_keep, sub_val = stratified_split(y[rest], self.val_fraction, self.seed + 1)
        train, val = rest[sub_keep], rest[sub_val]
        x_train, x_val, x_test = self._standardize(x[train], x[val], x[test])
        x_train, shape = self._shape(x_train)
        x_val, _ = self._shape(x_val)
        x_test, _ = self._shape(x_test)
        info = TaskInfo(
            name=self.name or self.dataset,
            input_shape=shape,
            n_classes=len(np.unique(y)),
            kind=self._kind(),
        )
        return TaskData(
            info=info,
            train=make_split(x_train, y[train]),
            val=make_split(x_val, y[val]),
            test=make_split(x_test, y[test]),
        )

    def _kind(self) -> Kind:
        return self.kind

    def _standardize(
        self, train: np.ndarray, val: np.ndarray, test: np.ndarray
    ) -> list[np.ndarray]:
        return standardize(train, val, test, axis=(0,))


@TASKS.register("breast_cancer")
class BreastCancerTask(SklearnTask):
    """Wisconsin breast cancer: 569 examples, 30 features, 2 classes."""

    loader = "load_breast_cancer"
    dataset = "breast_cancer"


@TASKS.register("wine")
class WineTask(SklearnTask):
    """Wine recognition: 178 examples, 13 features, 3 classes."""

    loader = "load_wine"
    dataset = "wine"


@TASKS.register("digits")
class DigitsTask(SklearnTask):
    """Optical digits: 1797 examples of 8x8 images, 10 classes.

    By default each image is 64 standardised tabular features. With ``as_image=True`` examples
    have shape ``(1, 8, 8)`` (kind ``image``) and are standardised with one global mean and std,
    which keeps the spatial structure convolutions rely on.

    Args:
        as_image: give ``(1, 8, 8)`` images instead of 64 features.
    """

    loader = "load_digits"
    dataset = "digits"

    def __init__(
        self,
        *,
        val_fraction: Fraction = 0.2,
        test_fraction: Fraction = 0.2,
        seed: Annotated[int, Field(ge=0)] = 0,
        as_image: bool = False,
    ) -> None:
        super().__init__(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
        self.as_image = as_image

    def _kind(self) -> Kind:
        return "image" if self.as_image else "tabular"

    def _standardize(
        self, train: np.ndarray, val: np.ndarray, test: np.ndarray
    ) -> list[np.ndarray]:
        if self.as_image:
            return standardize(train, val, test, axis=(0, 1))
        return standardize(train, val, test, axis=(0,))

    def _shape(self, x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
        if self.as_image:
            return x.reshape(-1, 1, 8, 8), (1, 8, 8)
        return x, (x.shape[1],)


@TASKS.register("diabetes")
class DiabetesTask(SklearnTask):
    """Diabetes progression (regression): 442 patients, 10 features, one target.

    The target is a measure of disease progression one year after baseline (25-346 in the raw
    data). Features and target are standardised with the training split's mean and std, so
    ``val_mse`` and ``test_mse`` are in units of the training target's variance: 1.0 is as good
    as always predicting the training mean, and ``r2`` is the same as on the raw target. Splits
    are seeded but unstratified (test first, then validation out of the rest).
    """

    loader = "load_diabetes"
    dataset = "diabetes"

    def _load(self) -> TaskData:
        import sklearn.datasets  # imported lazily: sklearn is slow to import

        # scaled=False: the raw features, standardised below with training statistics only
        # (sklearn's own scaling uses every row, test rows included).
        x, y = sklearn.datasets.load_diabetes(return_X_y=True, scaled=False)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)[:, None]
        rest, test = random_split(len(y), self.test_fraction, self.seed, field="task.test_fraction")
        sub_keep, sub_val = random_split(len(rest), self.val_fraction, self.seed + 1)
        train, val = rest[sub_keep], rest[sub_val]
        x_train, x_val, x_test = standardize(x[train], x[val], x[test], axis=(0,))
        y_train, y_val, y_test = standardize(y[train], y[val], y[test], axis=(0,))
        info = TaskInfo(
            name=self.name or self.dataset, input_shape=(x.shape[1],), n_classes=0,
            kind="tabular", problem="regression", n_targets=1,
        )  # fmt: skip
        return TaskData(
            info=info,
            train=make_split(x_train, y_train, regression=True),
            val=make_split(x_val, y_val, regression=True),
            test=make_split(x_test, y_test, regression=True),
        )


@TASKS.register("diabetes_fair")
class DiabetesFairTask(SklearnTask):
    """Diabetes as a fairness task: progression above or below the median, grouped by sex.

    scikit-learn's bundled diabetes data (442 patients, 10 features, shipped offline). The
    sensitive attribute is the ``sex`` feature, coded ``1`` and ``2`` in the raw data (its source,
    Efron et al. 2004, does not say which is which), so the groups are ``("sex=1", "sex=2")``.
    The target, disease progression one year after baseline, is cut at the median of the
    training split: class 1 above it, class 0 at or below. Splits are seeded but unstratified
    (test first, then validation out of the rest, exactly as ``diabetes``), so the same seed
    gives the same patients in each split as the regression task; features are standardised
    with training statistics. With the default fractions: 283 training, 71 validation and 88
    test patients.

    Group metrics (``val_dp_diff``, ``val_eo_diff``, ``val_worst_group_accuracy`` and their test
    counterparts) are reported by the ``train`` evaluator on this task.

    Args:
        val_fraction: share of the non-test patients held out for validation.
        test_fraction: share of all patients held out for test.
        seed: seeds both splits.
        group_as_feature: keep ``sex`` among the network's inputs (the default: the data as
            shipped); ``False`` drops it, leaving 9 features ("fairness through unawareness").
    """

    loader = "load_diabetes"
    dataset = "diabetes_fair"
    SEX_COLUMN: ClassVar[int] = 1
    """Index of ``sex`` among the raw features."""

    def __init__(
        self,
        *,
        val_fraction: Fraction = 0.2,
        test_fraction: Fraction = 0.2,
        seed: Annotated[int, Field(ge=0)] = 0,
        group_as_feature: bool = True,
    ) -> None:
        super().__init__(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
        self.group_as_feature = group_as_feature

    def _load(self) -> TaskData:
        import sklearn.datasets  # imported lazily: sklearn is slow to import

        x, y = sklearn.datasets.load_diabetes(return_X_y=True, scaled=False)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        sex = x[:, self.SEX_COLUMN]
        values = np.unique(sex)
        group = np.searchsorted(values, sex).astype(np.int64)
        if not self.group_as_feature:
            x = np.delete(x, self.SEX_COLUMN, axis=1)
        rest, test = random_split(len(y), self.test_fraction, self.seed, field="task.test_fraction")
        sub_keep, sub_val = random_split(len(rest), self.val_fraction, self.seed + 1)
        train, val = rest[sub_keep], rest[sub_val]
        # The cut uses the training split only, so no information leaks from held-out patients.
        labels = (y > np.median(y[train])).astype(np.int64)
        x_train, x_val, x_test = standardize(x[train], x[val], x[test], axis=(0,))
        info = TaskInfo(
            name=self.name or self.dataset, input_shape=(x.shape[1],), n_classes=2,
            kind="tabular", groups=tuple(f"sex={v:g}" for v in values),
        )  # fmt: skip
        return TaskData(
            info=info,
            train=make_split(x_train, labels[train], group=group[train]),
            val=make_split(x_val, labels[val], group=group[val]),
            test=make_split(x_test, labels[test], group=group[test]),
        )
