"""The study loop: one trial's path, failures, budgets, determinism, resume by replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import nasforge.evaluate
import nasforge.execute
import nasforge.space
import nasforge.strategy
import nasforge.tasks  # noqa: F401
from nasforge.errors import ConfigError, StudyLockedError
from nasforge.run.lock import StudyLock
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.trial import TrialState

BASE: dict[str, Any] = {
    "name": "t",
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
    "strategy": {"name": "regularized_evolution", "population": 6, "sample": 3},
    "evaluator": "toy",
    "executor": "inline",
    "budget": {"trials": 20},
    "export_best": False,
}


def make(tmp_path: Path | None, **changes: Any) -> Study:
    data = {**BASE, **changes}
    if tmp_path is not None:
        data["root"] = str(tmp_path)
    spec = parse_spec(data)
    return Study.create(spec, in_memory=tmp_path is None)


def archs(study: Study) -> list[str]:
    return [str(t.arch) for t in study.trials()]


def test_runs_budget_and_records_every_trial() -> None:
    study = make(None).run()
    trials = study.trials()
    assert [t.number for t in trials] == list(range(20))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert all(t.tell_seq is not None for t in trials)
    assert study.best().metrics["val_accuracy"] == max(t.metrics["val_accuracy"] for t in trials)


def test_same_seed_same_architectures_different_seed_different() -> None:
    a, b = make(None, seed=1).run(), make(None, seed=1).run()
    c = make(None, seed=2).run()
    assert archs(a) == archs(b)
    assert [t.metrics for t in a.trials()] == [t.metrics for t in b.trials()]
    assert archs(a) != archs(c)


def test_failed_nan_and_raising_trials_are_recorded_and_search_goes_on() -> None:
    fixed = {"name": "fixed", "archs": [{"d0": i, "d1": 0, "d2": 0, "d3": 0} for i in range(4)]}
    bad_raise, bad_nan = '{"d0":1,"d1":0,"d2":0,"d3":0}', '{"d0":2,"d1":0,"d2":0,"d3":0}'
    study = make(None, strategy=fixed,
                 evaluator={"name": "toy", "fail": [bad_raise], "nan": [bad_nan]}).run()
    states = [t.state for t in study.trials()]
    assert states == [TrialState.COMPLETE, TrialState.FAILED, TrialState.FAILED,
                      TrialState.COMPLETE]
    reasons = [t.result.reason for t in study.trials() if t.result]
    assert "RuntimeError: toy failure scripted" in (reasons[1] or "")
    assert "non-finite metric" in (reasons[2] or "")
    assert study.stop_reason == "the strategy has nothing more to propose"
    told = study.parts.strategy.told  # type: ignore[attr-defined]
    assert [t.number for t in told] == [0, 1, 2, 3]


def test_repeated_architecture_reuses_stored_result() -> None:
    arch = {"d0": 1, "d1": 2, "d2": 3, "d3": 0}
    study = make(None, strategy={"name": "fixed", "archs": [arch, arch]}).run()
    first, second = study.trials()
    assert second.state is TrialState.COMPLETE
    assert second.metrics == first.metrics
    assert second.result is not None and second.result.info == {"cached_from": 0}
    assert second.result.cost_s == 0.0


def test_cost_budget_stops_the_search() -> None:
    study = make(None, budget={"cost_s": 5}).run()
    assert len(study.trials()) == 5
    assert study.stop_reason == "cost budget of 5 s reached"


def test_invalid_architecture_from_strategy_fails_that_trial() -> None:
    study = make(None, strategy={"name": "fixed", "archs": [{"d0": 99, "d1": 0, "d2": 0,
                                                              "d3": 0}]}).run()
    (trial,) = study.trials()
    assert trial.state is TrialState.FAILED
    assert "invalid architecture" in (trial.result.reason or "")  # type: ignore[union-attr]


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path: Path) -> None:
    straight = make(None, seed=7, budget={"trials": 24}).run()
    first = make(tmp_path, seed=7, budget={"trials": 10}).run()
    first.close()
    again = Study.open(tmp_path / "t")
    again.spec = again.spec.model_copy(update={"budget": again.spec.budget.model_copy(
        update={"trials": 24})})
    again.run()
    assert archs(again) == archs(straight)
    assert [t.metrics for t in again.trials()] == [t.metrics for t in straight.trials()]


def test_resume_reruns_trials_left_running(tmp_path: Path) -> None:
    straight = make(None, seed=3, budget={"trials": 12}).run()
    study = make(tmp_path, seed=3, budget={"trials": 12})
    study.spec = study.spec.model_copy(update={"budget": study.spec.budget.model_copy(
        update={"trials": 6})})
    study.run()
    # Simulate a kill during trial 6: its row exists, RUNNING, never finished or told.
    candidate = study.parts.strategy.ask(6)
    assert candidate is not None
    study.store.create_trial(study.record.id, 6, candidate, asked_after=6)
    finished_at = {t.number: t.finished_at for t in study.trials()}
    study.close()
    resumed = Study.open(tmp_path / "t")
    assert resumed.spec.budget.trials == 6  # the budget the study last ran with is stored
    resumed.spec = resumed.spec.model_copy(update={"budget": resumed.spec.budget.model_copy(
        update={"trials": 12})})
    resumed.run()
    assert archs(resumed) == archs(straight)
    assert all(t.state is TrialState.COMPLETE for t in resumed.trials())
    for t in resumed.trials()[:6]:  # completed before the "kill": not evaluated again
        assert t.finished_at == finished_at[t.number]


def test_second_process_is_refused(tmp_path: Path) -> None:
    study = make(tmp_path)
    with StudyLock(tmp_path / "t"), pytest.raises(StudyLockedError, match="already running"):
        study.run()


def test_existing_study_is_not_overwritten_silently(tmp_path: Path) -> None:
    make(tmp_path).run()
    with pytest.raises(ConfigError, match="already exists"):
        make(tmp_path)


def test_a_stop_asked_while_the_study_is_not_running_does_not_stop_the_next_run(
    tmp_path: Path,
) -> None:
    study = make(tmp_path)
    study.request_stop()  # nothing runs it: the request is for a run that is over
    study.run()
    assert len(study.trials()) == 20
    assert study.store.pending_events(study.record.id) == []


def test_hard_time_limit_marks_timeout() -> None:
    slow = '{"d0":0,"d1":0,"d2":0,"d3":0}'
    study = make(None, executor={"name": "process", "workers": 1}, trial_time_limit_s=0.5,
                 strategy={"name": "fixed", "archs": [{"d0": 0, "d1": 0, "d2": 0, "d3": 0},
                                                      {"d0": 1, "d1": 0, "d2": 0, "d3": 0}]},
                 evaluator={"name": "toy", "sleep": [slow], "sleep_s": 60})
    study.run()
    study.parts.executor.shutdown()
    first, second = study.trials()
    assert first.state is TrialState.TIMEOUT
    assert "time limit" in (first.result.reason or "")  # type: ignore[union-attr]
    assert second.state is TrialState.COMPLETE


@pytest.mark.parametrize("left", ["empty file", "schema only"])
def test_a_search_killed_before_it_stored_its_study_can_be_run_again(tmp_path: Path,
                                                                    left: str) -> None:
    """Found by benchmarks/chaos.py: a SIGKILL between creating study.db and committing the
    study row left a folder that `resume` called empty and `search` refused as existing."""
    from nasforge.errors import StudyNotFoundError
    from nasforge.store.sqlite import SQLiteStore

    (tmp_path / "t").mkdir()
    db = tmp_path / "t" / "study.db"
    if left == "empty file":
        db.touch()
    else:
        SQLiteStore(db).close()
    with pytest.raises(StudyNotFoundError, match=r"holds no study: .* run the same search again"):
        Study.open(tmp_path / "t")
    study = make(tmp_path, budget={"trials": 3}).run()
    assert [t.state for t in study.trials()] == [TrialState.COMPLETE] * 3


def test_a_file_that_is_not_a_store_is_still_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "study.db").write_bytes(b"not sqlite at all " * 100)
    with pytest.raises(ConfigError, match="already exists"):
        make(tmp_path)
    assert (tmp_path / "t" / "study.db").read_bytes().startswith(b"not sqlite")
