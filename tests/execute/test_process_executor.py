"""ProcessExecutor: results, queueing, hard time limits, crash recovery, clean shutdown.

One pool is shared by the module (spawned workers import torch, which takes a second or two).
Tasks are synchronised through marker files, never through sleeps, so the tests are
deterministic; durations appear only as generous "it did not hang" bounds.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from nasforge.errors import TrialTimeout
from nasforge.execute import (
    ExecutorShutdownError,
    NotPicklableError,
    ProcessExecutor,
    WorkerCrashedError,
)

pytestmark = pytest.mark.timeout(120)
THREADS = 3  # differs from torch's default on small machines, so the test can fail

# ------------------------------------------------------------- task functions (must pickle)


def block(started: str, release: str, value: Any) -> Any:
    """Mark ``started``, then wait until the file ``release`` exists."""
    Path(started).write_text(str(os.getpid()))
    while not os.path.exists(release):
        time.sleep(0.01)
    return value


def fail(message: str) -> None:
    raise ValueError(message)


def thread_settings() -> tuple[int, str]:
    import torch

    return torch.get_num_threads(), os.environ["OMP_NUM_THREADS"]


def return_lock() -> Any:
    return threading.Lock()


class TwoArgError(Exception):
    """Pickles, but cannot be rebuilt: __init__ needs two arguments."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} {b}")


def raise_two_arg_error() -> None:
    raise TwoArgError("x", "y")


# ----------------------------------------------------------------------------------- helpers


def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``condition``; fail the test if it is not true within ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            pytest.fail("condition not reached in time")
        time.sleep(0.02)


