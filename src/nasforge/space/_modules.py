"""PyTorch building blocks shared by the declared spaces, in 1-D or 2-D.

Every block is built with known input and output channels (no lazy modules: they break FLOP
counting and ONNX export). ``dims`` selects ``Conv1d``/``Conv2d`` and friends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "none": nn.Identity,
}
"""Activation names accepted by layer specs."""


def make_act(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def conv(dims: int, c_in: int, c_out: int, kernel: int, stride: int = 1, *,
         bias: bool = False) -> nn.Module:
    """A convolution with ``kernel // 2`` padding, so stride 1 keeps the length (odd kernels)."""
    cls = nn.Conv1d if dims == 1 else nn.Conv2d
    return cls(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=bias)


def batch_norm(dims: int, channels: int) -> nn.Module:
    return nn.BatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)


def norm(kind: str, dims: int, channels: int) -> nn.Module:
    """``batch``, ``layer`` (over channels and positions) or ``none``, for feature maps."""
    if kind == "batch":
        return batch_norm(dims, channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def avg_pool(dims: int, kernel: int | tuple[int, ...], stride: int | tuple[int, ...],
             padding: int = 0, *, ceil_mode: bool = False) -> nn.Module:
    cls: Any = nn.AvgPool1d if dims == 1 else nn.AvgPool2d
    return cls(kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
               count_include_pad=False)


def max_pool(dims: int, kernel: int | tuple[int, ...], stride: int | tuple[int, ...],
             padding: int = 0) -> nn.Module:
    cls: Any = nn.MaxPool1d if dims == 1 else nn.MaxPool2d
    return cls(kernel, stride=stride, padding=padding)


class Reshape(nn.Module):
    """Reshape each example to ``shape`` (keeps the batch axis)."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution, BatchNorm: NAS-Bench-201's ``nor_conv`` operation."""

    def __init__(self, dims: int, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(nn.ReLU(), conv(dims, c_in, c_out, kernel, stride),
                         batch_norm(dims, c_out))


class ConvBlock(nn.Module):
    """Convolution, norm, activation; with ``skip``, plus the input (projected if shapes differ)."""

    def __init__(self, dims: int, c_in: int, c_out: int, *, kernel: int, stride: int,
                 activation: str, norm_kind: str, skip: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(dims, c_in, c_out, kernel, stride, bias=norm_kind == "none"),
            norm(norm_kind, dims, c_out),
            make_act(activation),
        )
        self.shortcut: nn.Module | None = None
        if skip:
            if c_in == c_out and stride == 1:
                self.shortcut = nn.Identity()
            else:
                self.shortcut = nn.Sequential(conv(dims, c_in, c_out, 1, stride),
                                              batch_norm(dims, c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out


class DenseBlock(nn.Module):
    """Linear, norm, activation, dropout; with ``skip``, plus the (projected) input."""

    def __init__(self, f_in: int, f_out: int, *, activation: str, norm_kind: str,
                 dropout: float, skip: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(f_in, f_out)]
        if norm_kind == "batch":
            layers.append(nn.BatchNorm1d(f_out))
        elif norm_kind == "layer":
            layers.append(nn.LayerNorm(f_out))
        layers.append(make_act(activation))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*layers)
        self.shortcut: nn.Module | None = None
        if skip:
            self.shortcut = nn.Identity() if f_in == f_out else nn.Linear(f_in, f_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out


class ResBlock(nn.Module):
    """NAS-Bench-201's residual reduction block (``ResNetBasicblock``).

    Two ReLU-Conv-BN 3x3 convolutions (the first with ``stride``); the shortcut is a 2x2 average
    pool plus a 1x1 convolution when ``stride == 2``, a ReLU-Conv-BN 1x1 when only the channels
    change, else the identity. The pool uses ``ceil_mode`` so odd lengths match the convolution.
    """

    def __init__(self, dims: int, c_in: int, c_out: int, stride: int,
                 pool_kernel: tuple[int, ...]) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(dims, c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(dims, c_out, c_out, 3, 1)
        self.downsample: nn.Module
        if stride > 1:
            kernel = pool_kernel if dims == 2 else pool_kernel[0]
            self.downsample = nn.Sequential(
                avg_pool(dims, kernel, kernel, ceil_mode=True),
                conv(dims, c_in, c_out, 1),
            )
        elif c_in != c_out:
            self.downsample = ReLUConvBN(dims, c_in, c_out, 1)
        else:
            self.downsample = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv_b(self.conv_a(x)) + self.downsample(x)
        return out


CellOp = Callable[[int, int], nn.Module | None]


def _pool_op(kind: str) -> CellOp:
    def make(dims: int, channels: int) -> nn.Module:
        if kind == "avg":
            return avg_pool(dims, 3, 1, 1)
        return max_pool(dims, 3, 1, 1)

    return make


CELL_OPS: Mapping[str, CellOp] = {
    "none": lambda dims, c: None,
    "skip_connect": lambda dims, c: nn.Identity(),
    "nor_conv_1x1": lambda dims, c: ReLUConvBN(dims, c, c, 1),
    "nor_conv_3x3": lambda dims, c: ReLUConvBN(dims, c, c, 3),
    "nor_conv_5x5": lambda dims, c: ReLUConvBN(dims, c, c, 5),
    "avg_pool_3x3": _pool_op("avg"),
    "max_pool_3x3": _pool_op("max"),
}
"""Cell operation names; each keeps the channels and the length. ``none`` is the zero op."""


class CellModule(nn.Module):
    """A cell DAG: node ``j`` is the sum of ``op[j, i](node i)`` over ``i < j``.

    ``none`` edges are left out of the sum rather than multiplied by zero (NB201 computes
    ``x * 0``); the output is the same and the FLOP count honest. A node with only ``none``
    inputs is zero.
    """

    def __init__(self, dims: int, channels: int, n_nodes: int, ops: Mapping[str, str]) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        self.edges = nn.ModuleDict()
        for j in range(1, n_nodes):
            for i in range(j):
                module = CELL_OPS[ops[f"edge_{j}_{i}"]](dims, channels)
                if module is not None:
                    self.edges[f"{j}_{i}"] = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, self.n_nodes):
            total: torch.Tensor | None = None
            for i in range(j):
                key = f"{j}_{i}"
                if key in self.edges:
                    y = self.edges[key](nodes[i])
                    total = y if total is None else total + y
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]


class DeclaredNet(nn.Module):
    """A network built from a declared space: ``features``, global average pool, linear ``head``.

    The head has ``n_outputs`` units: one logit per class, or one output per regression target
    (``TaskInfo.n_outputs``).

    Follows timm's surface: ``forward_features`` then ``forward_head``.
    """

    def __init__(self, features: nn.Sequential, n_features: int, n_outputs: int,
                 spatial: bool) -> None:
        super().__init__()
        self.features = features
        self.flatten = nn.Flatten(2) if spatial else nn.Identity()
        self.spatial = spatial
        self.head = nn.Linear(n_features, n_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.features(x)
        return out

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        if self.spatial:
            x = self.flatten(x).mean(dim=2)  # global average pool over all positions
        out: torch.Tensor = self.head(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
