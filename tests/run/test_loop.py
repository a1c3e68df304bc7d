"""The study loop's scheduling: it never spins, stops on budgets and failures, resumes exactly."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import nasforge as nf
import nasforge.testing.fixed
import nasforge.testing.toys
from nasforge.run.loop import ExecutorBrokenError
from nasforge.run.resume import replay
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study, StudyFailedError
from nasforge.strategy.base import STRATEGIES
from nasforge.testing.toys import toy_result
from nasforge.trial import Trial, TrialState

# The no-workers test kills multiprocessing's resource tracker too; it is simply restarted.
pytestmark = pytest.mark.filterwarnings("ignore:resource_tracker:UserWarning")

BASE: dict[str, Any] = {
    "name": "t",
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
    "strategy": {"name": "regularized_evolution", "population": 6, "sample": 3},
    "evaluator": "toy",
    "executor": "inline",
    "budget": {"trials": 12},
    "export_best": False,
}
EVERY = ["*"]


def make(tmp_path: Path | None = None, **changes: Any) -> Study:
    data = {**BASE, **changes}
    if tmp_path is not None:
        data["root"] = str(tmp_path)
    return Study.create(parse_spec(data), in_memory=tmp_path is None)


def test_a_shut_down_executor_stops_the_study_with_a_message(tmp_path: Path) -> None:
    study = make(tmp_path)
    study.parts.executor.shutdown()
    with pytest.raises(ExecutorBrokenError, match="inline executor can run no trial: it was shut"):
        study.run()
    assert study.trials() == []
    record = study.store.get_study("t")
    assert record is not None and record.status == "failed"


class _NoSlots(nf.execute.InlineExecutor):
    """An executor that never frees a slot and reports nothing wrong (a buggy plugin)."""

    def free_slots(self) -> int:
        return 0


def test_an_executor_without_slots_never_makes_the_loop_spin() -> None:
    study = make()
    study.parts.executor = _NoSlots()
    with pytest.raises(ExecutorBrokenError, match="no free worker and runs nothing"):
        study.run()


@pytest.mark.integration
def test_a_pool_whose_workers_cannot_start_stops_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every new Python process that sees this sitecustomize exits at once: workers never start.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os\nif os.environ.get('NASFORGE_TEST_NO_WORKERS'):\n    os._exit(3)\n"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), *sys.path]))
    monkeypatch.setenv("NASFORGE_TEST_NO_WORKERS", "1")
    study = make(tmp_path, executor={"name": "process", "workers": 1})
    with pytest.raises(ExecutorBrokenError, match="failed to start 3 times"):
        study.run()
    # The trial that could not run stays RUNNING: a resume runs it once the pool is fixed.
    assert [t.state for t in study.trials()] == [TrialState.RUNNING]
    monkeypatch.delenv("NASFORGE_TEST_NO_WORKERS")
    study.close()
    resumed = Study.open(tmp_path / "t")
    resumed.spec = resumed.spec.model_copy(update={"executor": parse_spec(
        {**BASE, "executor": "inline"}).executor})
    resumed.parts.executor = nf.execute.InlineExecutor()
    resumed.run()
    trials = resumed.trials()
    assert len(trials) == 12 and all(t.state is TrialState.COMPLETE for t in trials)
    assert trials[0].attempts == 2


@pytest.mark.integration
def test_a_minutes_budget_stops_asking_while_every_worker_is_busy() -> None:
    study = make(executor={"name": "process", "workers": 2}, budget={"minutes": 0.01},
                 evaluator={"name": "toy", "sleep": EVERY, "sleep_s": 1.0})
    study.run()
    # Both workers got a trial at once; the budget ran out while they were busy.
    assert len(study.trials()) == 2
    assert study.stop_reason == "time budget of 0.01 min reached"


@pytest.mark.integration
def test_a_stop_request_while_workers_are_busy_starts_nothing_more() -> None:
    class StopAfterFirst:
        def on_trial_finished(self, study: Study, trial: Any) -> None:
            study.request_stop()

    study = make(executor={"name": "process", "workers": 2}, budget={"trials": 10},
                 evaluator={"name": "toy", "sleep": EVERY, "sleep_s": 0.3})
    study.run([StopAfterFirst()])
    assert len(study.trials()) == 2
    assert all(t.state is TrialState.COMPLETE for t in study.trials())
    assert study.stop_reason == "stopped on request"


def test_the_failure_guard_stops_a_study_whose_trials_keep_failing(tmp_path: Path) -> None:
    study = make(tmp_path, max_consecutive_failures=3, budget={"trials": 20},
                 evaluator={"name": "toy", "fail": EVERY})
    study.run()
    assert len(study.trials()) == 3
    assert study.failure is not None and "3 failed trials in a row" in study.failure
    assert "3× RuntimeError: toy failure scripted" in study.failure
    finished = study.finish()
    assert finished.failure == study.failure
    record = study.store.get_study("t")
    assert record is not None and record.status == "failed"


def test_a_success_resets_the_failure_count() -> None:
    archs = [{"d0": i, "d1": 0, "d2": 0, "d3": 0} for i in range(4)]
    bad = [str(nf.Architecture(archs[i])) for i in (0, 2)]
    study = make(strategy={"name": "fixed", "archs": archs}, max_consecutive_failures=2,
                 evaluator={"name": "toy", "fail": bad})
    study.run()  # failed, ok, failed, ok: never two in a row
    assert [t.state.value for t in study.trials()] == ["FAILED", "COMPLETE"] * 2
    assert study.failure is None


def test_no_completed_trial_is_a_failure_with_the_commonest_reasons(tmp_path: Path) -> None:
    with pytest.raises(StudyFailedError, match=r"no trial completed \(2 finished\)") as info:
        nf.search(task="toy", space="toy", strategy="random", executor="inline",
                  evaluator={"name": "toy", "fail": EVERY}, budget={"trials": 2},
                  max_consecutive_failures=None, root=tmp_path, name="f", export_best=False)
    assert "2× RuntimeError: toy failure scripted" in str(info.value)
    assert len(info.value.study.trials()) == 2
    assert (tmp_path / "f" / "summary.json").is_file()


@pytest.mark.integration
def test_arrival_order_keeps_workers_busy_and_resume_replays_exactly(tmp_path: Path) -> None:
    # Trials of different lengths: with arrival order a free worker never waits.
    slow = [str(nf.Architecture({"d0": 0, "d1": d, "d2": 0, "d3": 0})) for d in range(4)]
    study = make(tmp_path, executor={"name": "process", "workers": 2}, budget={"trials": 10},
                 evaluator={"name": "toy", "sleep": slow, "sleep_s": 0.5})
    study.run()
    trials = study.trials()
    assert len(trials) == 10 and all(t.state is TrialState.COMPLETE for t in trials)
    assert sorted(t.tell_seq for t in trials if t.tell_seq is not None) == list(range(10))
    # The strategy the run left behind and one rebuilt from the store ask the same next.
    original = study.parts.strategy
    rebuilt = STRATEGIES.create("regularized_evolution", {"population": 6, "sample": 3})
    rebuilt.setup(study.parts.space, study.spec.objectives, study.spec.seed)
    state = replay(rebuilt, trials)
    assert state.diverged_at is None and state.told == 10
    assert [rebuilt.ask(n) for n in range(10, 16)] == [original.ask(n) for n in range(10, 16)]
    rebuilt.setup(study.parts.space, study.spec.objectives, study.spec.seed)
    replay(rebuilt, trials)
    # And a resumed study continues from that state (inline: one trial at a time).
    study.close()
    resumed = nf.resume(tmp_path / "t", budget={"trials": 14}, executor="inline")
    assert [t.candidate for t in resumed.trials()[10:]] == _continue(rebuilt, study, 10, 14)


def _continue(strategy: Any, study: Study, start: int, stop: int) -> list[Any]:
    """What ``strategy`` asks for trials ``start .. stop-1``, told each toy result in turn."""
    asks = []
    for n in range(start, stop):
        candidate = strategy.ask(n)
        assert candidate is not None
        asks.append(candidate)
        result = toy_result(candidate.arch, study.parts.space)
        strategy.tell(Trial(0, n, candidate, TrialState.COMPLETE, result, asked_after=n))
    return asks


@pytest.mark.integration
def test_reproducible_mode_gives_the_same_architectures_with_two_workers() -> None:
    spec = {"executor": {"name": "process", "workers": 2}, "budget": {"trials": 12},
            "reproducible": True}
    a = make(seed=5, **spec).run()
    b = make(seed=5, **spec).run()
    assert [t.arch for t in a.trials()] == [t.arch for t in b.trials()]
    # Trial n is asked after exactly the results of trials 0 .. n-2 (two workers).
    assert [t.asked_after for t in a.trials()] == [0, 0, *range(1, 11)]


def test_study_repr_says_what_it_holds() -> None:
    study = make().run()
    text = repr(study)
    assert text.startswith("<Study 't': 12 trials (12 complete), best=Trial#")
    assert "val_accuracy=" in text and "in memory" in text


def test_to_dataframe_has_a_column_per_decision_and_timestamps() -> None:
    frame = make().run().to_dataframe()
    assert {"arch.d0", "arch.d1", "arch.d2", "arch.d3"} <= set(frame.columns)
    assert {"datetime_start", "datetime_complete", "duration_s", "attempts"} <= set(frame.columns)
    first = frame.iloc[0]
    assert first["datetime_complete"] >= first["datetime_start"]
    assert list(frame.columns[:5]) == ["number", "state", "source", "arch", "arch_id"]


def test_events_are_read_between_trials_from_another_thread() -> None:
    study = make(budget={"trials": 1000})
    started = threading.Event()

    class Signal:
        def on_trial_finished(self, study: Study, trial: Any) -> None:
            if trial.number == 4:
                started.set()
                study.request_stop()

    study.run([Signal()])
    assert started.is_set() and len(study.trials()) == 5
