"""`ProcessExecutor`: a pool of persistent local worker processes with hard time limits.

Written directly on :mod:`multiprocessing` rather than on
:class:`concurrent.futures.ProcessPoolExecutor`, because the latter cannot stop one stuck call:
it can only break the whole pool. Here every
worker has its own pair of pipes, so the pool can terminate exactly the worker whose call ran
past its time limit, or notice exactly which one crashed, and start a replacement while the
others keep running.

How it works:

- The parent pickles ``(fn, args, kwargs)`` in ``submit`` (so a lambda fails there, in the
  caller) and queues it. A call is sent to a worker only once that worker has said it is ready,
  so start-up time (importing torch under ``spawn``) never counts against a time limit.
- One daemon thread in the parent waits on all result pipes and process sentinels: it resolves
  futures, enforces deadlines (``time_limit_s`` + :attr:`ProcessExecutor.kill_grace_s`, then
  SIGTERM, then SIGKILL) and memory limits (a worker whose resident memory, its children's
  included, passes ``memory_limit_gb`` is killed), replaces dead workers and starts queued calls
  in FIFO order.
- Workers ignore SIGINT (the parent decides what Ctrl-C means), apply ``threads_per_worker`` to
  torch and the OMP/MKL/OpenBLAS environment, set ``CUDA_VISIBLE_DEVICES`` to their own GPU
  (:mod:`nasforge.execute.gpus`; a replacement worker gets the GPU of the one it replaces), and
  exit on their own when the parent dies, even in the middle of a call, so a SIGKILLed study
  leaves no orphans.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from nasforge.errors import TrialTimeout
from nasforge.execute.base import (
    EXECUTORS,
    Executor,
    ExecutorShutdownError,
    NotPicklableError,
    R,
    WorkerCrashedError,
    check_time_limit,
)
from nasforge.execute.gpus import assign_gpus, auto_workers, choose_gpus, visible_gpus
from nasforge.execute.limits import (
    MemoryLimitExceeded,
    check_memory_limit,
    memory_message,
    rss_gb,
)

_THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
_STOP = b""  # message to a worker: finish and exit
_POLL_S = 0.1  # the collector wakes at least this often to check deadlines and stop requests
_MAX_START_FAILURES = 3  # workers dying before ready, in a row, that mark the pool broken
_LIVE_POOLS: weakref.WeakSet[_Pool] = weakref.WeakSet()  # started and not yet stopped


# --------------------------------------------------------------------------------- worker side


def _watch_parent(parent_pid: int) -> None:
    """Exit the worker when its parent is gone, even while a call is running."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(0)


def _dumps_outcome(kind: str, value: Any, tb_text: str) -> bytes:
    """Pickle a call's outcome; anything that does not pickle becomes a NotPicklableError."""
    try:
        inner = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        # Some exceptions pickle but cannot be rebuilt (a custom __init__ signature), so check.
        if kind == "raise":
            pickle.loads(inner)
    except Exception as exc:
        what = (
            f"raised {type(value).__name__}: {value}"
            if kind == "raise"
            else f"returned a {type(value).__name__}"
        )
        error = NotPicklableError(
            f"The call {what}, which could not be sent back to the parent process "
            f"({type(exc).__name__}: {exc}). Return and raise only picklable values "
            "(plain data, tensors, dataclasses of those)."
        )
        kind, inner = "raise", pickle.dumps(error)
    return pickle.dumps((kind, inner, tb_text), protocol=pickle.HIGHEST_PROTOCOL)


def _worker_main(
    tasks: Connection, results: Connection, threads: int, gpu: str | None = None
) -> None:
    """Body of a worker process: initialise once, then run calls until told to stop."""
    # The parent decides what Ctrl-C means; a worker must not die half-way through a trial.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in _THREAD_ENV_VARS:
        os.environ[var] = str(threads)
    if gpu is not None:  # before anything initialises CUDA (torch does so lazily)
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency; keep workers usable anyway
        pass
    results.send_bytes(pickle.dumps(("ready", os.getpid(), "")))
    while True:
        try:
            data = tasks.recv_bytes()
        except (EOFError, OSError):
            return  # the parent closed the pipe (or died)
        if data == _STOP:
            return
        try:
            fn, args, kwargs = pickle.loads(data)
            outcome = _dumps_outcome("ok", fn(*args, **kwargs), "")
        except BaseException as exc:  # SystemExit/KeyboardInterrupt belong to the call as well
            outcome = _dumps_outcome("raise", exc, traceback.format_exc())
        del data
        try:
            results.send_bytes(outcome)
        except (EOFError, OSError):
            return


