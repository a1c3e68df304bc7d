"""Define-by-run spaces and builders the space and export tests import by ``module:name``.

They live at module level of an importable module, as users' functions must, so that process
workers and stored studies can import them again.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

import nasforge as nf
from nasforge.architecture import Architecture
from nasforge.space import Answers
from nasforge.tasks.base import TaskInfo

PATH = "tests.space.function_spaces"


class Block(nn.Module):
    """A width-preserving block with an optional residual connection."""

    def __init__(self, layer: nn.Module, skip: bool) -> None:
        super().__init__()
        self.layer = layer
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layer(x)
        return x + out if self.skip else out


def _layer(task: TaskInfo, c_in: int, c_out: int, kernel: int) -> nn.Module:
    if task.kind == "image":
        return nn.Conv2d(c_in, c_out, kernel, padding="same")
    if task.kind == "signal":
        return nn.Conv1d(c_in, c_out, kernel, padding="same")
    return nn.Linear(c_in, c_out)


@nf.space.define
def conv_net(a: Answers, task: TaskInfo) -> nn.Module:
    """Width, kernel, a depth with per-block skips, and an activation asked only when deep."""
    width = a.choice("width", [4, 8])
    kernel = a.choice("kernel", [3, 5])
    c_in = task.input_shape[0] if task.kind != "tabular" else math.prod(task.input_shape)
    layers: list[nn.Module] = [_layer(task, c_in, width, kernel), nn.ReLU()]
    depth = a.choice("depth", [1, 2, 3])
    for i in range(depth):
        layers.append(Block(_layer(task, width, width, kernel), a.choice(f"block{i}.skip",
                                                                         [True, False])))
    if depth > 1:
        act = a.choice("act", ["relu", "gelu"])
        layers.append(nn.ReLU() if act == "relu" else nn.GELU())
    return nn.Sequential(*layers, nn.Flatten(), nn.LazyLinear(task.n_outputs))


def plain_net(a: Any, task: TaskInfo) -> nn.Module:
    """A plain (undecorated) function: the registry wraps it."""
    width = a.choice("width", [3, 6])
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(width), nn.ReLU(),
                         nn.Linear(width, task.n_outputs))


class Gate(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.a = nn.Linear(width, width)
        self.b = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.a(x) if x.sum() > 0 else self.b(x)
        return out


@nf.space.define
def gated_net(a: Answers, task: TaskInfo) -> nn.Module:
    """A network fx cannot trace (for the export fallback)."""
    width = a.choice("width", [4, 6])
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(task.input_shape), width),
                         Gate(width), nn.Linear(width, task.n_outputs))


@nf.space.define
def item_net(a: Answers, task: TaskInfo) -> nn.Module:
    """Reads a tensor's value while building: fails on the meta device, works on the CPU."""
    scale = torch.tensor(float(a.choice("scale", [1, 2])))
    width = int(scale.item()) * 4
    if a.choice("extra", [False, True]):
        width += int(torch.ones(1).item()) * a.choice("extra_width", [1, 2])
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(width), nn.Linear(width, task.n_outputs))


def build_choices(arch: Architecture, task: TaskInfo) -> nn.Module:
    """A builder for the choices space: ``width`` and ``ops.*`` (relu / tanh / skip)."""
    width = int(arch["width"])
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(math.prod(task.input_shape), width)]
    for k in range(2):
        op = arch[f"ops.{k}"]
        layers.append({"relu": nn.ReLU(), "tanh": nn.Tanh(), "skip": nn.Identity()}[str(op)])
    return nn.Sequential(*layers, nn.Linear(width, task.n_outputs))


CHOICES = {"width": [4, 8], "ops": {"repeat": 2, "options": ["relu", "tanh", "skip"]}}


# -- bad functions ------------------------------------------------------------------------------


def raises_on_deep(a: Any, task: TaskInfo) -> nn.Module:
    width = a.choice("width", [16, 32])
    if a.choice("depth", [1, 2]) == 2:
        raise ValueError("depth 2 is not implemented")
    return nn.Linear(width, task.n_outputs)


def conflicting_options(a: Any, task: TaskInfo) -> nn.Module:
    if a.choice("wide", [False, True]):
        a.choice("width", [64, 128])
    else:
        a.choice("width", [8, 16])
    return nn.Linear(4, task.n_outputs)


def asks_twice(a: Any, task: TaskInfo) -> nn.Module:
    a.choice("width", [8, 16])
    a.choice("width", [8, 32])
    return nn.Linear(4, task.n_outputs)


def asks_nothing(a: Any, task: TaskInfo) -> nn.Module:
    a.choice("fixed", [3])
    return nn.Linear(4, task.n_outputs)


def bad_options(a: Any, task: TaskInfo) -> nn.Module:
    a.choice("width", [])
    return nn.Linear(4, task.n_outputs)


def disjunction(a: Any, task: TaskInfo) -> nn.Module:
    x = a.choice("x", [0, 1])
    y = a.choice("y", [0, 1])
    if x == 1 or y == 1:
        a.choice("z", ["p", "q"])
    return nn.Linear(4, task.n_outputs)


def returns_junk(a: Any, task: TaskInfo) -> Any:
    return a.choice("width", [1, 2])


NOT_A_FUNCTION = 42
