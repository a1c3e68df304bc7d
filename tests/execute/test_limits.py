"""Per-trial time and memory limits: in-process guards (inline executor, Ray workers) and the
process pool's watchdog, with the faulty evaluator's hang, memory and kill faults."""

from __future__ import annotations

import gc
import pickle
import signal
import sys
import threading
import time
import weakref
from typing import Any

import numpy as np
import pytest

from nasforge.errors import ConfigError, TrialTimeout
from nasforge.evaluate.base import EvalContext, run_evaluation
from nasforge.execute import InlineExecutor, ProcessExecutor, WorkerCrashedError
from nasforge.execute.limits import MemoryLimitExceeded, rss_gb, run_guarded
from nasforge.testing.faulty import FaultyEvaluator
from nasforge.testing.toys import ToySpace, ToyTask
from nasforge.trial import Candidate, Status

SPACE = ToySpace(n_decisions=2, n_options=2)
CANDIDATE = Candidate(SPACE.sample(np.random.default_rng(0)))


def ctx(number: int = 0, time_limit_s: float | None = None) -> EvalContext:
    return EvalContext(space=SPACE, task=ToyTask(), seed=0, number=number,
                       time_limit_s=time_limit_s)


def faulty(fault: str, **params: Any) -> FaultyEvaluator:
    return FaultyEvaluator(rate=1.0, faults=[fault], **params)  # type: ignore[list-item]


class Held:
    """Something a call holds, to see when it is freed."""


def hold_then_allocate(holder: list[Any], gb: float) -> int:
    held = Held()
    holder.append(weakref.ref(held))
    return allocate(gb)


