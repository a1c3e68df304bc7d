"""Cost measures of a model: parameters, FLOPs, latency and peak memory. Pure functions.

Each takes a model and one example's input shape (without the batch axis) and leaves the model as
it found it (training mode, weights, gradients).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a stateless model)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Evaluation mode and no autograd for the block; the previous mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _example(model: nn.Module, input_shape: Sequence[int], batch: int = 1) -> torch.Tensor:
    return torch.zeros((batch, *input_shape), device=model_device(model))


def count_params(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of parameters (only those with ``requires_grad`` unless ``trainable_only=False``).

    Parameters shared between modules are counted once.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Floating-point operations of one forward pass of one example, in evaluation mode.

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode`, which counts matrix products and
    convolutions at 2 FLOPs per multiply-accumulate (a ``Linear(10, 5)`` is 100) and ignores
    element-wise work such as biases, activations and normalisation.
    """
    counter = FlopCounterMode(display=False)
    with _eval_mode(model), counter:
        model(_example(model, input_shape))
    return int(counter.get_total_flops())


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_latency_ms(
    model: nn.Module, input_shape: Sequence[int], *, repeats: int = 20, warmup: int = 3
) -> float:
    """Median wall-clock milliseconds of a forward pass of one example on the model's device.

    Runs ``warmup`` untimed passes first (allocator, kernel selection), then times ``repeats``
    passes one by one, synchronising CUDA around each so the time is the kernel time, not the
    launch time. The median resists the odd slow pass caused by other processes.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    device = model_device(model)
    x = _example(model, input_shape)
    times = []
    with _eval_mode(model):
        for _ in range(max(warmup, 0)):
            model(x)
        for _ in range(repeats):
            _synchronize(device)
            start = time.perf_counter()
            model(x)
            _synchronize(device)
            times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def peak_memory_mb(model: nn.Module, input_shape: Sequence[int], *, batch_size: int = 1) -> float:
    """CUDA memory in MiB that a forward pass of ``batch_size`` examples needs (CUDA models only).

    The model's weights and buffers plus the peak of what the pass allocates on top of what was
    already allocated (the input batch is not counted). One untimed pass runs first so one-off
    library workspaces (cuBLAS) are not counted. Raises ``ValueError`` for a model not on CUDA:
    CPU memory is not measured reliably from inside a process.
    """
    device = model_device(model)
    if device.type != "cuda":
        raise ValueError(f"peak_memory_mb needs a model on a CUDA device; this one is on {device}")
    x = _example(model, input_shape, batch_size)
    weights = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    with _eval_mode(model):
        model(x)
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        model(x)
        torch.cuda.synchronize(device)
    return (weights + torch.cuda.max_memory_allocated(device) - before) / 2**20
