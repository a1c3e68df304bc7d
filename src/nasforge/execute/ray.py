"""`RayExecutor`: trials as Ray tasks, on a local Ray instance or on a cluster by address.

Beyond one machine nasforge uses Ray rather than a home-made scheduler. The study, its store
and its strategy stay on the driver (this process); only ``run_evaluation(evaluator, candidate,
ctx)`` travels, so workers never open the store and the study code is the same as with the
process pool.

How it works:

- Nothing starts in the constructor (building a configuration must not start a cluster).
  :meth:`RayExecutor.prepare`, called by the study before its first trial (or the first
  ``submit``), joins ``address`` or starts a local instance, and checks within seconds that the
  address answers and that some node has what one trial asks for.
- A local instance keeps its temporary and log files in ``STUDY_DIR/ray`` (through a short link
  in the system's temporary folder when that path is too long for Ray's sockets), with usage
  statistics off and its authentication token in the environment, so nothing is written to the
  user's home.
- At most ``workers`` tasks are in flight; further calls wait in a first-in first-out queue, and
  a collector thread starts the next one as soon as any finishes (asynchronous, steady-state).
- A task whose worker process or node dies is retried by Ray up to ``max_retries`` times; after
  that its future gets :class:`~nasforge.execute.WorkerCrashedError` with Ray's reason, which the
  study records as a FAILED trial.
- ``time_limit_s`` counts from when an attempt starts running in its worker (as in the process
  pool, a worker's start-up does not count, and a retried task gets the limit again): the
  worker interrupts the call's Python code at the limit (:func:`~nasforge.execute.limits.
  run_guarded`), and the driver cancels the task (``ray.cancel(force=True)`` kills its worker)
  when no result came within ``max_retries + 1`` times the limit plus
  :attr:`RayExecutor.kill_grace_s` from dispatch (a call stuck in C code); either way its
  future gets :class:`~nasforge.errors.TrialTimeout`. (Counting from dispatch alone recorded a
  trial whose worker was killed and retried as a TIMEOUT.)
- ``memory_limit_gb`` is enforced inside the task's worker process
  (:func:`~nasforge.execute.limits.run_guarded`): once the process holds that much more resident
  memory than when the task started (a Ray worker runs one task after another, and keeps memory
  an earlier one freed), the call's Python code is interrupted with
  :class:`~nasforge.execute.limits.MemoryLimitExceeded` (not a crash, so Ray does not retry it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import pickle
import secrets
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field

from nasforge.errors import ConfigError, Problem, TrialTimeout
from nasforge.execute.base import (
    EXECUTORS,
    Executor,
    ExecutorShutdownError,
    R,
    WorkerCrashedError,
    check_time_limit,
)
from nasforge.execute.limits import check_memory_limit, run_guarded
from nasforge.execute.pool import _call_name, _pickle_call, _RemoteTraceback
from nasforge.execute.resources import Resources

log = logging.getLogger(__name__)

_POLL_S = 0.02  # the collector's longest wait: deadlines and new calls are seen this often
_MAX_SOCKET_DIR = 44  # Ray appends ~63 characters (session_…/sockets/plasma_store); AF_UNIX: 107
_INSTALL = "install it with: pip install 'nasforge[ray]'"
_INIT_TIMEOUTS = 4  # joining a cluster may take this many connect_timeout_s


def ray_available() -> bool:
    """Whether Ray can be imported (without importing it)."""
    return importlib.util.find_spec("ray") is not None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError([Problem("executor.name", f"the ray executor needs Ray, which cannot "
                                   f"be imported ({exc})", _INSTALL)]) from None
    return ray


# ------------------------------------------------------------------------- on the Ray worker


def _run_call(
    payload: bytes, threads: int, memory_limit_gb: float | None = None,
    time_limit_s: float | None = None,
) -> tuple[str, Any, str]:
    """Body of every Ray task: the call's outcome as ``(kind, value, traceback)``, so the
    call's own exception comes back as itself rather than wrapped in a Ray error."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        fn, args, kwargs = pickle.loads(payload)
        value = run_guarded(fn, args, kwargs, time_limit_s=time_limit_s,
                            memory_limit_gb=memory_limit_gb, growth=True,
                            where="in its Ray worker")
        return ("ok", value, "")
    except BaseException as exc:  # SystemExit belongs to the call too, as in the process pool
        return ("raise", exc, traceback.format_exc())


