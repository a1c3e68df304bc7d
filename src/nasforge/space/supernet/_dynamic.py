"""Weight-sliced layers: one tensor at the largest size, each smaller option a slice of it.

A supernet's convolution holds one weight of ``(max out, max in, max kernel...)``; a network that
uses ``c_out`` output channels, ``c_in`` input channels and a kernel of ``k`` uses the leading
``c_out x c_in`` block and the centred ``k x k`` window (Once-for-All's elastic width and kernel,
Cai et al. 2020, https://arxiv.org/abs/1908.09791, without its kernel transformation matrices).
The input channels are always read off the input, so a layer works after any width choice.
BatchNorm and the linear layers slice the same way. Parameter and buffer names are those of
``nn.Conv1d``/``nn.BatchNorm1d``/``nn.Linear``/..., so a stand-alone network's state maps onto
a slice of the supernet's (:func:`slice_like`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _fan_in_init(weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    # the default initialisation of nn.Conv*/nn.Linear, so a supernet starts like its networks
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = math.prod(weight.shape[1:])
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        nn.init.uniform_(bias, -bound, bound)


def centre(weight: torch.Tensor, kernel: int, dims: int) -> torch.Tensor:
    """The centred ``kernel``-wide window of a convolution weight's last ``dims`` axes."""
    k_max = weight.shape[-1]
    if kernel == k_max:
        return weight
    start = (k_max - kernel) // 2
    for axis in range(weight.dim() - dims, weight.dim()):
        weight = weight.narrow(axis, start, kernel)
    return weight


class DynConv(nn.Module):
    """A convolution whose output channels and (odd) kernel are chosen per call.

    Padding is ``kernel // 2``, as in the spaces' ``conv``, so stride 1 keeps the length.
    """

    def __init__(self, dims: int, c_in: int, c_out: int, kernel: int, stride: int = 1, *,
                 bias: bool = False) -> None:
        super().__init__()
        self.dims, self.stride, self.kernel = dims, stride, kernel
        self.weight = nn.Parameter(torch.empty(c_out, c_in, *([kernel] * dims)))
        self.bias = nn.Parameter(torch.empty(c_out)) if bias else None
        _fan_in_init(self.weight, self.bias)

    def forward(self, x: torch.Tensor, c_out: int | None = None, kernel: int | None = None,
                weight: torch.Tensor | None = None, bias: bool = True) -> torch.Tensor:
        """``x`` through ``c_out`` channels (default: all) of a ``kernel`` window (default: all).

        ``weight`` replaces the full-size weight (a kernel mixture), sliced the same way;
        ``bias=False`` leaves the bias out (a conv block's bias is used only without a norm).
        """
        full = self.weight if weight is None else weight
        c_out = full.shape[0] if c_out is None else c_out
        k = self.kernel if kernel is None else kernel
        w = centre(full[:c_out, : x.shape[1]], k, self.dims)
        b = None if self.bias is None or not bias else self.bias[:c_out]
        conv = F.conv1d if self.dims == 1 else F.conv2d
        out: torch.Tensor = conv(x, w, b, self.stride, k // 2)
        return out

    def extra_repr(self) -> str:
        c_out, c_in = self.weight.shape[:2]
        return f"{c_in}, {c_out}, kernel={self.kernel}, stride={self.stride}, dims={self.dims}"


class DynBatchNorm(nn.Module):
    """BatchNorm over the leading ``x.shape[1]`` channels of its largest size.

    Works on ``(N, C)`` and ``(N, C, ...)`` inputs, and keeps running statistics per channel
    like ``nn.BatchNorm*d`` (``momentum=None``: a cumulative average, as
    :func:`~nasforge.space.supernet.recalibrate_bn` sets it).
    """

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float | None = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.running_mean: torch.Tensor
        self.running_var: torch.Tensor
        self.num_batches_tracked: torch.Tensor
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def reset_running_stats(self) -> None:
        self.running_mean.zero_()
        self.running_var.fill_(1)
        self.num_batches_tracked.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        factor = 0.0
        if self.training:
            self.num_batches_tracked.add_(1)
            factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                      else self.momentum)
        # slices of the buffers are views, so the running statistics update in place
        out: torch.Tensor = F.batch_norm(x, self.running_mean[:c], self.running_var[:c],
                                         self.weight[:c], self.bias[:c], self.training, factor,
                                         self.eps)
        return out


class DynGroupNorm(nn.Module):
    """``GroupNorm(1, C)`` (the ``layer`` norm of feature maps) over the leading channels."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        return F.group_norm(x, 1, self.weight[:c], self.bias[:c], self.eps)


class DynLayerNorm(nn.Module):
    """``LayerNorm(F)`` of flat features over the leading ``x.shape[-1]`` features."""

    def __init__(self, features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x.shape[-1]
        return F.layer_norm(x, (f,), self.weight[:f], self.bias[:f], self.eps)


class DynLinear(nn.Module):
    """A linear layer whose output features are chosen per call; inputs are read off ``x``."""

    def __init__(self, f_in: int, f_out: int, *, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(f_out, f_in))
        self.bias = nn.Parameter(torch.empty(f_out)) if bias else None
        _fan_in_init(self.weight, self.bias)

    def forward(self, x: torch.Tensor, f_out: int | None = None) -> torch.Tensor:
        f_out = self.weight.shape[0] if f_out is None else f_out
        b = None if self.bias is None else self.bias[:f_out]
        return F.linear(x, self.weight[:f_out, : x.shape[-1]], b)


def slice_like(source: torch.Tensor, target_shape: torch.Size, dims: int = 0) -> torch.Tensor:
    """The slice of a supernet tensor that a stand-alone layer of ``target_shape`` uses.

    Leading slices on every axis, except the last ``dims`` axes (a convolution's kernel), which
    take the centred window.
    """
    out = source
    n_lead = len(target_shape) - dims
    for axis in range(n_lead):
        out = out.narrow(axis, 0, target_shape[axis])
    for axis in range(n_lead, len(target_shape)):
        start = (source.shape[axis] - target_shape[axis]) // 2
        out = out.narrow(axis, start, target_shape[axis])
    return out
