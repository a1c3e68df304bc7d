"""The failure-rate guard (max_failure_rate over failure_rate_min_trials) and the memory limit
in the run spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import nasforge.testing.toys  # noqa: F401  (registers the toy space and task)
from nasforge.errors import ConfigError
from nasforge.run.api import resume
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study, StudyFailedError
from nasforge.trial import TrialState

BASE: dict[str, Any] = {
    "name": "g",
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 8, "n_options": 4},
    "strategy": "random",
    "executor": "inline",
    "budget": {"trials": 60},
    "export_best": False,
    "max_consecutive_failures": None,  # the rate guard alone
}


def run(tmp_path: Path | None = None, **changes: Any) -> Study:
    data = {**BASE, **changes}
    if tmp_path is not None:
        data["root"] = str(tmp_path)
    return Study.create(parse_spec(data), in_memory=tmp_path is None).run()


def test_a_study_that_almost_only_fails_is_stopped_with_the_reason() -> None:
    study = run(evaluator={"name": "faulty", "rate": 0.95, "faults": ["raise", "nan"]})
    trials = study.trials()
    failed = sum(t.state is TrialState.FAILED for t in trials)
    assert 20 <= len(trials) < 60  # stopped before its budget, not before 20 trials
    assert failed / len(trials) > 0.9
    message = study.failure or ""
    assert message.startswith(f"stopped: {failed} of {len(trials)} trials failed (")
    assert "% > max_failure_rate 90 %); commonest reasons: " in message
    assert "InjectedFault: injected fault 'raise'" in message
    assert "non-finite metric(s): val_accuracy=nan" in message
    assert study.stop_reason == study.failure
    assert study.record.status == "failed"


def test_a_30_percent_mix_runs_its_whole_budget() -> None:
    study = run(evaluator={"name": "faulty", "rate": 0.3, "faults": ["raise", "nan", "inf"]})
    trials = study.trials()
    assert len(trials) == 60 and study.failure is None
    assert 0.15 < sum(t.state is TrialState.FAILED for t in trials) / 60 < 0.45


def test_the_guard_waits_for_its_minimum_and_can_be_switched_off() -> None:
    always = {"name": "faulty", "rate": 1.0, "faults": ["raise"]}
    late = run(evaluator=always, failure_rate_min_trials=35)
    assert len(late.trials()) == 35 and "35 of 35 trials failed (100 %" in (late.failure or "")
    off = run(evaluator=always, max_failure_rate=None, budget={"trials": 30})
    assert len(off.trials()) == 30 and off.failure is None


def test_a_resumed_study_counts_earlier_sessions_and_may_change_the_guard(
    tmp_path: Path,
) -> None:
    always = {"name": "faulty", "rate": 1.0, "faults": ["raise"]}
    first = run(tmp_path, evaluator=always, max_failure_rate=None, budget={"trials": 15})
    assert len(first.trials()) == 15
    with pytest.raises(StudyFailedError, match="stopped: 20 of 20 trials failed"):
        resume(first.directory, max_failure_rate=0.9, budget={"trials": 60})
    # a study the guard stopped goes on without it, to its budget (and ends with no success)
    with pytest.raises(StudyFailedError, match=r"no trial completed \(60 finished\)"):
        resume(first.directory, max_failure_rate=None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_failure_rate": 1.0}, "max_failure_rate"),
        ({"max_failure_rate": 0}, "max_failure_rate"),
        ({"failure_rate_min_trials": 0}, "failure_rate_min_trials"),
        ({"trial_memory_limit_gb": 0}, "trial_memory_limit_gb"),
        ({"trial_memory_limit_gb": "lots"}, "trial_memory_limit_gb"),
    ],
)
def test_settings_are_validated(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec({**BASE, "evaluator": "faulty", **changes})
    assert field in [p.field for p in info.value.problems]
