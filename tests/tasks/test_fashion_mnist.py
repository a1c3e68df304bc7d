"""Fashion-MNIST from idx .gz files: tiny files written here in the real idx format."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from nasforge.errors import ConfigError, DataNotFoundError
from nasforge.tasks import FashionMNISTTask, get_task
from nasforge.tasks._fashion import DEFAULT_PATH, FILES


def _write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _fake_dataset(folder: Path, n_train: int = 200, n_test: int = 50) -> Path:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        labels = np.arange(n) % 10
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images, 2051)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels, 2049)
    return folder


def test_reads_idx_files(tmp_path: Path) -> None:
    task = get_task({"name": "fashion_mnist", "path": str(_fake_dataset(tmp_path))})
    data = task.load()
    assert data.info.input_shape == (1, 28, 28)
    assert data.info.kind == "image" and data.info.n_classes == 10
    assert (len(data.train), len(data.val), len(data.test)) == (180, 20, 50)
    assert data.train.x.dtype == np.float32 and data.test.y.dtype == np.int64
    np.testing.assert_allclose(data.train.x.mean(), 0, atol=1e-4)
    np.testing.assert_allclose(data.train.x.std(), 1, atol=1e-3)
    assert data.test.y.tolist() == (np.arange(50) % 10).tolist()  # source order kept


def test_pixels_scaled_then_normalised(tmp_path: Path) -> None:
    data = FashionMNISTTask(path=str(_fake_dataset(tmp_path)), seed=1)._load()
    # The raw test pixels are recoverable by an affine map: scale then one global normalisation.
    with gzip.open(tmp_path / FILES["test_images"]) as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28) / 255.0
    flat = data.test.x[:, 0].ravel()
    slope, intercept = np.polyfit(raw.ravel(), flat, 1)
    np.testing.assert_allclose(raw.ravel() * slope + intercept, flat, atol=1e-4)


def test_limits_subsample_stratified(tmp_path: Path) -> None:
    data = FashionMNISTTask(
        path=str(_fake_dataset(tmp_path)), limit_train=50, limit_test=20
    )._load()
    assert len(data.train) == 50 and len(data.test) == 20
    assert np.bincount(data.train.y, minlength=10).min() == 5


def test_missing_files_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as info:
        FashionMNISTTask(path=str(tmp_path / "absent")).load()
    text = str(info.value)
    assert str(tmp_path / "absent") in text
    assert "apt-get install dataset-fashion-mnist" in text
    assert "`path`" in text


def test_default_path_is_debian_package_location() -> None:
    assert FashionMNISTTask().path == DEFAULT_PATH == "/usr/share/datasets/fashion-mnist"


def test_wrong_magic_is_a_clear_error(tmp_path: Path) -> None:
    folder = _fake_dataset(tmp_path)
    _write_idx(folder / FILES["train_labels"], np.zeros(200), 2051)
    with pytest.raises(ConfigError, match="magic number 2051, expected 2049"):
        FashionMNISTTask(path=str(folder))._load()
