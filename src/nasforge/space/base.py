"""`SearchSpace`: what may be built, and how to sample, mutate, encode and build it.

A search space is plain configuration plus pure functions of architectures; it is never an
``nn.Module`` and never changes itself. Only evaluators call :meth:`SearchSpace.build`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from nasforge.architecture import Architecture
from nasforge.config import Component
from nasforge.errors import InvalidArchitectureError
from nasforge.registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from nasforge.tasks.base import TaskInfo


class SearchSpace(Component, ABC):
    """The contract every search space keeps.

    - ``sample(rng)`` draws uniformly (or as documented) using only ``rng``.
    - ``mutate(arch, rng)`` returns an architecture of the space that differs from ``arch``.
    - ``neighbours(arch)`` lists every architecture one decision away, in a deterministic order.
    - ``encode(arch)`` returns a fixed-length float vector (for predictors and BO).
    - ``validate(arch)`` raises :class:`InvalidArchitectureError` with a path to the bad decision.
    - ``build(arch, task)`` returns a fresh ``torch.nn.Module`` mapping a batch of
      ``task.input_shape`` inputs to ``task.n_classes`` logits.
    - ``format``/``parse`` give a human string form (``parse(format(a)) == a``); the canonical
      :class:`Architecture` string is always accepted by ``parse`` too.
    """

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Architecture: ...

    @abstractmethod
    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture: ...

    @abstractmethod
    def neighbours(self, arch: Architecture) -> list[Architecture]: ...

    @abstractmethod
    def encode(self, arch: Architecture) -> np.ndarray: ...

    @abstractmethod
    def validate(self, arch: Architecture) -> None: ...

    @property
    @abstractmethod
    def size(self) -> float:
        """Number of distinct architectures (``math.inf`` when unbounded)."""

    @abstractmethod
    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module: ...

    def contains(self, arch: Architecture) -> bool:
        try:
            self.validate(arch)
        except InvalidArchitectureError:
            return False
        return True

    def enumerate(self) -> Iterator[Architecture]:
        """Every architecture, in a deterministic order (finite spaces only)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be enumerated")

    def format(self, arch: Architecture) -> str:
        return str(arch)

    def parse(self, text: str) -> Architecture:
        arch = Architecture.parse(text)
        self.validate(arch)
        return arch


SPACES: Registry[SearchSpace] = Registry("space")
"""Registered search spaces (``@SPACES.register("nb201")``)."""