# --------------------------------------------------------------------------------- the driver


@dataclass
class _Call:
    future: Future[Any]
    payload: bytes
    time_limit_s: float | None
    name: str
    memory_limit_gb: float | None = None
    ref: Any = None
    deadline: float | None = None


def _cloudpickle_call(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> bytes:
    """Pickle a call with Ray's cloudpickle, which sends functions and classes of the main
    script by value (a cluster's workers cannot import the driver's ``__main__``)."""
    from ray import cloudpickle

    try:
        return bytes(cloudpickle.dumps((fn, args, kwargs)))
    except Exception:
        # name the argument that does not pickle, in the process pool's words
        return _pickle_call(fn, args, kwargs, owner="RayExecutor")


def _init_within(ray: Any, kwargs: dict[str, Any], timeout_s: float | None) -> None:
    """``ray.init(**kwargs)``, given at most ``timeout_s`` when joining a cluster: something
    that accepts connections but is not Ray's GCS would keep Ray retrying for minutes."""
    if timeout_s is None:
        ray.init(logging_level=logging.WARNING, configure_logging=False, **kwargs)
        return
    outcome: list[BaseException | None] = []

    def init() -> None:
        try:
            ray.init(logging_level=logging.WARNING, configure_logging=False, **kwargs)
            outcome.append(None)
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    thread = threading.Thread(target=init, name="nasforge-ray-init", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        raise TimeoutError(
            f"{kwargs.get('address')} accepts connections but did not answer as a Ray cluster "
            f"within {timeout_s:g} s (is it the port `ray start --head` printed?)")
    if outcome[0] is not None:
        raise outcome[0]


def _check_address(address: str, timeout_s: float) -> None:
    """Fail fast, with the fix, when ``host:port`` (or ``ray://host:port``) does not answer."""
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError([Problem("executor.address", f"expected HOST:PORT, ray://HOST:PORT or "
                                   f"auto; got {address!r}",
                                   "use the address `ray start --head` printed, e.g. "
                                   "10.0.0.5:6379")])
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ConfigError([Problem(
            "executor.address",
            f"no Ray cluster answers at {address} ({type(exc).__name__}: {exc}; waited at most "
            f"{timeout_s:g} s)",
            "start one with `ray start --head` on that machine, check the host and port it "
            "printed and the firewall, or leave address out for a local Ray instance")]) from None


def _short_dir(directory: Path) -> tuple[str, str | None]:
    """A path to ``directory`` short enough for Ray's sockets: itself, or a new link to it in
    the system's temporary folder (returned second, to remove at shutdown)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = str(directory.resolve())
    if len(path) <= _MAX_SOCKET_DIR:
        return path, None
    link = os.path.join(tempfile.gettempdir(), f"nasforge-ray-{secrets.token_hex(4)}")
    os.symlink(path, link)
    return link, link


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """Runs trials as Ray tasks (the optional ``ray`` extra: ``pip install 'nasforge[ray]'``).

    Args:
        workers: trials in flight at the same time.
        address: a running cluster (``HOST:PORT`` from ``ray start --head``, ``ray://HOST:PORT``
            for Ray Client, or ``auto`` for the cluster this machine belongs to); ``None``
            starts a local instance for the study and stops it afterwards.
        cpus_per_trial: CPU cores Ray reserves for each trial (also its torch threads);
            ``None``: the evaluator's ``trial_resources()``, else 1.
        gpus_per_trial: GPUs per trial (fractions share a device); ``None``: the evaluator's,
            else 0.
        memory_gb_per_trial: memory Ray reserves per trial, in GiB; ``None``: the evaluator's,
            else no reservation.
        max_retries: how often a trial whose worker process or node died is run again before
            it is recorded FAILED with the reason.
        num_cpus: CPUs of a local instance; ``None``: ``workers × cpus_per_trial`` so every
            worker can run. Ignored with ``address``.
        connect_timeout_s: how long to wait for ``address`` to answer (joining it may take
            four times as long before it is an error).

    Example (YAML)::

        executor: {name: ray, workers: 8, address: 10.0.0.5:6379, gpus_per_trial: 1}
    """

    kill_grace_s: ClassVar[float] = 5.0
    """Per attempt, beyond its limit, before the driver cancels: room for a Ray worker's
    (re)start, which took over 1 s on a loaded 2-core machine (with 1.0, a SIGKILLed trial
    that Ray retried was recorded TIMEOUT in CI)."""

    def __init__(
        self,
        *,
        workers: Annotated[int, Field(ge=1)] = 2,
        address: str | None = None,
        cpus_per_trial: Annotated[float, Field(gt=0)] | None = None,
        gpus_per_trial: Annotated[float, Field(ge=0)] | None = None,
        memory_gb_per_trial: Annotated[float, Field(gt=0)] | None = None,
        max_retries: Annotated[int, Field(ge=0)] = 2,
        num_cpus: Annotated[int, Field(ge=1)] | None = None,
        connect_timeout_s: Annotated[float, Field(gt=0)] = 5.0,
    ) -> None:
        self.workers = workers
        self.address = address
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.memory_gb_per_trial = memory_gb_per_trial
        self.max_retries = max_retries
        self.num_cpus = num_cpus
        self.connect_timeout_s = connect_timeout_s
        if not ray_available():
            raise ConfigError([Problem("executor.name", "the ray executor needs Ray, which is "
                                       "not installed", _INSTALL)])
        self._lock = threading.Lock()
        self._queue: deque[_Call] = deque()
        self._running: list[_Call] = []
        self._resources = self._effective(None)
        self._remote: Any = None
        self._owns_ray = False
        self._link: str | None = None
        self._temp: str | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()  # wakes an idle collector when a call starts
        self._closed = False
        self._stopping = False
        self.startup_s: float | None = None
        """Seconds :meth:`prepare` took to join or start Ray (for benchmarks)."""

    @property
    def n_workers(self) -> int:
        return self.workers

    # ------------------------------------------------------------------------ starting

    def _effective(self, stated: Resources | None) -> Resources:
        stated = stated or Resources()
        cpus = self.cpus_per_trial if self.cpus_per_trial is not None else stated.cpus
        gpus = self.gpus_per_trial if self.gpus_per_trial is not None else stated.gpus
        memory = (self.memory_gb_per_trial if self.memory_gb_per_trial is not None
                  else stated.memory_gb)
        return Resources(cpus=1.0 if cpus is None else cpus, gpus=gpus or 0.0, memory_gb=memory)

    def prepare(
        self, directory: Path | None = None, *, resources: Resources | None = None
    ) -> None:
        """Join the cluster (or start a local instance with its files in ``directory/ray``) and
        check that some node can run one trial.

        Raises:
            ConfigError: Ray is missing, the address does not answer, or no node has the CPUs,
                GPUs or memory one trial asks for.
        """
        with self._lock:
            if self._closed:
                raise ExecutorShutdownError(
                    "RayExecutor was used after shutdown(); create a new executor")
            self._resources = self._effective(resources)
            if self._remote is None:
                began = time.monotonic()
                self._start_ray(directory)
                self.startup_s = time.monotonic() - began
            self._check_resources()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._collect, name="nasforge-ray-executor", daemon=True)
                self._thread.start()

    def _start_ray(self, directory: Path | None) -> None:
        ray = _import_ray()
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # read by ray.init and inherited by workers
        if self.address is not None:
            _check_address(self.address, self.connect_timeout_s)
        if not ray.is_initialized():
            if self.address is not None:
                kwargs: dict[str, Any] = {"address": self.address}
            else:
                if not ({"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(os.environ)):
                    # Ray would otherwise write a new token to ~/.ray/auth_token.
                    # Ray turns token authentication on for a local instance and reads this.
                    # It stays for the process: Ray caches the token it first read.
                    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
                if directory is None:
                    self._temp = tempfile.mkdtemp(prefix="nasforge-ray-")
                    where = Path(self._temp)
                else:
                    where = Path(directory) / "ray"
                temp_dir, self._link = _short_dir(where)
                cpus = self.num_cpus or math.ceil(self.workers * (self._resources.cpus or 1.0))
                kwargs = {"num_cpus": cpus, "include_dashboard": False, "_temp_dir": temp_dir}
            # Ray announces token authentication at each start; nasforge chose it, so be quiet.
            auth_log = logging.getLogger("ray._private.authentication.authentication_token_setup")
            level = auth_log.level
            auth_log.setLevel(logging.ERROR)
            try:
                _init_within(ray, kwargs, None if self.address is None
                             else _INIT_TIMEOUTS * self.connect_timeout_s)
            except Exception as exc:
                self._remove_temp()
                action = f"join the Ray cluster at {self.address}" if self.address else (
                    "start a local Ray instance")
                raise ConfigError([Problem(
                    "executor.address" if self.address else "executor",
                    f"could not {action}: {type(exc).__name__}: {exc}",
                    "check the address and that the cluster runs the same Ray version"
                    if self.address else "see Ray's message above; `ray status` helps")]) from None
            finally:
                auth_log.setLevel(level)
            self._owns_ray = True
        self._remote = ray.remote(_run_call)

    def _check_resources(self) -> None:
        ray = _import_ray()
        need = self._resources
        nodes: list[dict[str, float]] = [
            n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]

        def fits(node: dict[str, float]) -> bool:
            return (node.get("CPU", 0.0) >= (need.cpus or 0.0)
                    and node.get("GPU", 0.0) >= (need.gpus or 0.0)
                    and (need.memory_gb is None
                         or node.get("memory", 0.0) >= need.memory_gb * 2**30))

        if any(fits(node) for node in nodes):
            return
        largest: dict[str, float] = max(
            nodes, key=lambda n: (n.get("GPU", 0.0), n.get("CPU", 0.0)), default={})
        has = (f"CPU {largest.get('CPU', 0):g}, GPU {largest.get('GPU', 0):g}, memory "
               f"{largest.get('memory', 0) / 2**30:.1f} GiB")
        memory = "" if need.memory_gb is None else f", {need.memory_gb:g} GiB memory"
        raise ConfigError([Problem(
            "executor.gpus_per_trial" if (need.gpus or 0) > 0 else "executor.cpus_per_trial",
            f"each trial asks for {need.cpus:g} CPU(s), {need.gpus:g} GPU(s){memory}, but no "
            f"node of the Ray cluster ({len(nodes)} node(s)) has that much; the largest has "
            f"{has}",
            "ask for less per trial (cpus_per_trial, gpus_per_trial, memory_gb_per_trial), or "
            "add a node that has it")])

    # ------------------------------------------------------------------------ calls

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
        payload = _cloudpickle_call(fn, args, kwargs)
        if self._remote is None:
            self.prepare()
        future: Future[R] = Future()
        with self._lock:
            if self._closed:
                raise ExecutorShutdownError(
                    "RayExecutor.submit was called after shutdown(); create a new executor")
            self._queue.append(_Call(future, payload, limit, _call_name(fn), memory))
            self._dispatch()
        return future

    def free_slots(self) -> int:
        with self._lock:
            if self._closed:
                return 0
            return max(0, self.workers - len(self._running) - len(self._queue))

    def health(self) -> str | None:
        return "it was shut down" if self._closed else None

    def _dispatch(self) -> None:
        """Start queued calls while fewer than ``workers`` are in flight (lock held)."""
        need = self._resources
        options: dict[str, Any] = {"num_cpus": need.cpus, "num_gpus": need.gpus,
                                   "max_retries": self.max_retries}
        if need.memory_gb is not None:
            options["memory"] = int(need.memory_gb * 2**30)
        threads = max(1, math.floor(need.cpus or 1.0))
        while self._queue and len(self._running) < self.workers:
            call = self._queue.popleft()
            if not call.future.set_running_or_notify_cancel():
                continue
            call.ref = self._remote.options(**options).remote(
                call.payload, threads, call.memory_limit_gb, call.time_limit_s)
            if call.time_limit_s is not None:  # every attempt may use its whole limit
                call.deadline = time.monotonic() + (self.max_retries + 1) * (
                    call.time_limit_s + self.kill_grace_s)
            self._running.append(call)
            self._started.set()

    def _collect(self) -> None:
        ray = _import_ray()
        while True:
            with self._lock:
                if self._stopping:
                    return
                refs = [c.ref for c in self._running]
            ready: list[Any] = []
            if refs:  # back as soon as one is done, then take every other one done by then
                ready, _ = ray.wait(refs, num_returns=1, timeout=_POLL_S)
                if ready and len(refs) > 1:
                    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            else:
                self._started.wait(_POLL_S)
                self._started.clear()
            resolutions: list[tuple[Future[Any], str, Any]] = []
            with self._lock:
                if self._stopping:
                    return
                done = set(ready)
                now = time.monotonic()
                for call in list(self._running):
                    if call.ref in done:
                        self._running.remove(call)
                        resolutions.append(self._outcome(ray, call))
                    elif call.deadline is not None and now >= call.deadline:
                        self._running.remove(call)
                        with contextlib.suppress(Exception):
                            ray.cancel(call.ref, force=True)
                        resolutions.append((call.future, "exception", TrialTimeout(
                            f"Trial exceeded its time limit of {call.time_limit_s:.1f} s; its Ray "
                            f"task was cancelled ({call.name}). Raise time_limit_s or give the "
                            "trial a smaller budget")))
                self._dispatch()
            for future, kind, value in resolutions:  # outside the lock: callbacks may submit
                with contextlib.suppress(InvalidStateError):
                    if kind == "result":
                        future.set_result(value)
                    else:
                        future.set_exception(value)

    def _outcome(self, ray: Any, call: _Call) -> tuple[Future[Any], str, Any]:
        try:
            kind, value, tb_text = ray.get(call.ref)
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.OutOfMemoryError, ray.exceptions.ObjectLostError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return (call.future, "exception", WorkerCrashedError(
                f"The Ray worker running {call.name} died {self.max_retries + 1} time(s) "
                f"(max_retries={self.max_retries}): {type(exc).__name__}: {first}"))
        except Exception as exc:
            return (call.future, "exception", WorkerCrashedError(
                f"Ray could not run {call.name}: {type(exc).__name__}: {exc}"))
        if kind == "raise":
            if tb_text:
                value.__cause__ = _RemoteTraceback(tb_text)
            return (call.future, "exception", value)
        return (call.future, "result", value)

    # ------------------------------------------------------------------------ stopping

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            if self._closed and self._thread is None and not self._owns_ray:
                return
            self._closed = True
            pending = [c.future for c in self._queue] + [c.future for c in self._running]
        if wait and self._thread is not None:
            for future in pending:
                with contextlib.suppress(BaseException):
                    future.exception()
        with self._lock:
            self._stopping = True
            self._started.set()
            queued, running = list(self._queue), list(self._running)
            self._queue.clear()
            self._running.clear()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None
        for call in queued:
            call.future.cancel()
        if running or self._owns_ray:
            ray = _import_ray()
            for call in running:
                with contextlib.suppress(Exception):
                    ray.cancel(call.ref, force=True)
                with contextlib.suppress(InvalidStateError):
                    call.future.set_exception(ExecutorShutdownError(
                        f"{call.name} was stopped because the RayExecutor was shut down while "
                        "it ran (shutdown(wait=False), an error or Ctrl-C)"))
            if self._owns_ray:
                ray.shutdown()
                self._owns_ray = False
        self._remove_temp()

    def _remove_temp(self) -> None:
        if self._link is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._link)
            self._link = None
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None
