"""Executors: where evaluation calls run (inline for debugging, a local process pool with a GPU
per worker, Ray on one machine or a cluster, or N virtual workers on a simulated clock)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasforge.errors import ConfigError, Problem
from nasforge.execute.base import (
    EXECUTORS,
    Executor,
    ExecutorShutdownError,
    NotPicklableError,
    WorkerCrashedError,
)
from nasforge.execute.gpus import assign_gpus, auto_workers, choose_gpus, visible_gpus
from nasforge.execute.inline import InlineExecutor
from nasforge.execute.pool import ProcessExecutor
from nasforge.execute.ray import RayExecutor
from nasforge.execute.resources import Resources
from nasforge.execute.simulated import SimulatedExecutor

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorShutdownError",
    "InlineExecutor",
    "NotPicklableError",
    "ProcessExecutor",
    "RayExecutor",
    "Resources",
    "SimulatedExecutor",
    "WorkerCrashedError",
    "assign_gpus",
    "auto_workers",
    "choose_gpus",
    "get_executor",
    "visible_gpus",
]


def get_executor(spec: str | Mapping[str, Any] | Executor, *, field: str = "executor") -> Executor:
    """Build an executor from a registry name or ``{"name": ..., **params}``.

    An :class:`Executor` instance is returned as is, so APIs can accept either.

    Example:
        >>> get_executor({"name": "process", "workers": 4})
        ProcessExecutor(workers=4, threads_per_worker=1, start_method='spawn', gpus='auto')

    Raises:
        ConfigError: unknown name, missing ``name``, or invalid parameters.
    """
    if isinstance(spec, Executor):
        return spec
    if isinstance(spec, str):
        return EXECUTORS.create(spec, field=field)
    if isinstance(spec, Mapping):
        params = dict(spec)
        name = params.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(
                [
                    Problem(
                        f"{field}.name",
                        f"expected the executor's registry name; got {name!r}",
                        f"add name: one of {', '.join(EXECUTORS.names())}",
                    )
                ]
            )
        return EXECUTORS.create(name, params, field=field)
    raise ConfigError(
        [
            Problem(
                field,
                f"expected a name or a mapping with 'name'; got {type(spec).__name__}",
                "write e.g. executor: {name: process, workers: 2}",
            )
        ]
    )
