"""The ``supernet`` evaluator and uniform single-path supernet training (SPOS).

- :func:`train_single_path` ``(supernet, space, data, *, epochs, seed, ..., checkpoint=...)``:
  trains a :class:`~nasforge.space.supernet.Supernet` by uniform single-path sampling (Guo et
  al. 2020), resumable from a checkpoint file; returns a :class:`SinglePathTraining` (epochs,
  steps, ``train_seconds`` over every session, status ``ok``/``diverged``/``timeout`` and why).
  One-shot strategies call it too.
- :class:`SupernetEvaluator` (``evaluator: {name: supernet, epochs: 30}``): trains the study's
  supernet once, then scores each candidate with inherited weights after a BatchNorm
  re-calibration, so any black-box strategy searches over it.
"""

from __future__ import annotations

from nasforge.evaluate.supernet._evaluator import (
    CHECKPOINT_FILE,
    SUPERNET_DIR,
    TRAINING_FILE,
    SupernetEvaluator,
)
from nasforge.evaluate.supernet._train import (
    SinglePathTraining,
    batches,
    read_checkpoint,
    train_single_path,
)

__all__ = [
    "CHECKPOINT_FILE",
    "SUPERNET_DIR",
    "TRAINING_FILE",
    "SinglePathTraining",
    "SupernetEvaluator",
    "batches",
    "read_checkpoint",
    "train_single_path",
]
