"""Fashion-MNIST read from the standard idx ``.gz`` files.

Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017, https://arxiv.org/abs/1708.07747): 70 000 grey
28x28 images of clothing in 10 classes, 60 000 for training and 10 000 for test. Nothing is
downloaded; on Debian/Ubuntu ``apt-get install dataset-fashion-mnist`` puts the files in
:data:`DEFAULT_PATH`.
"""

from __future__ import annotations

import gzip
import os
from typing import Annotated, ClassVar

import numpy as np
from pydantic import Field

from nasforge.errors import ConfigError, DataNotFoundError, Problem
from nasforge.tasks._split import make_split, stratified_split
from nasforge.tasks.base import TASKS, Kind, Task, TaskData, TaskInfo

DEFAULT_PATH = "/usr/share/datasets/fashion-mnist"
"""Where Debian's ``dataset-fashion-mnist`` package installs the files."""

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049


def read_idx(path: str, magic: int) -> np.ndarray:
    """Read one gzipped idx file (big-endian header: magic, then one int32 per dimension)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    if found != magic:
        raise ConfigError(
            [
                Problem(
                    "task.path",
                    f"{path} is not an idx file of the expected kind: magic number {found}, "
                    f"expected {magic}",
                    "point path at the original Fashion-MNIST .gz files",
                )
            ]
        )
    n_dims = magic & 0xFF
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims)
    if body.size != int(np.prod(dims)):
        raise ConfigError(
            [
                Problem(
                    "task.path",
                    f"{path} is truncated: header says {dims} ({int(np.prod(dims))} bytes), "
                    f"found {body.size} bytes",
                    "re-install the data files",
                )
            ]
        )
    return body.reshape(dims)


@TASKS.register("fashion_mnist")
class FashionMNISTTask(Task):
    """Fashion-MNIST: 10 classes, images of shape ``(1, 28, 28)``.

    Pixels are scaled to [0, 1] and then normalised with the mean and std of the training split.
    ``val_fraction`` of the 60 000 training images is held out (stratified, seeded).

    Args:
        path: folder holding the four idx ``.gz`` files.
        val_fraction: share of the training images held out for validation.
        seed: seeds the validation split and the subsampling.
        limit_train: keep only this many training images (stratified), for quick runs.
        limit_test: keep only this many test images (stratified).
    """

    kind: ClassVar[Kind] = "image"

    def __init__(
        self,
        *,
        path: str = DEFAULT_PATH,
        val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1,
        seed: Annotated[int, Field(ge=0)] = 0,
        limit_train: Annotated[int, Field(ge=10)] | None = None,
        limit_test: Annotated[int, Field(ge=10)] | None = None,
    ) -> None:
        self.path = path
        self.val_fraction = val_fraction
        self.seed = seed
        self.limit_train = limit_train
        self.limit_test = limit_test

    def _file(self, key: str) -> str:
        full = os.path.join(os.path.expanduser(self.path), FILES[key])
        if not os.path.isfile(full):
            raise DataNotFoundError(
                f"Fashion-MNIST file {FILES[key]} not found in {self.path!r} (looked for "
                f"{full}). Install the data with `apt-get install dataset-fashion-mnist` "
                f"(files go to {DEFAULT_PATH}), or set the task's `path` option to the folder "
                f"holding {', '.join(FILES.values())}."
            )
        return full

    def _load(self) -> TaskData:
        files = {key: self._file(key) for key in FILES}  # check all four before reading any
        x = read_idx(files["train_images"], _IMAGES_MAGIC)
        y = read_idx(files["train_labels"], _LABELS_MAGIC).astype(np.int64)
        x_test = read_idx(files["test_images"], _IMAGES_MAGIC)
        y_test = read_idx(files["test_labels"], _LABELS_MAGIC).astype(np.int64)
        keep, val = stratified_split(y, self.val_fraction, self.seed)
        train = _limit(keep, y, self.limit_train, self.seed + 1, "task.limit_train")
        test = _limit(
            np.arange(len(y_test)), y_test, self.limit_test, self.seed + 2, "task.limit_test"
        )
        x_train = x[train].astype(np.float32) / 255.0
        mean, std = float(x_train.mean()), float(x_train.std()) or 1.0

        def prepare(images: np.ndarray) -> np.ndarray:
            scaled = images.astype(np.float32) / 255.0
            return ((scaled - mean) / std)[:, None, :, :]

        info = TaskInfo(
            name="fashion_mnist", input_shape=(1, *x.shape[1:]), n_classes=10, kind=self.kind
        )
        return TaskData(
            info=info,
            train=make_split(prepare(x[train]), y[train]),
            val=make_split(prepare(x[val]), y[val]),
            test=make_split(prepare(x_test[test]), y_test[test]),
        )


def _limit(
    index: np.ndarray, y: np.ndarray, limit: int | None, seed: int, field: str
) -> np.ndarray:
    """A stratified subset of ``index`` of about ``limit`` elements (all of it when ``None``)."""
    if limit is None or limit >= len(index):
        return index
    _, chosen = stratified_split(y[index], limit / len(index), seed, field=field)
    return index[chosen]