# --------------------------------------------------------------------------------- parent side


class _RemoteTraceback(Exception):
    """Carries the worker's traceback text as ``__cause__`` of a call's exception."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


@dataclass
class _Call:
    future: Future[Any]
    payload: bytes
    time_limit_s: float | None
    name: str
    memory_limit_gb: float | None = None


@dataclass
class _Worker:
    process: BaseProcess
    tasks: Connection  # parent -> worker
    results: Connection  # worker -> parent
    ready: bool = False
    call: _Call | None = None
    started: float = 0.0
    deadline: float | None = None
    pid: int | None = None
    slot: int = 0  # which worker this is (its GPU); a replacement keeps the slot


_Resolution = tuple[Future[Any], str, Any]  # (future, "result" | "exception", value)


def _signal_name(exitcode: int) -> str:
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        name = _signal_name(exitcode)
        hint = (
            "; the kernel's out-of-memory killer sends SIGKILL: reduce batch size, model size "
            "or workers"
            if exitcode == -signal.SIGKILL
            else ""
        )
        return f"killed by {name}{hint}"
    return f"exit code {exitcode}"


def _stop_process(process: BaseProcess, grace_s: float = 1.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``; always reaps the process."""
    if process.is_alive():
        process.terminate()
        process.join(grace_s)
    if process.is_alive():
        process.kill()
    process.join()


