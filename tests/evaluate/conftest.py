"""Fixtures for evaluator tests: a tiny fake search space and a tiny array task."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.evaluate.base import EvalContext
from nasforge.space.base import SearchSpace
from nasforge.tasks import ArrayTask
from nasforge.tasks.base import TaskInfo


class NaNLayer(nn.Module):
    """Outputs NaN: training on it must fail at the first step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


class TinySpace(SearchSpace):
    """Architectures ``{hidden, bn, dropout, nan}`` built as a small MLP (not registered)."""

    def __init__(self) -> None:
        pass

    def sample(self, rng: np.random.Generator) -> Architecture:
        return Architecture(hidden=int(rng.choice([4, 8])), bn=True, dropout=True, nan=False)

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        return arch.replace(hidden=12 - int(arch["hidden"]))

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        return [arch.replace(hidden=12 - int(arch["hidden"]))]

    def encode(self, arch: Architecture) -> np.ndarray:
        return np.array([float(arch["hidden"])])

    def validate(self, arch: Architecture) -> None:
        pass

    @property
    def size(self) -> float:
        return 2.0

    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module:
        hidden = int(arch["hidden"])
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(int(np.prod(task.input_shape)), hidden)]
        if arch.get("bn", True):
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(nn.ReLU())
        if arch.get("dropout", True):
            layers.append(nn.Dropout(0.2))  # consumes the global torch RNG while training
        layers.append(nn.Linear(hidden, task.n_classes))
        if arch.get("nan", False):
            layers.append(NaNLayer())
        return nn.Sequential(*layers)


def tiny_arrays(n: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three noisy, learnable classes in 6 features."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = rng.normal(size=(3, 6)) * 2
    return centres[y] + rng.normal(size=(n, 6)), y


@pytest.fixture
def space() -> TinySpace:
    return TinySpace()


@pytest.fixture
def task() -> ArrayTask:
    x, y = tiny_arrays()
    return ArrayTask(x=x, y=y, val_fraction=0.25, test_fraction=0.2, seed=0)


@pytest.fixture
def arch() -> Architecture:
    return Architecture(hidden=8, bn=True, dropout=True, nan=False)


@pytest.fixture
def make_ctx(space: TinySpace, task: ArrayTask) -> Any:
    def make(seed: int = 0, **kwargs: Any) -> EvalContext:
        return EvalContext(space=space, task=task, seed=seed, **kwargs)

    return make


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Any:
    """One intra-op thread, as the executors set it: tiny models run many times faster so, and
    the machine is shared. The previous setting is restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
