"""ImageFolderTask on tiny folders of generated PNGs: torchvision's layout rules, resizing,
colour modes, seeded splits, split folders and the lazily read Dataset form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nasforge.errors import ConfigError, DataNotFoundError
from nasforge.tasks import ImageFolderTask, get_task


def _images(folder: Path, n: int, value: int, seed: int, size: tuple[int, int] = (10, 12)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = np.clip(rng.normal(value, 20, size=(*size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.png")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "pets"
    for k, name in enumerate(["dog", "cat", "emu"]):  # sorted: cat, dog, emu
        _images(root / name, 10, 60 + 60 * k, seed=k)
    (root / "cat" / "notes.txt").write_text("not an image")
    _images(root / "cat" / "more", 1, 120, seed=9)  # nested folders are walked
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "emu" / "UPPER.PNG")
    return root


def test_reads_classes_as_torchvision_does(folder: Path) -> None:
    task = get_task({"name": "image_folder", "root": str(folder), "size": 8})
    assert isinstance(task, ImageFolderTask)
    assert task.classes() == ["cat", "dog", "emu"]
    data = task.load()
    assert data.info.input_shape == (3, 8, 8) and data.info.kind == "image"
    assert data.info.n_classes == 3 and data.info.name == "pets"
    assert len(data.train) + len(data.val) + len(data.test) == 32  # 11 + 10 + 11, no .txt
    for split in (data.train, data.val, data.test):
        x, y = split.arrays()
        assert x.shape[1:] == (3, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
        assert set(y.tolist()) == {0, 1, 2}  # stratified
    x = data.train.arrays()[0]
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 0, atol=1e-4)  # training statistics
    # The class means order as the pixel values were drawn: dog (60) < cat (120) < emu (180).
    x_all, y_all = data.train.arrays()
    means = [x_all[y_all == k].mean() for k in range(3)]
    assert means[1] < means[0] < means[2]


def test_size_colour_and_seed(folder: Path) -> None:
    grey = ImageFolderTask(root=str(folder), size=[6, 5], color="grayscale").load()
    assert grey.info.input_shape == (1, 6, 5) and grey.train.arrays()[0].shape[1:] == (1, 6, 5)
    a = ImageFolderTask(root=str(folder), seed=1)._load()
    b = ImageFolderTask(root=str(folder), seed=1)._load()
    c = ImageFolderTask(root=str(folder), seed=2)._load()
    np.testing.assert_array_equal(a.val.arrays()[0], b.val.arrays()[0])
    assert not np.array_equal(a.val.arrays()[0], c.val.arrays()[0])


def test_lazy_dataset_gives_the_same_examples(folder: Path) -> None:
    eager = ImageFolderTask(root=str(folder), size=8).load()
    lazy = ImageFolderTask(root=str(folder), size=8, in_memory=False).load()
    assert lazy.train.is_dataset and not eager.train.is_dataset
    for name in ("train", "val", "test"):
        ex, ey = getattr(eager, name).tensors()
        lx, ly = getattr(lazy, name).tensors()
        np.testing.assert_allclose(lx.numpy(), ex.numpy(), atol=1e-5)
        assert ly.tolist() == ey.tolist()


def test_train_val_test_folders(tmp_path: Path) -> None:
    root = tmp_path / "split"
    for k, name in enumerate(["a", "b"]):
        _images(root / "train" / name, 6, 50 + 100 * k, seed=k)
        _images(root / "test" / name, 3, 50 + 100 * k, seed=10 + k)
    _images(root / "val" / "b", 2, 150, seed=20)  # val may lack a class
    task = ImageFolderTask(root=str(root), size=4)
    data = task.load()
    assert task.classes() == ["a", "b"]
    assert (len(data.train), len(data.val), len(data.test)) == (12, 2, 6)
    assert data.val.arrays()[1].tolist() == [1, 1]  # indexed by train's classes
    _images(root / "test" / "zebra", 1, 0, seed=3)
    with pytest.raises(ConfigError, match="zebra"):
        ImageFolderTask(root=str(root), size=4)._load()  # bypasses the cache


def test_missing_or_empty_folders_are_explained(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"task\.root: image folder"):
        ImageFolderTask(root=str(tmp_path / "nope")).load()
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    (tmp_path / "empty" / "cls" / "readme.md").write_text("")
    with pytest.raises(DataNotFoundError, match=r"no image files .* for class\(es\) cls"):
        ImageFolderTask(root=str(tmp_path / "empty")).load()
    with pytest.raises(ConfigError, match=r"task\.size"):
        ImageFolderTask(root=str(tmp_path), size=[1, 2, 3])
