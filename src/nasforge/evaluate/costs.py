"""Cost measures of a model: parameters, FLOPs, latency and peak memory. Pure functions.

Each takes a model and one example's input shape (without the batch axis) and leaves the model as
it found it (training mode, weights, gradients). Latency with a warm-up, repeats, spread and a
pinned thread count is :func:`nasforge.evaluate.latency.measure_latency`.
"""

from __future__ import annotations

import statistics
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
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

    A quick figure kept for compatibility: it neither pins the thread count nor reports the
    spread; :func:`nasforge.evaluate.latency.measure_latency` does both, and onnxruntime.

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


class _LiveStorages(TorchDispatchMode):
    """Counts the bytes of the storages the operators inside the block allocate, while they
    live, and the peak of that count.

    Every ATen operator call passes through :meth:`__torch_dispatch__`. A storage an output
    holds is new when no argument of the call holds it (a view or an in-place result aliases an
    argument) and it is not counted already; a weak-reference finaliser takes it off when the
    storage is freed, which CPython does as soon as the last tensor on it goes. Work buffers an
    operator's kernel allocates and frees inside itself are not seen.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = 0
        self.peak = 0

    def _free(self, key: int) -> None:
        self.current -= self.live.pop(key, 0)

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        held = {_storage(t)[0] for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        out = func(*args, **kwargs)
        for tensor in tree_leaves(out):
            if not isinstance(tensor, torch.Tensor):
                continue
            key, size, storage = _storage(tensor)
            if size == 0 or key in held or key in self.live:
                continue
            self.live[key] = size
            weakref.finalize(storage, self._free, key)
            self.current += size
            self.peak = max(self.peak, self.current)
        return out


def _storage(tensor: torch.Tensor) -> tuple[int, int, torch.UntypedStorage | None]:
    """``(address, bytes, storage)`` of a dense tensor's storage; ``(0, 0, None)`` for a tensor
    without one (sparse, nested)."""
    try:
        storage = tensor.untyped_storage()
    except (NotImplementedError, RuntimeError):
        return 0, 0, None
    return storage.data_ptr(), storage.nbytes(), storage


def _weight_bytes(model: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def peak_memory_mb(model: nn.Module, input_shape: Sequence[int], *, batch_size: int = 1) -> float:
    """Memory in MiB that a forward pass of ``batch_size`` examples needs, in evaluation mode.

    The model's weights and buffers plus the peak of what the pass allocates on top of what was
    already allocated (the input batch is not counted; the output is, while it lives).

    On CUDA this is the caching allocator's peak (``torch.cuda.max_memory_allocated``) after one
    untimed pass, so one-off library workspaces (cuBLAS) are not counted. On the CPU, where the
    process's resident size says little about one pass, the storages the pass's operators
    allocate are tracked as they are created and freed (:class:`_LiveStorages`, a
    ``TorchDispatchMode``), so the figure is exact and the same on every run: for
    ``Linear(10, 20) -> ReLU -> Linear(20, 5)`` at batch 4 it is the weights, 1,300 bytes, plus
    the two 320-byte activations alive at once while the ReLU runs. Kernel-internal work
    buffers, and allocator rounding, are not counted on the CPU.

    Raises:
        ValueError: ``batch_size`` below 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    device = model_device(model)
    x = _example(model, input_shape, batch_size)
    weights = _weight_bytes(model)
    if device.type != "cuda":
        tracker = _LiveStorages()
        with _eval_mode(model), tracker:
            model(x)
        return (weights + tracker.peak) / 2**20
    with _eval_mode(model):
        model(x)
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        model(x)
        torch.cuda.synchronize(device)
    return (weights + torch.cuda.max_memory_allocated(device) - before) / 2**20