class _Pool:
    """The live state of a ProcessExecutor, kept apart so no thread references the executor."""

    def __init__(
        self,
        n_workers: int,
        threads: int,
        start_method: str,
        grace_s: float,
        gpus: list[str | None] | None = None,
    ) -> None:
        # Any: typeshed's BaseContext lacks Process, which every concrete context has.
        self._ctx: Any = multiprocessing.get_context(start_method)
        self._n_workers = n_workers
        self._threads = threads
        self.gpus: list[str | None] = gpus or [None] * n_workers  # CUDA_VISIBLE_DEVICES per slot
        self._start_method = start_method
        self._grace_s = grace_s
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._queue: deque[_Call] = deque()
        self._start_failures = 0
        self._broken: str | None = None
        self._closed = False  # no more submits
        self._draining = False  # stop once the submitted calls are done (executor was dropped)
        self._stopping = False  # collector thread: exit
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- called by the executor

    def start(self) -> None:
        with self._lock:
            if self._closed:
                raise ExecutorShutdownError(
                    "ProcessExecutor was used after shutdown(); create a new executor"
                )
            if self._thread is not None:
                return
            for slot in range(self._n_workers):
                self._workers.append(self._spawn(slot))
            self._thread = threading.Thread(
                target=self._collect, name="nasforge-process-executor", daemon=True
            )
            self._thread.start()
            _LIVE_POOLS.add(self)

    def submit(self, call: _Call) -> None:
        self.start()
        with self._lock:
            if self._closed:
                raise ExecutorShutdownError(
                    "ProcessExecutor.submit was called after shutdown(); create a new executor"
                )
            if self._broken:
                raise WorkerCrashedError(self._broken)
            self._queue.append(call)
            self._dispatch()

    def free_slots(self) -> int:
        with self._lock:
            if self._closed or self._broken:
                return 0
            busy = sum(w.call is not None for w in self._workers)
            return max(0, self._n_workers - busy - len(self._queue))

    def health(self) -> str | None:
        with self._lock:
            if self._broken:
                return self._broken
            return "it was shut down" if self._closed else None

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._workers if w.pid is not None]

    def close_when_idle(self) -> None:
        """Accept no more calls; the collector stops the workers once submitted calls are done."""
        with self._lock:
            self._closed = True
            self._draining = True

    def shutdown(self, wait: bool) -> None:
        # From a future callback (the collector thread) waiting would deadlock: stop right away.
        in_collector = threading.current_thread() is self._thread
        with self._lock:
            self._closed = True
            pending = [c.future for c in self._queue] + [
                w.call.future for w in self._workers if w.call is not None
            ]
        if wait and self._thread is not None and not in_collector:
            # The collector keeps enforcing time limits and replacing crashed workers meanwhile.
            for future in pending:
                with contextlib.suppress(BaseException):
                    future.exception()
        with self._lock:
            self._stopping = True
            queued = list(self._queue)
            self._queue.clear()
            workers, self._workers = self._workers, []
        if self._thread is not None and not in_collector:
            self._thread.join()
        for call in queued:
            call.future.cancel()
        for worker in workers:
            if worker.ready and worker.call is None:
                with contextlib.suppress(OSError):
                    worker.tasks.send_bytes(_STOP)
        for worker in workers:
            if worker.ready and worker.call is None:
                worker.process.join(5.0)
            _stop_process(worker.process)
            if worker.call is not None and not worker.call.future.done():
                worker.call.future.set_exception(
                    ExecutorShutdownError(
                        f"{worker.call.name} was stopped because the ProcessExecutor was shut "
                        "down while it ran (shutdown(wait=False), an error or Ctrl-C)"
                    )
                )
            self._close(worker)
        _LIVE_POOLS.discard(self)

    # --------------------------------------------------------------------- collector thread

    def _collect(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
                waitables: dict[Any, _Worker] = {}
                for worker in self._workers:
                    waitables[worker.results] = worker
                    waitables[worker.process.sentinel] = worker
                timeout = self._next_timeout()
            ready = multiprocessing.connection.wait(list(waitables), timeout)
            resolutions: list[_Resolution] = []
            with self._lock:
                if self._stopping:
                    return
                dead: list[_Worker] = []
                for obj in ready:
                    worker = waitables[obj]
                    if worker in dead or worker not in self._workers:
                        continue
                    if obj is worker.results:
                        if not self._receive(worker, resolutions):
                            dead.append(worker)
                    elif not worker.results.poll():
                        # Exited; a result sent just before exiting is read first, next round.
                        dead.append(worker)
                for worker in dead:
                    self._on_death(worker, resolutions)
                now = time.monotonic()
                for worker in list(self._workers):
                    if worker.deadline is not None and now >= worker.deadline:
                        self._on_timeout(worker, now, resolutions)
                    elif (worker.call is not None and worker.call.memory_limit_gb is not None
                          and worker.pid is not None):
                        used = rss_gb(worker.pid)
                        if used > worker.call.memory_limit_gb:
                            self._on_memory(worker, used, resolutions)
                self._dispatch()
                drained = (
                    self._draining
                    and not self._queue
                    and all(w.call is None for w in self._workers)
                )
            # Outside the lock: callbacks of these futures may call submit().
            for future, kind, value in resolutions:
                # The caller may cancel a queued future at any moment; that one stays cancelled.
                with contextlib.suppress(InvalidStateError):
                    if kind == "result":
                        future.set_result(value)
                    else:
                        future.set_exception(value)
            if drained:
                self.shutdown(wait=False)
                return

    def _next_timeout(self) -> float:
        deadlines = [w.deadline for w in self._workers if w.deadline is not None]
        if not deadlines:
            return _POLL_S
        return max(0.0, min(_POLL_S, min(deadlines) - time.monotonic()))

    def _receive(self, worker: _Worker, resolutions: list[_Resolution]) -> bool:
        """Handle one message from ``worker``; False if its pipe is closed (it died)."""
        try:
            kind, inner, tb_text = pickle.loads(worker.results.recv_bytes())
        except (EOFError, OSError):
            return False
        if kind == "ready":
            worker.ready, worker.pid = True, inner
            self._start_failures = 0
            return True
        call, worker.call, worker.deadline = worker.call, None, None
        if call is None:  # pragma: no cover - a worker only answers calls it was sent
            return True
        try:
            value = pickle.loads(inner)
        except Exception as exc:
            what = "exception" if kind == "raise" else "result"
            value = NotPicklableError(
                f"The {what} of {call.name} could not be unpickled in the parent process "
                f"({type(exc).__name__}: {exc}); make sure its classes are importable here"
            )
            kind = "raise"
        if kind == "raise":
            if tb_text:
                value.__cause__ = _RemoteTraceback(tb_text)
            resolutions.append((call.future, "exception", value))
        else:
            resolutions.append((call.future, "result", value))
        return True

    def _on_death(self, worker: _Worker, resolutions: list[_Resolution]) -> None:
        worker.process.join(1.0)
        exitcode = worker.process.exitcode
        _stop_process(worker.process)
        pid = worker.pid or worker.process.pid
        if worker.call is not None:
            resolutions.append(
                (
                    worker.call.future,
                    "exception",
                    WorkerCrashedError(
                        f"The worker process (pid {pid}) running {worker.call.name} died "
                        f"unexpectedly ({_describe_exit(exitcode)}); a replacement worker was "
                        "started",
                        exitcode=exitcode,
                        pid=pid,
                    ),
                )
            )
        self._workers.remove(worker)
        self._close(worker)
        if not worker.ready:
            self._start_failures += 1
            if self._start_failures >= _MAX_START_FAILURES:
                self._broken = (
                    f"ProcessExecutor workers failed to start {self._start_failures} times in a "
                    f"row (last: {_describe_exit(exitcode)}). With start_method="
                    f"'{self._start_method}', the main script must guard its code with "
                    "`if __name__ == '__main__':` and everything it imports must import "
                    "cleanly in a fresh process; see the workers' output above"
                )
                error = WorkerCrashedError(self._broken, exitcode=exitcode, pid=pid)
                while self._queue:
                    resolutions.append((self._queue.popleft().future, "exception", error))
                return
        if not self._broken:
            self._workers.append(self._spawn(worker.slot))

    def _on_timeout(self, worker: _Worker, now: float, resolutions: list[_Resolution]) -> None:
        call = worker.call
        assert call is not None and call.time_limit_s is not None  # a deadline implies a call
        _stop_process(worker.process)
        resolutions.append(
            (
                call.future,
                "exception",
                TrialTimeout(
                    f"Trial exceeded its time limit of {call.time_limit_s:.1f} s; the worker was "
                    f"terminated after {now - worker.started:.1f} s ({call.name}). Raise "
                    "time_limit_s or give the trial a smaller budget"
                ),
            )
        )
        self._workers.remove(worker)
        self._close(worker)
        self._workers.append(self._spawn(worker.slot))

    def _on_memory(self, worker: _Worker, used: float, resolutions: list[_Resolution]) -> None:
        call = worker.call
        assert call is not None and call.memory_limit_gb is not None
        worker.process.kill()  # at once: it may be allocating fast
        _stop_process(worker.process)
        resolutions.append((call.future, "exception", MemoryLimitExceeded(
            f"{memory_message(call.memory_limit_gb, used)}; the worker process (pid "
            f"{worker.pid}) running {call.name} was killed and a replacement started",
            exitcode=-signal.SIGKILL, pid=worker.pid)))
        self._workers.remove(worker)
        self._close(worker)
        self._workers.append(self._spawn(worker.slot))

    # ----------------------------------------------------------------------- helpers (locked)

    def _spawn(self, slot: int) -> _Worker:
        task_r, task_w = self._ctx.Pipe(duplex=False)
        result_r, result_w = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_worker_main,
            args=(task_r, result_w, self._threads, self.gpus[slot]),
            name="nasforge-worker",
            # Not daemonic: daemonic processes may not have children (DataLoader workers).
            daemon=False,
        )
        process.start()
        # The child holds its own copies now; closing ours lets either side see EOF.
        task_r.close()
        result_w.close()
        return _Worker(process=process, tasks=task_w, results=result_r, slot=slot)

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not self._queue:
                return
            if not worker.ready or worker.call is not None:
                continue
            while self._queue:
                call = self._queue.popleft()
                if call.future.set_running_or_notify_cancel():
                    break
            else:
                return
            worker.call = call
            worker.started = time.monotonic()
            if call.time_limit_s is not None:
                worker.deadline = worker.started + call.time_limit_s + self._grace_s
            # If the worker just died, the collector reports it as a crash of this call.
            with contextlib.suppress(OSError):
                worker.tasks.send_bytes(call.payload)

    @staticmethod
    def _close(worker: _Worker) -> None:
        for conn in (worker.tasks, worker.results):
            with contextlib.suppress(OSError):
                conn.close()
        with contextlib.suppress(ValueError):
            worker.process.close()


