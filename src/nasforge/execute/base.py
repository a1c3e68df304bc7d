"""`Executor`: where evaluation calls run (inline, a local process pool, Ray, or a simulated clock).

An executor takes a callable and its arguments and returns a :class:`concurrent.futures.Future`.
The study loop fills :meth:`Executor.free_slots` with ``submit`` calls and collects finished
futures with :meth:`Executor.wait`, so a free worker never waits for a whole generation.

Contract every executor keeps:

- ``submit`` never raises because of what the *call* did: the call's exception, a time-out
  (:class:`~nasforge.errors.TrialTimeout`) or a dead worker (:class:`WorkerCrashedError`) is set on
  the future. It raises only for problems visible before the call runs (something that does not
  pickle, an invalid ``time_limit_s``, an executor already shut down).
- Submitting beyond ``free_slots()`` is allowed: calls queue first-in first-out.
- ``shutdown`` leaves no process or thread of the executor behind. Use the executor as a context
  manager: a normal exit waits for submitted calls, an exception (e.g. Ctrl-C) stops them.
- :meth:`Executor.now` is the clock the study's time budget reads: real monotonic time, except for
  the simulated executor, whose virtual clock advances by each trial's cost.
"""

from __future__ import annotations

import concurrent.futures
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from nasforge.config import Component
from nasforge.errors import ConfigError, NasforgeError, Problem
from nasforge.execute.resources import Resources
from nasforge.registry import Registry

R = TypeVar("R")


class WorkerCrashedError(NasforgeError, RuntimeError):
    """A worker process died while running a call (segfault, out-of-memory kill, ``os._exit``).

    Attributes:
        exitcode: the process exit code; negative for a signal (``-9`` is SIGKILL).
        pid: the dead worker's process id.
    """

    def __init__(self, message: str, *, exitcode: int | None = None, pid: int | None = None):
        super().__init__(message)
        self.exitcode = exitcode
        self.pid = pid

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only attributes would be lost by the default exception pickling.
        return (_rebuild_crash, (str(self), self.exitcode, self.pid))


def _rebuild_crash(message: str, exitcode: int | None, pid: int | None) -> WorkerCrashedError:
    return WorkerCrashedError(message, exitcode=exitcode, pid=pid)


class ExecutorShutdownError(NasforgeError, RuntimeError):
    """The executor was shut down: a call was submitted afterwards, or was stopped by it."""


class NotPicklableError(NasforgeError, TypeError):
    """A function, argument, result or exception could not cross a process boundary."""


class Executor(Component, ABC):
    """Base class of executors. Subclasses implement ``n_workers``, ``submit``, ``free_slots``
    and ``shutdown``; ``wait`` and the context-manager protocol come from here.

    Executors are used from the study's thread; ``submit`` may also be called from future
    callbacks. ``get_params`` describes the configuration only, never live workers.
    """

    @property
    @abstractmethod
    def n_workers(self) -> int:
        """How many calls can run at the same time."""

    @abstractmethod
    def submit(
        self,
        fn: Callable[..., R],
        /,
        *args: Any,
        time_limit_s: float | None = None,
        memory_limit_gb: float | None = None,
        **kwargs: Any,
    ) -> Future[R]:
        """Schedule ``fn(*args, **kwargs)`` and return its future.

        Args:
            fn: the callable; for process executors it and its arguments must pickle (a
                module-level function, not a lambda or a local function).
            time_limit_s: hard wall-clock limit of the call, counted from when it starts
                running (queueing does not count); ``None`` for no limit. Executors that cannot
                enforce it say so; evaluators also check it cooperatively.
            memory_limit_gb: the most resident memory (GiB) the call may use; over it, the call
                is stopped and its future gets
                :class:`~nasforge.execute.limits.MemoryLimitExceeded`. ``None``: no limit. The
                study passes it only when ``trial_memory_limit_gb`` is set, so an executor of a
                plugin that lacks it still runs studies without a memory limit.

        Raises:
            NotPicklableError: the executor needs to pickle ``fn``/arguments and cannot.
            ExecutorShutdownError: the executor was shut down.
            ConfigError: ``time_limit_s`` or ``memory_limit_gb`` is not a positive number.
        """

    @abstractmethod
    def free_slots(self) -> int:
        """Workers neither busy nor claimed by a queued call: how many submits start at once."""

    def prepare(
        self, directory: Path | None = None, *, resources: Resources | None = None
    ) -> None:
        """Called by the study before its first trial: connect and check that the configuration
        can run here, so a cluster that cannot be reached or resources no node has are a clear
        error within seconds, not a hang. ``directory`` is the study folder, where an executor
        keeps its own files (Ray's temporary and log files); ``None`` for an in-memory study.
        ``resources`` is what the evaluator says each trial needs (executors with a scheduler
        reserve it per trial; the others ignore it).

        Raises:
            ConfigError: the configuration cannot run on this machine or cluster.
        """

    def now(self) -> float:
        """Seconds on the clock the study's time budget reads (monotonic; only differences
        count). The simulated executor's clock is virtual: it moves by trial costs."""
        return time.monotonic()

    def health(self) -> str | None:
        """Why this executor can run no more calls (shut down, workers that cannot start), or
        ``None`` while it works. The study stops with this reason instead of waiting forever."""
        return None

    def wait(
        self, futures: Collection[Future[Any]], timeout: float | None = None
    ) -> set[Future[Any]]:
        """Block until at least one of ``futures`` is done or ``timeout`` seconds pass.

        Returns:
            The futures that are done (possibly empty after a timeout; empty at once if
            ``futures`` is empty).
        """
        if not futures:
            return set()
        done, _ = concurrent.futures.wait(
            futures, timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED
        )
        return set(done)

    @abstractmethod
    def shutdown(self, wait: bool = True) -> None:
        """Stop the executor; idempotent.

        Args:
            wait: ``True`` lets submitted calls finish first; ``False`` cancels queued calls and
                stops running ones now (their futures get :class:`ExecutorShutdownError`).
        """

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # On an error (Ctrl-C included) don't sit waiting for hours-long trials to end.
        self.shutdown(wait=exc_type is None)


def check_time_limit(time_limit_s: float | None) -> float | None:
    """Validate a ``time_limit_s`` argument; returns it as a float (or ``None``)."""
    if time_limit_s is None:
        return None
    if (
        isinstance(time_limit_s, bool)
        or not isinstance(time_limit_s, int | float)
        or not time_limit_s > 0
    ):
        raise ConfigError(
            [
                Problem(
                    "time_limit_s",
                    f"expected a positive number of seconds; got {time_limit_s!r}",
                    "pass a value > 0, or None for no limit",
                )
            ]
        )
    return float(time_limit_s)


EXECUTORS: Registry[Executor] = Registry("executor")
"""Registered executors (``@EXECUTORS.register("process")``)."""
