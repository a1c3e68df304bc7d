"""SimulatedExecutor: a virtual clock driven by trial costs, through the real study loop.

Unit tests schedule `Result`s with chosen costs and check the clock, the order results arrive
in and the queue; study tests run NAS-Bench-201 lookups (a synthetic table) at 1, 8 and 64
virtual workers through the same loop and store, and check that the same seed gives the same
history and that the time budget runs on simulated time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nasforge.errors import ConfigError, TrialTimeout
from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
from nasforge.execute import ExecutorShutdownError, SimulatedExecutor, get_executor
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.trial import Result, TrialState

pytestmark = pytest.mark.timeout(120)


def costing(cost_s: float, value: float = 0.0) -> Result:
    return Result(metrics={"v": value}, cost_s=cost_s)


def boom() -> None:
    raise ValueError("broken call")


# ----------------------------------------------------------------------------- the clock


def test_results_arrive_in_simulated_time_order_and_the_clock_moves_by_cost() -> None:
    ex = SimulatedExecutor(workers=3)
    futures = [ex.submit(costing, c, c) for c in (30.0, 10.0, 20.0)]
    assert ex.free_slots() == 0 and ex.now() == 0.0
    order = []
    pending = set(futures)
    while pending:
        done = ex.wait(pending)
        assert len(done) == 1
        (future,) = done
        order.append((future.result().metrics["v"], ex.now()))
        pending -= done
    assert order == [(10.0, 10.0), (20.0, 20.0), (30.0, 30.0)]


def test_a_freed_worker_starts_the_next_call_at_once_while_others_run() -> None:
    ex = SimulatedExecutor(workers=2)
    long = ex.submit(costing, 100.0)
    short = ex.submit(costing, 10.0)
    assert ex.wait([long, short]) == {short} and ex.free_slots() == 1
    refill = ex.submit(costing, 5.0)  # starts at t=10 on the freed worker, ends at 15
    assert ex.wait([long, refill]) == {refill} and ex.now() == 15.0
    assert ex.wait([long]) == {long} and ex.now() == 100.0


def test_calls_beyond_the_workers_queue_first_in_first_out() -> None:
    ex = SimulatedExecutor(workers=1)
    first, second = ex.submit(costing, 10.0, 1.0), ex.submit(costing, 5.0, 2.0)
    # the second waits for the only worker: it finishes at 10 + 5, never before the first
    assert second.result().metrics["v"] == 2.0 and ex.now() == 15.0 and first.done()


def test_result_on_one_future_advances_the_clock_instead_of_hanging() -> None:
    ex = SimulatedExecutor(workers=2)
    assert ex.submit(costing, 42.0, 7.0).result().metrics["v"] == 7.0
    assert ex.now() == 42.0


def test_a_call_without_cost_takes_its_measured_time_and_errors_stay_on_the_future() -> None:
    ex = SimulatedExecutor(workers=1)
    assert ex.submit(pow, 2, 10).result() == 1024 and 0.0 <= ex.now() < 5.0
    failing = ex.submit(boom)
    with pytest.raises(ValueError, match="broken call"):
        failing.result()


def test_the_time_limit_is_enforced_in_simulated_time() -> None:
    ex = SimulatedExecutor(workers=1)
    future = ex.submit(costing, 500.0, time_limit_s=60.0)
    with pytest.raises(TrialTimeout, match=r"time limit of 60\.0 s of simulated time"):
        future.result()
    assert ex.now() == 60.0
    with pytest.raises(ConfigError, match="time_limit_s"):
        ex.submit(costing, 1.0, time_limit_s=0)


def test_shutdown_delivers_or_drops_what_is_booked() -> None:
    ex = SimulatedExecutor(workers=2)
    kept = ex.submit(costing, 3.0)
    ex.shutdown(wait=True)
    assert kept.done() and ex.now() == 3.0 and ex.free_slots() == 0
    with pytest.raises(ExecutorShutdownError):
        ex.submit(costing, 1.0)
    dropped_ex = SimulatedExecutor(workers=1)
    dropped = dropped_ex.submit(costing, 3.0)
    dropped_ex.shutdown(wait=False)
    with pytest.raises(ExecutorShutdownError, match="before its simulated finish"):
        dropped.result()


def test_the_registry_builds_it_and_checks_workers() -> None:
    assert get_executor({"name": "simulated", "workers": 64}).n_workers == 64
    with pytest.raises(ConfigError, match=r"executor\.workers"):
        get_executor({"name": "simulated", "workers": 0})


# ----------------------------------------------------------------------------- studies


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dummy_nb201_table(tmp_path_factory.mktemp("nb201") / "table.csv.gz")


def run(table: Path, workers: int, *, seed: int = 0, **changes: Any) -> Study:
    data = {
        "name": "sim",
        "seed": seed,
        "space": "nb201",
        "strategy": {"name": "regularized_evolution", "population": 10, "sample": 3},
        "evaluator": {"name": "nb201_table", "path": str(table), "fidelity": 12},
        "executor": {"name": "simulated", "workers": workers},
        "budget": {"trials": 60},
        "export_best": False,
        **changes,
    }
    return Study.create(parse_spec(data), in_memory=True).run()


def history(study: Study) -> list[tuple[str, float, int]]:
    return [(str(t.arch), t.metrics["val_accuracy"], t.asked_after)
            for t in study.trials()]


@pytest.mark.parametrize("workers", [1, 8, 64])
def test_the_same_seed_gives_the_same_history(table: Path, workers: int) -> None:
    first, again = run(table, workers), run(table, workers)
    assert history(first) == history(again)
    assert len(first.trials()) == 60
    assert all(t.state is TrialState.COMPLETE for t in first.trials())
    assert first.record.elapsed_s == again.record.elapsed_s
    assert history(run(table, workers, seed=1)) != history(first)


def test_many_workers_finish_the_same_trials_in_less_simulated_time(table: Path) -> None:
    one, many = run(table, 1), run(table, 8)
    cost = sum(t.result.cost_s for t in one.trials() if t.result is not None)
    # one worker: the clock is the sum of the costs; eight: at least an eighth of theirs
    assert one.record.elapsed_s == pytest.approx(cost)
    many_cost = sum(t.result.cost_s for t in many.trials() if t.result is not None)
    assert many_cost / 8 <= many.record.elapsed_s < many_cost / 2
    # asynchronous: trials were asked before the first ones were told
    assert [t.asked_after for t in many.trials()[:8]] == [0] * 8


def test_the_time_budget_runs_on_simulated_time(table: Path) -> None:
    study = run(table, 8, budget={"minutes": 60})  # 60 simulated minutes take far less
    trials = study.trials()
    assert study.stop_reason == "time budget of 60 min reached"
    # every trial was asked before 3600 simulated seconds, and some ran past it
    assert 10 < len(trials) < 1000
    assert study.record.elapsed_s >= 3600
    assert study.record.elapsed_s < 3600 + max(t.result.cost_s for t in trials if t.result)