@atexit.register
def _stop_all_pools() -> None:
    """At interpreter exit, stop every pool's workers at once instead of waiting for calls.

    Registered after multiprocessing's own exit hook, so it runs first: that hook would
    otherwise block joining our (non-daemonic) workers.
    """
    for pool in list(_LIVE_POOLS):
        pool.shutdown(wait=False)


def _call_name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{getattr(fn, '__module__', None) or '?'}.{name}()"


def _pickle_call(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    owner: str = "ProcessExecutor",
) -> bytes:
    try:
        return pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        error = exc
    # Name the culprit, so the message is useful for a call with many arguments.
    parts: list[tuple[str, Any]] = [("the function", fn)]
    parts += [(f"positional argument {i}", a) for i, a in enumerate(args)]
    parts += [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]
    culprit = "the call"
    for label, value in parts:
        try:
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            culprit, error = f"{label} ({type(value).__name__})", exc
            break
    raise NotPicklableError(
        f"{owner}.submit could not pickle {culprit} of {_call_name(fn)}: "
        f"{type(error).__name__}: {error}. Everything submitted to {owner} must pickle: "
        "use module-level functions (not lambdas, local functions or bound methods of "
        "unpicklable objects) and picklable arguments, or use the 'inline' executor to debug"
    ) from error