def is_running(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (a reaper may be slow to collect orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc: fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def children() -> set[int]:
    """Pids of live child processes (the module's shared pool included)."""
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


class Barrier:
    """Marker files for tasks made with :func:`block`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def args(self, i: int, value: Any = None) -> tuple[str, str, Any]:
        return str(self.root / f"started{i}"), str(self.root / f"release{i}"), value

    def started(self, i: int) -> bool:
        return (self.root / f"started{i}").exists()

    def release(self, i: int) -> None:
        (self.root / f"release{i}").touch()


@pytest.fixture(scope="module")
def ex() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(workers=2, threads_per_worker=THREADS)
    executor.start()
    yield executor
    executor.shutdown(wait=False)


@pytest.fixture
def barrier(tmp_path: Path) -> Barrier:
    return Barrier(tmp_path)


# ------------------------------------------------------------------------------------- tests


def test_results_come_back(ex: ProcessExecutor) -> None:
    futures = [ex.submit(pow, 2, n) for n in range(6)]
    assert [f.result(timeout=60) for f in futures] == [1, 2, 4, 8, 16, 32]
    assert ex.submit(dict, a=1, b=[2]).result(timeout=60) == {"a": 1, "b": [2]}


def test_exceptions_come_back_with_the_worker_traceback(ex: ProcessExecutor) -> None:
    future = ex.submit(fail, "bad trial")
    with pytest.raises(ValueError, match="bad trial"):
        future.result(timeout=60)
    error = future.exception()
    assert error is not None
    assert "in fail" in str(error.__cause__)


def test_workers_are_persistent_and_threads_applied(ex: ProcessExecutor) -> None:
    assert ex.submit(thread_settings).result(timeout=60) == (THREADS, str(THREADS))
    until(lambda: len(ex.worker_pids) == 2)
    pids = set(ex.worker_pids)
    seen = {ex.submit(os.getpid).result(timeout=60) for _ in range(6)}
    assert seen <= pids
    assert set(ex.worker_pids) == pids  # no worker was restarted


def test_calls_beyond_free_slots_queue_fifo(ex: ProcessExecutor, barrier: Barrier) -> None:
    until(lambda: ex.free_slots() == 2)
    futures = [ex.submit(block, *barrier.args(i, i)) for i in range(4)]
    until(lambda: barrier.started(0) and barrier.started(1))
    assert ex.free_slots() == 0
    assert not barrier.started(2)
    barrier.release(0)
    until(lambda: barrier.started(2))
    assert not barrier.started(3)  # FIFO: call 2 took the freed worker, call 3 still waits
    for i in (1, 2, 3):
        barrier.release(i)
    assert [f.result(timeout=60) for f in futures] == [0, 1, 2, 3]
    until(lambda: ex.free_slots() == 2)


def test_wait_returns_the_done_subset(ex: ProcessExecutor, barrier: Barrier) -> None:
    slow = ex.submit(block, *barrier.args(0, "slow"))
    quick = ex.submit(abs, -5)
    assert ex.wait([slow, quick], timeout=60) == {quick}  # blocks until one is done
    assert ex.wait([slow], timeout=0.05) == set()  # timeout: the partial (empty) set
    barrier.release(0)
    assert ex.wait([slow], timeout=60) == {slow}
    assert ex.wait([], timeout=None) == set()


def test_queued_call_can_be_cancelled(ex: ProcessExecutor, barrier: Barrier) -> None:
    running = [ex.submit(block, *barrier.args(i, i)) for i in range(2)]
    queued = ex.submit(block, *barrier.args(2, 2))
    until(lambda: barrier.started(0) and barrier.started(1))
    assert queued.cancel()
    barrier.release(0)
    barrier.release(1)
    assert [f.result(timeout=60) for f in running] == [0, 1]
    after = ex.submit(abs, -1)
    assert after.result(timeout=60) == 1  # the cancelled call was skipped, not run
    assert not barrier.started(2)


def test_time_limit_kills_the_call_and_the_pool_recovers(ex: ProcessExecutor) -> None:
    future: Future[None] = ex.submit(time.sleep, 600, time_limit_s=0.2)
    error = future.exception(timeout=60)
    assert isinstance(error, TrialTimeout)
    assert "time limit of 0.2 s; the worker was terminated" in str(error)
    assert ex.submit(pow, 3, 2, time_limit_s=60).result(timeout=60) == 9
    until(lambda: len(ex.worker_pids) == 2)


def test_time_limit_counts_from_start_not_from_submit(
    ex: ProcessExecutor, barrier: Barrier
) -> None:
    busy = [ex.submit(block, *barrier.args(i, i)) for i in range(2)]
    queued = ex.submit(abs, -7, time_limit_s=0.1)
    until(lambda: barrier.started(0) and barrier.started(1))
    # Queued for longer than its limit plus the kill grace: it must still run normally.
    time.sleep(0.1 + ProcessExecutor.kill_grace_s + 0.5)
    barrier.release(0)
    barrier.release(1)
    assert queued.result(timeout=60) == 7
    assert [f.result(timeout=60) for f in busy] == [0, 1]


@pytest.mark.parametrize(
    ("fn", "arg", "exitcode", "match"),
    [
        pytest.param(os._exit, 3, 3, "exit code 3", id="os_exit"),
        pytest.param(signal.raise_signal, signal.SIGKILL, -9, "killed by SIGKILL", id="sigkill"),
    ],
)
def test_crashed_worker_is_reported_and_replaced(
    ex: ProcessExecutor, fn: Callable[[int], None], arg: int, exitcode: int, match: str
) -> None:
    until(lambda: len(ex.worker_pids) == 2)
    before = set(ex.worker_pids)
    future = ex.submit(fn, arg)
    error = future.exception(timeout=60)
    assert isinstance(error, WorkerCrashedError)
    assert error.exitcode == exitcode
    assert error.pid in before
    assert match in str(error)
    until(lambda: len(ex.worker_pids) == 2)
    assert error.pid not in ex.worker_pids
    assert not is_running(error.pid)
    assert [ex.submit(abs, -i).result(timeout=60) for i in range(3)] == [0, 1, 2]


def test_workers_ignore_sigint(ex: ProcessExecutor) -> None:
    # Without SIG_IGN the call would raise KeyboardInterrupt, which comes back as its exception.
    assert ex.submit(signal.raise_signal, signal.SIGINT).exception(timeout=60) is None


def test_unpicklable_call_fails_in_submit(ex: ProcessExecutor) -> None:
    with pytest.raises(NotPicklableError, match="the function"):
        ex.submit(lambda: 1)
    with pytest.raises(NotPicklableError, match="positional argument 1"):
        ex.submit(pow, 2, lambda: 1)
    with pytest.raises(NotPicklableError, match="keyword argument 'lock'"):
        ex.submit(dict, lock=threading.Lock())
    assert ex.free_slots() == 2  # nothing was queued


def test_unpicklable_result_or_exception_becomes_a_clear_error(ex: ProcessExecutor) -> None:
    error = ex.submit(return_lock).exception(timeout=60)
    assert isinstance(error, NotPicklableError)
    assert "returned a lock" in str(error)
    error = ex.submit(raise_two_arg_error).exception(timeout=60)
    assert isinstance(error, NotPicklableError)
    assert "raised TwoArgError: x y" in str(error)


def test_invalid_time_limit_is_rejected(ex: ProcessExecutor) -> None:
    from nasforge.errors import ConfigError

    with pytest.raises(ConfigError, match="time_limit_s"):
        ex.submit(abs, 1, time_limit_s=-1)


# ---------------------------------------------------------------- lifecycle (own executors)


def test_shutdown_waits_for_calls_and_leaves_no_children(barrier: Barrier) -> None:
    before = children()
    ex = ProcessExecutor(workers=1)
    first = ex.submit(block, *barrier.args(0, "first"))
    second = ex.submit(pow, 2, 5)  # queued behind the first
    until(lambda: barrier.started(0))
    pid = int(Path(barrier.args(0)[0]).read_text())
    releaser = threading.Timer(0.2, barrier.release, args=(0,))
    releaser.start()
    ex.shutdown(wait=True)
    releaser.join()
    assert (first.result(timeout=0), second.result(timeout=0)) == ("first", 32)
    assert not is_running(pid)
    assert children() <= before
    assert ex.free_slots() == 0
    with pytest.raises(ExecutorShutdownError, match="after shutdown"):
        ex.submit(abs, 1)
    ex.shutdown()  # idempotent


def test_error_in_with_block_stops_running_calls(barrier: Barrier) -> None:
    before = children()
    with pytest.raises(RuntimeError, match="study failed"), ProcessExecutor(workers=1) as ex:
        running = ex.submit(block, *barrier.args(0))
        queued = ex.submit(abs, -1)
        until(lambda: barrier.started(0))
        raise RuntimeError("study failed")
    pid = int(Path(barrier.args(0)[0]).read_text())
    assert isinstance(running.exception(timeout=0), ExecutorShutdownError)
    assert queued.cancelled()
    assert not is_running(pid)
    assert children() <= before


def test_unstarted_executor_shuts_down_without_processes() -> None:
    before = children()
    ex = ProcessExecutor(workers=4)
    assert ex.free_slots() == 4
    assert ex.worker_pids == []
    ex.shutdown()
    assert children() <= before


def _run_script(tmp_path: Path, code: str) -> subprocess.Popen[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )


@pytest.mark.integration
def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    parent = _run_script(
        tmp_path,
        """
        import time
        from nasforge.execute import ProcessExecutor

        if __name__ == "__main__":
            ex = ProcessExecutor(workers=1)
            ex.submit(time.sleep, 600)  # the worker is busy when its parent dies
            while not ex.worker_pids:
                time.sleep(0.01)
            print(ex.worker_pids[0], flush=True)
            time.sleep(600)
        """,
    )
    assert parent.stdout is not None
    try:
        worker = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
    until(lambda: not is_running(worker), timeout=30)


@pytest.mark.slow
@pytest.mark.integration
def test_workers_that_cannot_start_break_the_pool_with_a_hint(tmp_path: Path) -> None:
    # No `if __name__ == "__main__":` guard: every spawned worker fails while importing main.
    parent = _run_script(
        tmp_path,
        """
        import sys
        from nasforge.execute import ProcessExecutor

        ex = ProcessExecutor(workers=3)  # three start (and fail) at once: faster
        error = ex.submit(pow, 2, 3).exception(timeout=60)
        print(type(error).__name__, error, flush=True)
        ex.shutdown()
        """,
    )
    out, _ = parent.communicate(timeout=90)
    assert out.startswith("WorkerCrashedError")
    assert "failed to start 3 times" in out
    assert "if __name__ == '__main__':" in out


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_other_start_methods(method: str) -> None:
    before = children()
    with ProcessExecutor(workers=1, start_method=method) as ex:  # type: ignore[arg-type]
        assert ex.submit(thread_settings).result(timeout=60) == (1, "1")
        error = ex.submit(os._exit, 4).exception(timeout=60)
        assert isinstance(error, WorkerCrashedError)
        assert error.exitcode == 4
        assert ex.submit(pow, 2, 3).result(timeout=60) == 8
    assert children() <= before


def test_dropped_executor_finishes_its_calls_then_stops(barrier: Barrier) -> None:
    ex = ProcessExecutor(workers=1)
    future = ex.submit(block, *barrier.args(0, "done"))
    until(lambda: barrier.started(0))
    pid = int(Path(barrier.args(0)[0]).read_text())
    del ex
    gc.collect()
    barrier.release(0)
    assert future.result(timeout=60) == "done"
    until(lambda: not is_running(pid))


@pytest.mark.integration
def test_interpreter_exit_stops_running_workers(tmp_path: Path) -> None:
    parent = _run_script(
        tmp_path,
        """
        import time
        from nasforge.execute import ProcessExecutor

        if __name__ == "__main__":
            ex = ProcessExecutor(workers=1)
            ex.submit(time.sleep, 600)
            while not ex.worker_pids:
                time.sleep(0.01)
            print(ex.worker_pids[0], flush=True)
            # No shutdown: leaving the interpreter must not wait for the 600 s call.
        """,
    )
    out, _ = parent.communicate(timeout=60)
    assert parent.returncode == 0
    until(lambda: not is_running(int(out)), timeout=30)


def test_future_callbacks_may_submit_and_shut_down() -> None:
    before = children()
    ex = ProcessExecutor(workers=1)
    second: list[Future[int]] = []

    def chain(_: Future[int]) -> None:  # runs on the executor's collector thread
        follow_up = ex.submit(pow, 2, 4)
        follow_up.add_done_callback(lambda _: ex.shutdown())  # must not wait on itself
        second.append(follow_up)

    ex.submit(abs, -1).add_done_callback(chain)
    until(lambda: bool(second) and second[0].done())
    assert second[0].result() == 16
    until(lambda: children() <= before)
    assert ex.free_slots() == 0