def stall_in_c(seconds: float) -> None:
    """A call no in-process guard can interrupt: SIGALRM blocked, one long C sleep."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)


def allocate(gb: float) -> int:
    held = []
    for _ in range(int(gb * 64)):
        held.append(b"\x01" * 2**24)
        time.sleep(0.002)
    return len(held)


def test_guard_interrupts_a_long_sleep_in_the_main_thread() -> None:
    began = time.monotonic()
    with pytest.raises(TrialTimeout, match=r"time limit of 0\.2 s"):
        run_guarded(time.sleep, (30,), time_limit_s=0.2)
    assert time.monotonic() - began < 10  # generous: it did not sleep 30 s


def test_guard_restores_the_previous_alarm_handler() -> None:
    before = signal.getsignal(signal.SIGALRM)
    assert run_guarded(pow, (2, 5), time_limit_s=5) == 32
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_guard_stops_growth_past_the_memory_limit() -> None:
    with pytest.raises(MemoryLimitExceeded, match=r"exceeded trial_memory_limit_gb=0\.1: used"):
        run_guarded(allocate, (1.0,), memory_limit_gb=0.1, growth=True)


def test_an_interrupted_call_frees_what_it_held_without_the_garbage_collector() -> None:
    # Regression: the handler's frame held its error, a cycle through the traceback that kept
    # the call's memory until a collection, so the next inline trial was measured from a
    # baseline that then fell: a memory fault ran into the time limit instead (benchmark).
    holder: list[Any] = []
    gc.disable()
    try:
        with pytest.raises(MemoryLimitExceeded):
            run_guarded(hold_then_allocate, (holder, 1.0), memory_limit_gb=0.1, growth=True)
        assert holder[0]() is None
    finally:
        gc.enable()


def test_memory_error_keeps_its_type_across_processes() -> None:
    error = pickle.loads(pickle.dumps(MemoryLimitExceeded("over", exitcode=-9, pid=7)))
    assert type(error) is MemoryLimitExceeded and (str(error), error.pid) == ("over", 7)


def test_guard_works_off_the_main_thread() -> None:
    caught: list[BaseException] = []

    def body() -> None:
        try:
            run_guarded(allocate, (1.0,), memory_limit_gb=0.1, growth=True, where="in a thread")
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(30)
    assert len(caught) == 1 and isinstance(caught[0], MemoryLimitExceeded)
    assert "in a thread" in str(caught[0])


def test_inline_executor_enforces_both_limits_on_faulty_trials() -> None:
    with InlineExecutor() as ex:
        hang = ex.submit(run_evaluation, faulty("hang"), CANDIDATE, ctx(time_limit_s=0.2),
                         time_limit_s=0.3).result()
        memory = ex.submit(run_evaluation, faulty("memory"), CANDIDATE, ctx(),
                           memory_limit_gb=0.15).result()
        healthy = ex.submit(run_evaluation, FaultyEvaluator(rate=0.0), CANDIDATE, ctx(),
                            time_limit_s=5, memory_limit_gb=0.15).result()
        # what the memory fault freed does not count against the next call (checked 6 times)
        after = ex.submit(time.sleep, 0.3, memory_limit_gb=0.15)
    assert after.exception() is None
    assert hang.status is Status.TIMEOUT and "exceeded its time limit of 0.3 s" in hang.reason
    assert memory.status is Status.FAILED
    assert "MemoryLimitExceeded: exceeded trial_memory_limit_gb=0.15" in (memory.reason or "")
    assert healthy.ok


def test_executors_validate_the_memory_limit() -> None:
    with pytest.raises(ConfigError, match="trial_memory_limit_gb"):
        InlineExecutor().submit(pow, 2, 3, memory_limit_gb=0)
    with pytest.raises(ConfigError, match="trial_memory_limit_gb"):
        ProcessExecutor(workers=1).submit(pow, 2, 3, memory_limit_gb=-1.0)


def test_process_pool_kills_a_worker_over_its_memory_limit_and_goes_on() -> None:
    with ProcessExecutor(workers=1) as ex:
        ex.start()
        baseline = None
        while baseline is None:  # the worker's own size (torch imported), to set the limit
            pids = ex.worker_pids
            baseline = rss_gb(pids[0]) if pids else None
            time.sleep(0.05)
        limit = round(baseline + 0.25, 2)
        hog = ex.submit(allocate, 2.0, memory_limit_gb=limit)
        with pytest.raises(MemoryLimitExceeded) as info:
            hog.result(timeout=60)
        assert f"exceeded trial_memory_limit_gb={limit:g}: used" in str(info.value)
        assert "was killed and a replacement started" in str(info.value)
        assert ex.submit(pow, 2, 10, memory_limit_gb=limit).result(timeout=60) == 1024


def test_process_pool_records_kill_hang_and_memory_faults() -> None:
    with ProcessExecutor(workers=2) as ex:
        kill = ex.submit(run_evaluation, faulty("kill"), CANDIDATE, ctx())
        hang = ex.submit(run_evaluation, faulty("hang"), CANDIDATE, ctx(time_limit_s=0.2),
                         time_limit_s=0.3)
        with pytest.raises(WorkerCrashedError, match="killed by SIGKILL"):
            kill.result(timeout=60)
        with pytest.raises(TrialTimeout, match="the worker was terminated"):
            hang.result(timeout=60)
        memory = ex.submit(run_evaluation, faulty("memory", memory_cap_gb=3.0), CANDIDATE,
                           ctx(), memory_limit_gb=0.8)
        with pytest.raises(MemoryLimitExceeded, match=r"trial_memory_limit_gb=0\.8"):
            memory.result(timeout=60)


@pytest.mark.ray
@pytest.mark.timeout(180)
def test_ray_worker_stops_a_trial_over_its_memory_limit(tmp_path: Any) -> None:
    ray = pytest.importorskip("ray")
    from nasforge.execute import RayExecutor

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ex = RayExecutor(workers=1, max_retries=1)
    try:
        ex.prepare(tmp_path)
        result = ex.submit(run_evaluation, faulty("memory", memory_cap_gb=3.0), CANDIDATE,
                           ctx(), memory_limit_gb=1.0).result(timeout=120)
        assert result.status is Status.FAILED
        assert "MemoryLimitExceeded: exceeded trial_memory_limit_gb=1: used" in result.reason
        assert "in its Ray worker" in result.reason
        # Regression: the worker kept what the fault freed, and the next task in it (a hang
        # in the benchmark) was stopped for memory it never used. The limit is on growth now.
        assert ex.submit(time.sleep, 0.5, memory_limit_gb=1.0).result(timeout=120) is None
        # Regression: the time limit counted from dispatch, so a trial whose worker was
        # SIGKILLed and retried (3 worker starts) was recorded TIMEOUT. It counts per attempt.
        with pytest.raises(WorkerCrashedError, match=r"died 2 time\(s\)") as died:
            ex.submit(run_evaluation, faulty("kill"), CANDIDATE, ctx(), time_limit_s=0.5)\
                .result(timeout=120)
        assert not isinstance(died.value, TrialTimeout)
        hang = ex.submit(run_evaluation, faulty("hang"), CANDIDATE, ctx(time_limit_s=0.5),
                         time_limit_s=0.5).result(timeout=120)
        assert hang.status is Status.TIMEOUT and "in its Ray worker" in (hang.reason or "")
        # a call stuck in C code is still stopped by the driver, which kills its worker
        with pytest.raises(TrialTimeout, match="its Ray task was cancelled"):
            ex.submit(stall_in_c, 60, time_limit_s=0.5).result(timeout=120)
    finally:
        ex.shutdown(wait=False)
