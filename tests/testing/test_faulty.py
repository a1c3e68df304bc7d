"""FaultyEvaluator: the fault plan is a pure function, every fault does what it says, settings
are validated with the field named, and studies record each fault with its reason."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nasforge.testing.toys  # noqa: F401  (registers the toy space, task and evaluator)
from nasforge.errors import ConfigError
from nasforge.evaluate.base import EvalContext, run_evaluation
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.testing.faulty import FAULTS, FaultyEvaluator, InjectedFault, planned_fault
from nasforge.testing.toys import ToySpace, ToyTask, toy_result
from nasforge.trial import Candidate, Status, TrialState

SPACE = ToySpace(n_decisions=8, n_options=4)
BASE: dict[str, Any] = {
    "name": "f",
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 8, "n_options": 4},
    "strategy": "random",
    "executor": "inline",
    "budget": {"trials": 30},
    "export_best": False,
    "max_consecutive_failures": None,
}


def ctx(number: int | None, time_limit_s: float | None = None) -> EvalContext:
    return EvalContext(space=SPACE, task=ToyTask(), seed=0, number=number,
                       time_limit_s=time_limit_s)


def number_with(fault: str | None, evaluator: FaultyEvaluator) -> int:
    return next(n for n in range(10_000) if evaluator.fault_for(n) == fault)


def candidate() -> Candidate:
    return Candidate(SPACE.sample(np.random.default_rng(0)))


def test_plan_is_pure_and_follows_the_rate() -> None:
    plan = [planned_fault(3, n, 0.3, FAULTS) for n in range(3000)]
    assert plan == [planned_fault(3, n, 0.3, FAULTS) for n in range(3000)]
    assert plan != [planned_fault(4, n, 0.3, FAULTS) for n in range(3000)]
    counts = Counter(plan)
    assert 0.26 < 1 - counts[None] / 3000 < 0.34
    assert all(300 // 6 * 0.6 < counts[f] < 900 // 6 * 1.4 for f in FAULTS)
    assert all(planned_fault(0, n, 0.0, FAULTS) is None for n in range(200))
    assert all(planned_fault(0, n, 1.0, ["nan"]) == "nan" for n in range(200))


def test_plan_is_the_same_in_another_process() -> None:
    code = ("from nasforge.testing.faulty import FAULTS, planned_fault; "
            "print([planned_fault(7, n, 0.5, FAULTS) for n in range(50)])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == str([planned_fault(7, n, 0.5, FAULTS) for n in range(50)])


def test_healthy_trials_score_deterministically_or_by_the_base() -> None:
    plain = FaultyEvaluator(rate=0.5, seed=1)
    n = number_with(None, plain)
    first = run_evaluation(plain, candidate(), ctx(n))
    assert first.ok and 50 <= first.metrics["val_accuracy"] < 100
    assert run_evaluation(plain, candidate(), ctx(n)).metrics == first.metrics
    based = FaultyEvaluator(rate=0.5, seed=1, base={"name": "toy"})
    assert based.declared_metrics() == ()  # the toy evaluator declares none
    assert run_evaluation(based, candidate(), ctx(n)).metrics == toy_result(
        candidate().arch, SPACE).metrics
    assert based.max_fidelity == 10


@pytest.mark.parametrize("fault", ["raise", "nan", "inf"])
def test_quick_faults_fail_with_their_reason_and_leave_a_marker(
    fault: str, tmp_path: Path
) -> None:
    evaluator = FaultyEvaluator(rate=1.0, faults=[fault], marker_dir=str(tmp_path))  # type: ignore[list-item]
    result = run_evaluation(evaluator, candidate(), ctx(5))
    assert result.status is Status.FAILED
    expected = {"raise": "InjectedFault: injected fault 'raise' at faulty.py",
                "nan": "non-finite metric(s): val_accuracy=nan",
                "inf": "non-finite metric(s): val_accuracy=inf"}[fault]
    assert expected in (result.reason or "")
    assert [p.name for p in tmp_path.iterdir()] == [f"5.{fault}"]


def test_unstopped_hang_and_memory_say_that_no_limit_stopped_them() -> None:
    hang = FaultyEvaluator(rate=1.0, faults=["hang"], hang_s=0.1)
    with pytest.raises(InjectedFault, match="never stopped"):
        hang.evaluate(candidate(), ctx(0))
    memory = FaultyEvaluator(rate=1.0, faults=["memory"], memory_cap_gb=0.05)
    with pytest.raises(InjectedFault, match="no memory limit stopped it"):
        memory.evaluate(candidate(), ctx(0))


def test_hang_without_any_limit_names_the_setting() -> None:
    result = run_evaluation(FaultyEvaluator(rate=1.0, faults=["hang"]), candidate(), ctx(0))
    assert result.status is Status.FAILED and "evaluator.hang_s" in (result.reason or "")


def test_kill_kills_its_own_process(tmp_path: Path) -> None:
    code = ("from nasforge.testing.faulty import FaultyEvaluator as F; "
            "from nasforge.evaluate.base import EvalContext as C; "
            "from nasforge.testing.toys import ToySpace, ToyTask; "
            "from nasforge.trial import Candidate; from nasforge.architecture import "
            "Architecture as A; "
            f"F(rate=1.0, faults=['kill'], marker_dir={str(tmp_path)!r}).evaluate("
            "Candidate(A({'d0': 0})), C(space=ToySpace(), task=ToyTask(), seed=0, number=3)); "
            "print('survived')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == -9 and "survived" not in done.stdout
    assert (tmp_path / "3.kill").exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"rate": 1.5}, "evaluator.rate"),
        ({"faults": ["raise", "explode"]}, "evaluator.faults.1"),
        ({"faults": []}, "evaluator.faults"),
        ({"faults": ["nan", "nan"]}, "evaluator.faults"),
        ({"base": {"name": "no_such"}}, "evaluator.base.name"),
        ({"base": {"epochs": 1}}, "evaluator.base.name"),
        ({"base": {"name": "toy", "sleep_s": -1}}, "evaluator.base.sleep_s"),
        ({"memory_cap_gb": 0}, "evaluator.memory_cap_gb"),
        ({"hang_s": -1}, "evaluator.hang_s"),
    ],
)
def test_settings_are_validated_naming_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec({**BASE, "evaluator": {"name": "faulty", **params}})
    assert field in [p.field for p in info.value.problems]


def test_inline_study_records_every_fault_with_its_reason(tmp_path: Path) -> None:
    evaluator = {"name": "faulty", "rate": 0.5, "faults": ["raise", "nan", "inf", "hang",
                                                          "memory"],
                 "seed": 1, "marker_dir": str(tmp_path / "marks")}
    spec = parse_spec({**BASE, "evaluator": evaluator, "budget": {"trials": 14},
                       "trial_time_limit_s": 0.2,
                       "trial_memory_limit_gb": 0.2, "root": str(tmp_path)})
    study = Study.create(spec).run()
    trials = study.trials()
    assert len(trials) == 14 and study.failure is None
    injected = {int(p.name.split(".")[0]): p.name.split(".")[1]
                for p in (tmp_path / "marks").iterdir()}
    assert set(injected.values()) == set(evaluator["faults"])  # seed 1: each kind, one hang
    expected = {"raise": (TrialState.FAILED, "InjectedFault"),
                "nan": (TrialState.FAILED, "val_accuracy=nan"),
                "inf": (TrialState.FAILED, "val_accuracy=inf"),
                "hang": (TrialState.TIMEOUT, "exceeded its time limit"),
                "memory": (TrialState.FAILED, "exceeded trial_memory_limit_gb=0.2")}
    for trial in trials:
        fault = injected.get(trial.number)
        if fault is None:
            assert trial.state is TrialState.COMPLETE, trial.result
            continue
        state, words = expected[fault]
        assert trial.state is state and words in (trial.result.reason or ""), trial.result
    assert not math.isnan(study.best().metrics["val_accuracy"])
