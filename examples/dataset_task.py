"""Your own data as torch Datasets: a search over scikit-learn's 8x8 digits served as images.

``make_datasets`` returns the train, validation and test splits as ``torch.utils.data.Dataset``
objects (any Dataset works: one that reads files, decodes images, ...). The study names the
function, not the data, so each process-pool worker calls it once and no data is pickled; what a
network needs (input shape ``(1, 8, 8)``, 10 classes) is read from the data.

Run with ``python examples/dataset_task.py`` (about a minute on 2 CPU cores). In YAML::

    task: {name: dataset, path: "examples/dataset_task.py:make_datasets"}
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

import nasforge as nf


class DigitImages(Dataset[tuple[torch.Tensor, int]]):
    """Digits as ``(1, 8, 8)`` float images in [0, 1] with integer labels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = torch.as_tensor(images / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
        self.labels = labels.astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])


def make_datasets(seed: int = 0) -> dict[str, DigitImages]:
    """A seeded 60/20/20 split of the 1,797 digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    cut = [int(0.6 * len(order)), int(0.8 * len(order))]
    parts = np.split(order, cut)
    return {name: DigitImages(digits.images[index], digits.target[index])
            for name, index in zip(("train", "val", "test"), parts, strict=True)}


def main(trials: int = 8, epochs: int = 8) -> nf.Study:
    study = nf.search(
        name="dataset-digits",
        task=nf.tasks.DatasetTask(path=make_datasets),
        space={"name": "chain", "n_stages": 2, "kernels": [3, 5], "dims": 2},
        strategy="local_search",
        evaluator={"name": "train", "epochs": epochs, "batch_size": 64},
        executor={"name": "process", "workers": 2},
        budget={"trials": trials},
        seed=0,
        overwrite=True,
    )
    best = study.best()
    print(f"best: {study.parts.space.format(best.arch)}")
    print(f"val {best.metrics['val_accuracy']:.2f}%  test {best.metrics['test_accuracy']:.2f}%")
    return study


if __name__ == "__main__":
    main()
