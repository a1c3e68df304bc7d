"""GPUs on one machine: which devices exist, and which one each pool worker gets.

The process pool gives each worker its own GPU by setting ``CUDA_VISIBLE_DEVICES`` in the worker
before it imports torch, so the worker's ``cuda:0`` is its own device and trials never share
one by accident. These functions are pure (the device list is an argument), so the assignment is
tested with a faked list on machines without a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from nasforge.errors import ConfigError, Problem

GpuRequest = str | int | list[int] | None
"""What a configuration asks for: ``"auto"`` (every visible GPU), a count (the first ``n``), a
list of device ids, or ``None``/``0``/``[]`` (no GPU: workers see none)."""


def visible_gpus(environ: dict[str, str] | None = None) -> list[str]:
    """The GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` when it is set (an empty value
    means none), else ``0 .. n-1`` for the ``n`` devices torch counts (none without CUDA)."""
    env = os.environ if environ is None else environ
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return []
    return [str(i) for i in range(torch.cuda.device_count())]


def choose_gpus(request: GpuRequest, devices: Sequence[str], *, field: str) -> list[str]:
    """The devices ``request`` names among the visible ``devices``.

    Raises:
        ConfigError: more GPUs asked for than exist, or an id that is not visible.
    """
    have = ", ".join(devices) or "none"
    if request is None or request == 0 or request == []:
        return []
    if request == "auto":
        return list(devices)
    if isinstance(request, int) and not isinstance(request, bool):
        if request < 0 or request > len(devices):
            raise ConfigError([Problem(
                field, f"asks for {request} GPU(s) but this machine has {len(devices)} "
                f"(visible: {have})", f"use at most {len(devices)}, or 'auto'")])
        return list(devices[:request])
    if isinstance(request, list):
        missing = [str(d) for d in request if str(d) not in devices]
        if missing or len(set(map(str, request))) != len(request):
            why = (f"GPU {', '.join(missing)} does not exist" if missing
                   else "lists a GPU twice")
            raise ConfigError([Problem(
                field, f"{why} (visible: {have})",
                "list distinct ids among the visible GPUs, or use 'auto'")])
        return [str(d) for d in request]
    raise ConfigError([Problem(
        field, f"expected 'auto', a number of GPUs or a list of ids; got {request!r}",
        "write e.g. gpus: auto, gpus: 2 or gpus: [0, 1]")])


def auto_workers(devices: Sequence[str], n_cpus: int | None = None) -> int:
    """``workers: auto``: one worker per GPU, or one per CPU core without a GPU."""
    if devices:
        return len(devices)
    if n_cpus is not None:
        return max(1, n_cpus)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def assign_gpus(n_workers: int, devices: Sequence[str]) -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` of each worker slot: device ``i mod len(devices)`` (each worker
    its own GPU when there are as many GPUs as workers; shared round-robin when fewer), or
    ``None`` for every worker when there is no device (the environment is left alone)."""
    if not devices:
        return [None] * n_workers
    return [devices[i % len(devices)] for i in range(n_workers)]
