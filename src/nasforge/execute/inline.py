"""`InlineExecutor`: run each call at submit time, in the calling process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from nasforge.execute.base import EXECUTORS, Executor, ExecutorShutdownError, R, check_time_limit
from nasforge.execute.limits import check_memory_limit, run_guarded


@EXECUTORS.register("inline")
class InlineExecutor(Executor):
    """Runs ``fn`` synchronously inside ``submit`` and returns an already-completed future.

    For debugging (breakpoints and tracebacks work as usual) and for deterministic tests: with
    one slot, the study alternates ask, evaluate, tell in a fixed order. An exception from ``fn``
    is set on the future, never raised from ``submit``; ``KeyboardInterrupt`` and ``SystemExit``
    are set on the future *and* re-raised so Ctrl-C still stops the run.

    ``time_limit_s`` and ``memory_limit_gb`` are enforced best effort, from within the study
    process (:func:`~nasforge.execute.limits.run_guarded`): Python code of the call is
    interrupted with :class:`~nasforge.errors.TrialTimeout` past the time limit, or with
    :class:`~nasforge.execute.limits.MemoryLimitExceeded` once the process holds more than
    ``memory_limit_gb`` GiB beyond what it held when the call started. A call stuck in one long
    C function is interrupted only when it returns, and a call that kills its own process kills
    the study (use the process pool to survive those; a resume re-runs the trial).

    Example:
        >>> with InlineExecutor() as ex:
        ...     ex.submit(pow, 2, 10).result()
        1024
    """

    def __init__(self) -> None:
        self._closed = False

    @property
    def n_workers(self) -> int:
        return 1

    def free_slots(self) -> int:
        # Calls finish inside submit, so the single slot is always free again afterwards.
        return 0 if self._closed else 1

    def health(self) -> str | None:
        return "it was shut down" if self._closed else None

    def submit(
        self,
        fn: Callable[..., R],
        /,
        *args: Any,
        time_limit_s: float | None = None,
        memory_limit_gb: float | None = None,
        **kwargs: Any,
    ) -> Future[R]:
        if self._closed:
            raise ExecutorShutdownError(
                "InlineExecutor.submit was called after shutdown(); create a new executor"
            )
        limit = check_time_limit(time_limit_s)
        memory = check_memory_limit(memory_limit_gb)
        future: Future[R] = Future()
        future.set_running_or_notify_cancel()
        try:
            result = run_guarded(fn, args, kwargs, time_limit_s=limit, memory_limit_gb=memory,
                                 growth=True, where="in the study process (inline executor)")
        except (KeyboardInterrupt, SystemExit) as exc:
            future.set_exception(exc)
            raise
        except BaseException as exc:  # every other failure belongs to this call only
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True) -> None:
        self._closed = True
