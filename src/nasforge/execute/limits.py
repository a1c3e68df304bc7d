"""Per-trial memory limits, and time and memory limits enforced inside the process of a call.

The process pool enforces both limits from its parent: it kills the worker (see
:mod:`nasforge.execute.pool`). The inline executor runs a call in the study process and Ray runs
it in a worker that the driver may not see, so there :func:`run_guarded` checks the limits from
within, every :data:`CHECK_S` seconds, and interrupts the call with
:class:`~nasforge.errors.TrialTimeout` or :class:`MemoryLimitExceeded`:

- in the main thread, through a ``SIGALRM`` interval timer whose handler raises (it also
  interrupts a long ``time.sleep``);
- in another thread, through a watchdog thread that raises the error asynchronously in the
  calling thread.

Either way only Python code is interrupted: a call stuck inside one long C function (a single
huge tensor operation) is interrupted when that function returns. Memory is the resident set
size, read with psutil. A process that runs one call after another (the study process, a Ray
worker) keeps memory that earlier calls freed but the C allocator did not give back, so there
the limit applies to what the call adds (``growth``), measured after returning freed memory to
the system (``malloc_trim``, where the C library has it).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psutil

from nasforge.errors import ConfigError, Problem, TrialTimeout
from nasforge.execute.base import WorkerCrashedError

R = TypeVar("R")

CHECK_S = 0.05
"""How often :func:`run_guarded` checks the limits (seconds)."""


class MemoryLimitExceeded(WorkerCrashedError):
    """A trial used more resident memory than ``trial_memory_limit_gb``; it was stopped."""

    def __reduce__(self) -> tuple[Any, ...]:
        # WorkerCrashedError's own would rebuild the base class in the parent process.
        return (_rebuild_memory, (str(self), self.exitcode, self.pid))


def _rebuild_memory(message: str, exitcode: int | None, pid: int | None) -> MemoryLimitExceeded:
    return MemoryLimitExceeded(message, exitcode=exitcode, pid=pid)


def check_memory_limit(memory_limit_gb: float | None) -> float | None:
    """Validate a ``memory_limit_gb`` argument; returns it as a float (or ``None``)."""
    if memory_limit_gb is None:
        return None
    if (
        isinstance(memory_limit_gb, bool)
        or not isinstance(memory_limit_gb, int | float)
        or not memory_limit_gb > 0
    ):
        raise ConfigError([Problem(
            "trial_memory_limit_gb", f"expected a positive number of GiB; got {memory_limit_gb!r}",
            "pass a value > 0, or None for no limit")])
    return float(memory_limit_gb)


def rss_gb(pid: int, *, children: bool = True) -> float:
    """Resident memory of process ``pid`` (and, by default, of its children) in GiB; 0.0 for a
    process that is gone."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        if children:
            for child in process.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
    except psutil.Error:
        return 0.0
    return float(total) / 2**30


def memory_message(limit_gb: float, used_gb: float) -> str:
    """The reason of a trial stopped for memory, naming the limit and what it used."""
    return (f"exceeded trial_memory_limit_gb={limit_gb:g}: used {used_gb:.2f} GiB; use less "
            "memory per trial (batch size, model size) or raise trial_memory_limit_gb")


def _trim() -> None:
    """Give memory the C allocator holds but nobody uses back to the system (glibc only)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


class _Limits:
    """The checks :func:`run_guarded` makes every :data:`CHECK_S` seconds."""

    def __init__(self, time_limit_s: float | None, memory_limit_gb: float | None,
                 growth: bool, where: str) -> None:
        self.started = time.monotonic()
        self.time_limit_s = time_limit_s
        self.memory_limit_gb = memory_limit_gb
        self.where = where
        self.pid = psutil.Process().pid
        if growth and memory_limit_gb is not None:
            gc.collect()  # what earlier calls left in reference cycles is not this call's
            _trim()
        self.baseline = rss_gb(self.pid, children=False) if growth else 0.0

    def exceeded(self) -> Exception | None:
        """The error to interrupt the call with, or ``None`` while it is within its limits."""
        elapsed = time.monotonic() - self.started
        if self.time_limit_s is not None and elapsed >= self.time_limit_s:
            return TrialTimeout(
                f"Trial exceeded its time limit of {self.time_limit_s:.1f} s; it was interrupted "
                f"after {elapsed:.1f} s {self.where}. Raise trial_time_limit_s or give the trial "
                "a smaller budget")
        if self.memory_limit_gb is not None:
            used = rss_gb(self.pid, children=False) - self.baseline
            if used > self.memory_limit_gb:
                return MemoryLimitExceeded(
                    f"{memory_message(self.memory_limit_gb, used)} (interrupted {self.where})")
        return None


def run_guarded(
    fn: Callable[..., R],
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    time_limit_s: float | None = None,
    memory_limit_gb: float | None = None,
    growth: bool = False,
    where: str = "in its process",
) -> R:
    """``fn(*args, **kwargs)``, interrupted when it runs past ``time_limit_s`` or its process
    holds more than ``memory_limit_gb`` GiB (with ``growth``, more than it held at the start).

    Raises:
        TrialTimeout: the time limit passed (unless ``fn`` turned it into a result itself).
        MemoryLimitExceeded: the memory limit was passed.
    """
    kwargs = kwargs or {}
    if time_limit_s is None and memory_limit_gb is None:
        return fn(*args, **kwargs)
    limits = _Limits(time_limit_s, memory_limit_gb, growth, where)
    if threading.current_thread() is threading.main_thread():
        return _with_timer(limits, fn, args, kwargs)
    return _with_watchdog(limits, fn, args, kwargs)


def _with_timer(limits: _Limits, fn: Callable[..., R], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> R:
    def check(signum: int, frame: Any) -> None:
        error = limits.exceeded()
        if error is None:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)  # once is enough
        try:
            raise error
        finally:
            # No cycle error -> traceback -> this frame -> error: it would keep the call's
            # frames, and the memory they hold, alive until the garbage collector runs.
            del error

    previous = signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, CHECK_S, CHECK_S)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Interrupt(Exception):
    """Raised asynchronously in a guarded thread; carries no message (it is rebuilt)."""


def _with_watchdog(limits: _Limits, fn: Callable[..., R], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> R:
    target = threading.get_ident()
    done = threading.Event()
    raised: list[Exception] = []

    def watch() -> None:
        while not done.wait(CHECK_S):
            error = limits.exceeded()
            if error is not None:
                raised.append(error)
                # A subclass of the real error's type, named like it, whose message is the real
                # one: code under fn that catches Exception records the right reason.
                kind = type(type(error).__name__, (_Interrupt, type(error)),
                            {"__init__": lambda self, _m=str(error): Exception.__init__(self, _m)})
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(target), ctypes.py_object(kind))
                return

    watchdog = threading.Thread(target=watch, name="nasforge-trial-limits", daemon=True)
    watchdog.start()
    try:
        return fn(*args, **kwargs)
    except _Interrupt:
        error = raised.pop()
        try:
            raise error from None
        finally:
            del error  # no cycle through this frame (see _with_timer)
    finally:
        done.set()
        watchdog.join()
