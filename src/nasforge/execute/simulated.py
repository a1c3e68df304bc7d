"""`SimulatedExecutor`: N virtual workers on a simulated clock driven by each trial's cost.

For studying many-worker behaviour on one machine (an asynchronous strategy at 64 workers on
NAS-Bench-201, say) without 64 machines, the way Syne Tune's simulator backend
(``syne_tune/backend/simulator_backend/simulator_backend.py``) does it: every call runs at once,
in this process, and its *cost* decides when, on a virtual clock, its result arrives. The study
runs through the same loop and store as a real one; only time is simulated.

How time moves:

- ``submit`` runs the call now and books it on the worker that is free first (a free worker
  starts it at the current simulated time; a call submitted beyond the free workers waits, first
  in first out, for the earliest one to finish). Its duration is the result's ``cost_s`` (a
  :class:`~nasforge.trial.Result`'s simulated training time for a lookup benchmark such as
  ``nb201_table``), or the call's measured wall time for a value without one.
- ``wait`` advances the clock to the earliest finish among the booked calls and delivers that
  result (ties in submission order): the study sees results arrive one by one, in simulated-time
  order, and refills the freed worker at once, so the schedule is asynchronous and
  steady-state exactly as with real workers.
- :meth:`SimulatedExecutor.now` is that clock, and the study's wall-time budget reads it, so
  ``budget: {minutes: 600}`` is 600 *simulated* minutes and the stored ``elapsed_s`` is simulated.

Everything happens in one thread in a fixed order, so the same seed gives the same history.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field

from nasforge.errors import TrialTimeout
from nasforge.execute.base import EXECUTORS, Executor, ExecutorShutdownError, R, check_time_limit
from nasforge.execute.limits import check_memory_limit


class _SimFuture(Future[Any]):
    """A future whose ``result()``/``exception()`` advance the simulated clock to its finish,
    so code that blocks on one future (rather than calling ``wait``) cannot hang."""

    def __init__(self, owner: SimulatedExecutor) -> None:
        super().__init__()
        self._owner = owner

    def result(self, timeout: float | None = None) -> Any:
        if not self.done():
            self._owner._deliver_until(self)
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self.done():
            self._owner._deliver_until(self)
        return super().exception(timeout)


@dataclass(order=True)
class _Booking:
    finish_s: float
    seq: int
    future: _SimFuture = field(compare=False)
    outcome: tuple[str, Any] = field(compare=False)  # ("result" | "exception", value)


def duration_of(value: Any, measured_s: float) -> float:
    """How long a call that returned ``value`` takes on the simulated clock: its ``cost_s`` when
    it has a finite, non-negative one (a Result), else the measured wall time."""
    cost = getattr(value, "cost_s", None)
    if isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost):
        return max(0.0, float(cost))
    return max(0.0, measured_s)


@EXECUTORS.register("simulated")
class SimulatedExecutor(Executor):
    """Runs calls in this process on ``workers`` virtual workers and a simulated clock.

    Args:
        workers: virtual workers, i.e. trials running at the same simulated time.

    ``time_limit_s`` is enforced in simulated time: a call whose duration exceeds it finishes
    at start + limit with :class:`~nasforge.errors.TrialTimeout`. ``wait``'s ``timeout`` is
    ignored (the next result is always due at a finite simulated time). ``memory_limit_gb`` is
    accepted and ignored: simulated trials use no real memory worth limiting.

    Example:
        >>> from nasforge.trial import Result
        >>> ex = SimulatedExecutor(workers=2)
        >>> slow = ex.submit(Result, metrics={"a": 1.0}, cost_s=30.0)
        >>> fast = ex.submit(Result, metrics={"a": 2.0}, cost_s=10.0)
        >>> [f.result().metrics["a"] for f in ex.wait([slow, fast])], ex.now()
        ([2.0], 10.0)
        >>> slow.result().metrics["a"], ex.now()
        (1.0, 30.0)
    """

    def __init__(self, *, workers: Annotated[int, Field(ge=1)] = 4) -> None:
        self.workers = workers
        self._clock = 0.0
        self._free_at = [0.0] * workers  # when each virtual worker finishes what it was given
        self._booked: list[_Booking] = []  # a heap: undelivered results by finish time
        self._seq = 0
        self._closed = False
        self._lock = threading.RLock()

    @property
    def n_workers(self) -> int:
        return self.workers

    def now(self) -> float:
        return self._clock

    def free_slots(self) -> int:
        # A worker stays busy until its result is delivered, so a zero-cost call cannot let the
        # study submit without end at one instant.
        with self._lock:
            return 0 if self._closed else max(0, self.workers - len(self._booked))

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
        limit = check_time_limit(time_limit_s)
        check_memory_limit(memory_limit_gb)
        with self._lock:
            if self._closed:
                raise ExecutorShutdownError(
                    "SimulatedExecutor.submit was called after shutdown(); create a new executor"
                )
            worker = min(range(self.workers), key=lambda w: (self._free_at[w], w))
            start = max(self._clock, self._free_at[worker])
            future = _SimFuture(self)
            future.set_running_or_notify_cancel()
            began = time.perf_counter()
            outcome: tuple[str, Any]
            try:
                value = fn(*args, **kwargs)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # belongs to this call only
                outcome, duration = ("exception", exc), 0.0
            else:
                outcome = ("result", value)
                duration = duration_of(value, time.perf_counter() - began)
            if limit is not None and duration > limit:
                outcome = ("exception", TrialTimeout(
                    f"Trial exceeded its time limit of {limit:.1f} s of simulated time (it "
                    f"would take {duration:.1f} s); raise time_limit_s or give the trial a "
                    "smaller budget"))
                duration = limit
            self._free_at[worker] = start + duration
            heapq.heappush(self._booked, _Booking(start + duration, self._seq, future, outcome))
            self._seq += 1
            return future

    def wait(
        self, futures: Collection[Future[Any]], timeout: float | None = None
    ) -> set[Future[Any]]:
        """Advance the clock until one of ``futures`` is done; returns the done ones."""
        with self._lock:
            while True:
                done = {f for f in futures if f.done()}
                if done or not futures or not self._booked:
                    return done
                self._advance()

    def _advance(self) -> None:
        """Move the clock to the earliest booked finish and deliver that one result (of equal
        finishes, the first submitted): one at a time, because a set of several done futures
        would be handled in an order that differs between runs."""
        booking = heapq.heappop(self._booked)
        self._clock = max(self._clock, booking.finish_s)
        kind, value = booking.outcome
        if kind == "result":
            booking.future.set_result(value)
        else:
            booking.future.set_exception(value)

    def _deliver_until(self, future: _SimFuture) -> None:
        with self._lock:
            while not future.done() and self._booked:
                self._advance()

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            if wait:
                while self._booked:
                    self._advance()
            self._closed = True
            for booking in self._booked:
                booking.future.set_exception(ExecutorShutdownError(
                    "the call was dropped because the SimulatedExecutor was shut down before "
                    "its simulated finish (shutdown(wait=False), an error or Ctrl-C)"))
            self._booked.clear()
