"""Image folders: one subfolder per class, read the way ``torchvision.datasets.ImageFolder`` reads
them (:class:`ImageFolderTask`, registered as ``image_folder``).

The layout rules are torchvision's: the classes are the subfolders of the root, sorted by name
and numbered from 0; each class's images are found by walking its folder (following links), in
sorted order, keeping files whose lower-cased name ends in one of :data:`IMG_EXTENSIONS`; a class
folder without any image is an error. Images are opened with Pillow (torchvision's default
loader does the same, so torchvision is not needed) and converted to RGB or greyscale.

When the root holds a ``train/`` folder, ``train/``, ``val/`` and ``test/`` are the splits, each
laid out as above (a missing ``val/`` or ``test/`` is carved out of ``train/``); otherwise the
splits are carved out of the root's images with seeded stratified splits (test first, then
validation from the rest).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast

import numpy as np
from pydantic import Field

from nasforge.errors import ConfigError, DataNotFoundError, Problem
from nasforge.tasks._split import make_split, stratified_split
from nasforge.tasks.base import TASKS, Kind, Split, Task, TaskData, TaskInfo

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
"""The file endings ``torchvision.datasets.ImageFolder`` accepts (compared lower-cased)."""

Fraction = Annotated[float, Field(gt=0, lt=1)]
Size = Annotated[int, Field(ge=1)]


def find_classes(directory: str) -> list[str]:
    """The class folders of ``directory``, sorted (torchvision's ``find_classes``).

    Raises:
        DataNotFoundError: the folder does not exist or has no subfolders.
    """
    if not os.path.isdir(directory):
        raise DataNotFoundError(
            f"task.root: image folder {directory!r} not found; set root to a folder with one "
            "subfolder of images per class"
        )
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise DataNotFoundError(
            f"task.root: no class folders in {directory!r}; put each class's images in a "
            "subfolder named after the class"
        )
    return classes


def find_images(directory: str, classes: list[str]) -> tuple[list[str], np.ndarray]:
    """Every image under ``directory/<class>`` and its class index (torchvision's
    ``make_dataset``: sorted walks, links followed, :data:`IMG_EXTENSIONS` only).

    Raises:
        DataNotFoundError: a class folder is missing or holds no image.
    """
    paths: list[str] = []
    labels: list[int] = []
    empty: list[str] = []
    for index, name in enumerate(classes):
        folder = os.path.join(directory, name)
        found = 0
        if os.path.isdir(folder):
            for root, _, files in sorted(os.walk(folder, followlinks=True)):
                for file in sorted(files):
                    if file.lower().endswith(IMG_EXTENSIONS):
                        paths.append(os.path.join(root, file))
                        labels.append(index)
                        found += 1
        if not found:
            empty.append(name)
    if empty:
        raise DataNotFoundError(
            f"task.root: no image files ({', '.join(IMG_EXTENSIONS)}) for class(es) "
            f"{', '.join(empty)} in {directory!r}; add images or remove those folders"
        )
    return paths, np.asarray(labels, dtype=np.int64)


class ImageFolderDataset:
    """A torch-style Dataset of image files: ``dataset[i]`` is ``(image, class_index)``.

    Each image is opened with Pillow, converted to ``mode`` (``"RGB"`` or ``"L"``), resized to
    ``size`` (height, width; bilinear, antialiased when shrinking), scaled to [0, 1] and
    normalised per channel with ``mean`` and ``std``; the result is a float32 tensor
    ``(C, H, W)``. ``targets`` lists every class index, so labels are known without reading
    images.
    """

    def __init__(
        self,
        paths: list[str],
        targets: list[int],
        *,
        size: tuple[int, int],
        mode: Literal["RGB", "L"],
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
    ) -> None:
        self.paths = paths
        self.targets = targets
        self.size = size
        self.mode = mode
        self.mean = mean
        self.std = std

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: int) -> np.ndarray:
        """Image ``index`` as a float32 array ``(C, H, W)`` in [0, 1], not normalised."""
        try:
            from PIL import Image
        except ImportError as exc:
            raise ConfigError(
                [Problem("task", f"reading image folders needs Pillow ({exc})",
                         "pip install pillow")]
            ) from None  # fmt: skip
        with Image.open(self.paths[index]) as image:
            converted = image.convert(self.mode)
            height, width = self.size
            resized = converted.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(resized, dtype=np.float32) / 255.0
        return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        import torch

        pixels = self.read(index)
        if self.mean is not None and self.std is not None:
            pixels = ((pixels - self.mean) / self.std).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(pixels)), int(self.targets[index])


@TASKS.register("image_folder")
class ImageFolderTask(Task):
    """Images in one subfolder per class (see the module docstring for the layout).

    Every image is resized to ``size`` and converted to RGB (3 channels) or greyscale (1),
    scaled to [0, 1] and normalised with the per-channel mean and std of the training images.
    With ``in_memory`` (the default) all images are read once and kept as arrays, the fast path
    for training; otherwise they are read from disk for every batch (a Dataset split).

    Args:
        root: the folder of class folders, or of ``train/`` (and ``val/``, ``test/``) folders.
        size: the height and width every image is resized to (one number: square).
        color: ``rgb`` or ``grayscale``.
        val_fraction: share of the training images held out for validation (no ``val/``).
        test_fraction: share of all images held out for test (no ``test/``).
        seed: seeds the splits.
        in_memory: read all images into memory at load.
    """

    kind: ClassVar[Kind] = "image"

    def __init__(
        self,
        *,
        root: str,
        size: Size | list[Size] = 32,
        color: Literal["rgb", "grayscale"] = "rgb",
        val_fraction: Fraction = 0.2,
        test_fraction: Fraction = 0.2,
        seed: Annotated[int, Field(ge=0)] = 0,
        in_memory: bool = True,
    ) -> None:
        if isinstance(size, list) and len(size) != 2:
            raise ConfigError(
                [Problem("task.size", f"expected one number or [height, width]; got {size}",
                         "write e.g. size: 32 or size: [32, 48]")]
            )  # fmt: skip
        self.root = root
        self.size = size
        self.color = color
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.in_memory = in_memory

    @property
    def _hw(self) -> tuple[int, int]:
        if isinstance(self.size, list):
            return self.size[0], self.size[1]
        return self.size, self.size

    def _listing(self) -> tuple[list[str], dict[str, tuple[list[str], np.ndarray]]]:
        """The classes and, per split, its image paths and labels."""
        root = os.path.expanduser(self.root)
        split_root = os.path.join(root, "train")
        if not os.path.isdir(split_root):
            classes = find_classes(root)
            paths, labels = find_images(root, classes)
            rest, test = stratified_split(
                labels, self.test_fraction, self.seed, field="task.test_fraction"
            )
            return classes, self._carve_val([paths[i] for i in rest], labels[rest],
                                            ([paths[i] for i in test], labels[test]))  # fmt: skip
        classes = find_classes(split_root)
        train = find_images(split_root, classes)
        found: dict[str, tuple[list[str], np.ndarray]] = {}
        for name in ("val", "test"):
            folder = os.path.join(root, name)
            if os.path.isdir(folder):
                extra = sorted(set(find_classes(folder)) - set(classes))
                if extra:
                    raise ConfigError(
                        [
                            Problem(
                                "task.root",
                                f"{folder} has class folder(s) {', '.join(extra)} that "
                                f"{split_root} lacks",
                                "give train/ every class, or remove those folders",
                            )
                        ]
                    )
                present = [c for c in classes if os.path.isdir(os.path.join(folder, c))]
                paths, labels = find_images(folder, present)
                # Index by the training classes, so class ids agree across splits.
                found[name] = (paths, np.asarray([classes.index(present[i]) for i in labels],
                                                 dtype=np.int64))  # fmt: skip
        paths, labels = train
        if "test" not in found:
            rest, test = stratified_split(
                labels, self.test_fraction, self.seed, field="task.test_fraction"
            )
            found["test"] = ([paths[i] for i in test], labels[test])
            paths, labels = [paths[i] for i in rest], labels[rest]
        if "val" in found:
            return classes, {"train": (paths, labels), **found}
        return classes, self._carve_val(paths, labels, found["test"])

    def _carve_val(
        self, paths: list[str], labels: np.ndarray, test: tuple[list[str], np.ndarray]
    ) -> dict[str, tuple[list[str], np.ndarray]]:
        # A different stream from the test split's, so the two are not correlated.
        keep, val = stratified_split(labels, self.val_fraction, self.seed + 1)
        return {
            "train": ([paths[i] for i in keep], labels[keep]),
            "val": ([paths[i] for i in val], labels[val]),
            "test": test,
        }

    def _load(self) -> TaskData:
        classes, listing = self._listing()
        mode: Literal["RGB", "L"] = "RGB" if self.color == "rgb" else "L"
        datasets = {
            name: ImageFolderDataset(paths, labels.tolist(), size=self._hw, mode=mode)
            for name, (paths, labels) in listing.items()
        }
        channels = 3 if mode == "RGB" else 1
        info = TaskInfo(
            name=os.path.basename(os.path.normpath(self.root)) or "images",
            input_shape=(channels, *self._hw),
            n_classes=len(classes),
            kind="image",
        )
        if self.in_memory:
            arrays = {n: np.stack([d.read(i) for i in range(len(d))]) for n, d in datasets.items()}
            mean = arrays["train"].mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64)[0]
            std = arrays["train"].std(axis=(0, 2, 3), keepdims=True, dtype=np.float64)[0]
            std = np.where(std > 0, std, 1.0)
            splits = {
                n: make_split((a - mean) / std, np.asarray(datasets[n].targets))
                for n, a in arrays.items()
            }
        else:
            mean, std = _channel_stats(datasets["train"])
            for dataset in datasets.values():
                dataset.mean, dataset.std = mean, std
            # A map-style dataset by duck typing (it does not subclass torch's Dataset, so
            # importing this module does not import torch).
            splits = {n: Split(dataset=cast("Dataset[Any]", d)) for n, d in datasets.items()}
        return TaskData(info=info, train=splits["train"], val=splits["val"], test=splits["test"])

    def classes(self) -> list[str]:
        """The class names (folder names), in class-index order."""
        return self._listing()[0]


def _channel_stats(dataset: ImageFolderDataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of a dataset's images (one pass, float64 sums)."""
    total: Any = 0.0
    squares: Any = 0.0
    count = 0
    for i in range(len(dataset)):
        pixels = dataset.read(i).astype(np.float64)
        total = total + pixels.sum(axis=(1, 2))
        squares = squares + (pixels**2).sum(axis=(1, 2))
        count += pixels.shape[1] * pixels.shape[2]
    mean = np.asarray(total) / count
    std = np.sqrt(np.maximum(np.asarray(squares) / count - mean**2, 0.0))
    std = np.where(std > 0, std, 1.0)
    return mean[:, None, None].astype(np.float32), std[:, None, None].astype(np.float32)