@EXECUTORS.register("process")
class ProcessExecutor(Executor):
    """Runs calls in a pool of persistent local worker processes (the default for training).

    Workers live as long as the executor, so per-process caches (a loaded dataset, compiled
    kernels) stay warm across trials. They start on the first ``submit`` (or :meth:`start`),
    not in the constructor, so building a configuration never spawns processes. Call
    :meth:`shutdown` or use a ``with`` block; an executor dropped without that finishes its
    submitted calls and then stops its workers, and interpreter exit stops them at once.

    Args:
        workers: number of worker processes, i.e. trials running at the same time; ``"auto"``
            is one per GPU (of ``gpus``), or one per CPU core on a machine without a GPU.
        threads_per_worker: torch intra-op threads (and OMP/MKL/OpenBLAS threads) per worker;
            keep ``workers * threads_per_worker`` at or below the number of CPU cores.
        start_method: ``"spawn"`` (safe default), ``"forkserver"`` or ``"fork"`` (fast
            start, but unsafe once the parent runs threads, e.g. after torch has been used).
        gpus: the GPUs the workers use, each worker its own: ``"auto"`` (every visible GPU;
            nothing changes on a machine without one), a count (the first ``n``), a list of
            ids, or ``0`` (workers see no GPU). Worker ``i`` gets ``CUDA_VISIBLE_DEVICES`` =
            GPU ``i mod n`` (shared round-robin when there are more workers than GPUs). Asking
            for more GPUs than are visible is a :class:`~nasforge.errors.ConfigError`.

    ``time_limit_s`` is enforced: ``kill_grace_s`` after the limit (time for an evaluator's own
    cooperative check to return a TIMEOUT result), the worker is terminated, the future gets
    :class:`~nasforge.errors.TrialTimeout`, and a replacement worker starts. ``memory_limit_gb``
    is enforced too: a worker whose resident memory (with its children's, e.g. DataLoader
    workers) passes it, checked every 0.1 s, is killed and its future gets
    :class:`~nasforge.execute.limits.MemoryLimitExceeded` saying how much it used. A worker that
    dies gives :class:`WorkerCrashedError` and is replaced too. Results and exceptions travel back
    pickled, with the worker's traceback attached as ``__cause__``.

    Example:
        >>> with ProcessExecutor(workers=2) as ex:  # doctest: +SKIP
        ...     futures = [ex.submit(pow, 2, n) for n in range(4)]
        ...     [f.result() for f in futures]
        [1, 2, 4, 8]
    """

    kill_grace_s: ClassVar[float] = 1.0

    def __init__(
        self,
        *,
        workers: Annotated[int, Field(ge=1)] | Literal["auto"] = 2,
        threads_per_worker: Annotated[int, Field(ge=1)] = 1,
        start_method: Literal["spawn", "forkserver", "fork"] = "spawn",
        gpus: Literal["auto"] | Annotated[int, Field(ge=0)] | list[Annotated[int, Field(ge=0)]]
        = "auto",
    ) -> None:
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        self.start_method = start_method
        self.gpus = gpus
        devices = choose_gpus(gpus, visible_gpus(), field="executor.gpus")
        self._n_workers = auto_workers(devices) if workers == "auto" else int(workers)
        slots: list[str | None] = (
            [""] * self._n_workers  # asked for none: hide any GPU from the workers
            if gpus in (0, []) else assign_gpus(self._n_workers, devices)
        )
        self._pool = _Pool(
            self._n_workers, threads_per_worker, start_method, self.kill_grace_s, slots
        )
        # Dropping the executor lets submitted calls finish, then stops the workers (as
        # ProcessPoolExecutor does); leaving the interpreter stops them at once (_stop_all_pools).
        self._finalizer = weakref.finalize(self, self._pool.close_when_idle)
        self._finalizer.atexit = False

    @property
    def n_workers(self) -> int:
        return self._n_workers

    @property
    def worker_gpus(self) -> list[str | None]:
        """``CUDA_VISIBLE_DEVICES`` of each worker slot (``None``: left as the parent's)."""
        return list(self._pool.gpus)

    def start(self) -> None:
        """Start the workers now instead of on the first ``submit`` (e.g. to warm them up)."""
        self._pool.start()

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the workers that have finished starting (for monitoring and tests)."""
        return self._pool.pids()

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
        memory = check_memory_limit(memory_limit_gb)
        payload = _pickle_call(fn, args, kwargs)
        future: Future[R] = Future()
        self._pool.submit(_Call(future, payload, limit, _call_name(fn), memory))
        return future

    def free_slots(self) -> int:
        return self._pool.free_slots()

    def health(self) -> str | None:
        return self._pool.health()

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait)
        self._finalizer.detach()
