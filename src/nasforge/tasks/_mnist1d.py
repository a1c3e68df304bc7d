"""MNIST-1D, generated offline from the templates shipped in the ``mnist1d`` package.

MNIST-1D (Greydanus & Kobak, 2020, https://arxiv.org/abs/2011.14439) is a 1-D analogue of MNIST:
ten digit templates are padded, dilated, scaled, translated, sheared and noised into signals of
length 40. It separates model classes the way MNIST no longer does and trains in seconds on a CPU,
which is why the demo searches on it.
"""

from __future__ import annotations

import random
from typing import Annotated, ClassVar

import numpy as np
from pydantic import Field

from nasforge.tasks._split import make_split, stratified_split
from nasforge.tasks.base import TASKS, Kind, Task, TaskData, TaskInfo


@TASKS.register("mnist1d")
class MNIST1DTask(Task):
    """MNIST-1D: 10 classes, signals of shape ``(1, 40)``.

    The data is generated with ``mnist1d.data.make_dataset`` (never downloaded): with the
    package's default arguments that is 5000 examples, the first 80% for training (4000) and the
    rest for test (1000). ``val_fraction`` of the training part is held out for validation with a
    stratified split seeded by ``seed``.

    Args:
        val_fraction: share of the 4000 training examples held out for validation.
        seed: the data-generation seed (42 reproduces the published dataset); it also seeds the
            validation split.
        num_samples: examples generated in total (train + test).
    """

    kind: ClassVar[Kind] = "signal"
    references: ClassVar[dict[str, float]] = {
        "MNIST-1D paper: CNN": 94.0,
        "MNIST-1D paper: GRU": 91.0,
        "MNIST-1D paper: MLP": 68.0,
        "MNIST-1D paper: logistic regression": 32.0,
    }
    """Test accuracies (percent) of the reference models in Greydanus & Kobak (2020), Table 1."""

    def __init__(
        self,
        *,
        val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2,
        seed: Annotated[int, Field(ge=0)] = 42,
        num_samples: Annotated[int, Field(ge=100)] = 5000,
    ) -> None:
        self.val_fraction = val_fraction
        self.seed = seed
        self.num_samples = num_samples

    def _load(self) -> TaskData:
        # Imported here: mnist1d pulls in matplotlib and scipy, which a worker that never loads
        # this task should not pay for.
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.seed = self.seed
        args.num_samples = self.num_samples
        # make_dataset seeds and draws from the global numpy and `random` generators; put them
        # back so loading a task never changes anyone else's random stream.
        np_state = np.random.get_state()
        py_state = random.getstate()
        try:
            data = make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        x = np.asarray(data["x"], dtype=np.float32)[:, None, :]
        y = np.asarray(data["y"], dtype=np.int64)
        x_test = np.asarray(data["x_test"], dtype=np.float32)[:, None, :]
        y_test = np.asarray(data["y_test"], dtype=np.int64)
        keep, val = stratified_split(y, self.val_fraction, self.seed)
        info = TaskInfo(
            name="mnist1d", input_shape=tuple(x.shape[1:]), n_classes=10, kind=self.kind
        )
        return TaskData(
            info=info,
            train=make_split(x[keep], y[keep]),
            val=make_split(x[val], y[val]),
            test=make_split(x_test, y_test),
        )
