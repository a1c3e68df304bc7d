"""Steering a study: events applied between trials, replayed exactly on resume, checked when
written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nasforge as nf
from nasforge.errors import ConfigError, StudyNotFoundError, UnknownEventError
from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
from nasforge.run.resume import replay
from nasforge.run.spec import parse_spec
from nasforge.run.steering import Steering, steer
from nasforge.run.study import Study
from nasforge.store.base import EventKind, EventPayloadError
from nasforge.trial import Trial, TrialSource, TrialState

POOL = "avg_pool_3x3"
EDGE = "cell.edge_1_0"


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dummy_nb201_table(tmp_path_factory.mktemp("nb201") / "nb201.csv.gz")


def _study(root: Path, table: Path, strategy: str | dict[str, Any] = "regularized_evolution",
           trials: int = 24, name: str = "s") -> Study:
    return Study.create(parse_spec({
        "name": name, "root": str(root), "space": {"name": "nb201", "dims": 2},
        "strategy": strategy, "evaluator": {"name": "nb201_table", "path": str(table)},
        "executor": "inline", "budget": {"trials": trials}, "export_best": False, "seed": 3,
    }))


class _Script:
    """Steers at given trial numbers: ``{number: [(kind, payload), ...]}``."""

    def __init__(self, plan: dict[int, list[tuple[str, dict[str, Any]]]]) -> None:
        self.plan = plan

    def on_trial_finished(self, study: Study, trial: Trial) -> None:
        for kind, payload in self.plan.get(trial.number, []):
            study.steer(kind, **payload)


def _injected_arch(study: Study) -> str:
    arch = study.parts.space.sample(np.random.default_rng(9)).replace(**{EDGE: POOL})
    return study.parts.space.format(arch)


def _replay_matches(directory: Path) -> bool:
    reopened = Study.open(directory)
    strategy = reopened.parts.strategy
    strategy.setup(reopened.parts.space, reopened.spec.objectives, reopened.spec.seed,
                   task=reopened.parts.task)
    steering = Steering(reopened.store, reopened.record.id, reopened.parts.space, strategy,
                        reopened.spec.seed)
    steering.restore()
    return replay(steering, reopened.store.trials(reopened.record.id)).diverged_at is None


@pytest.mark.parametrize("strategy", [
    pytest.param("regularized_evolution", id="evolution"),
    pytest.param("reinforce", id="reinforce"),  # samples from its own decision table
    pytest.param("optuna", id="optuna"),  # learns only from its own asks
    pytest.param({"name": "successive_halving", "rungs": [12, 200]}, id="successive_halving"),
])
def test_forbid_pin_inject_and_budget_take_effect_and_replay(
    tmp_path: Path, table: Path, strategy: str | dict[str, Any]
) -> None:
    study = _study(tmp_path, table, strategy)
    injected = _injected_arch(study)
    study.run([_Script({
        3: [("forbid", {"op": POOL}), ("inject", {"arch": injected})],
        8: [("pin", {"decision": "cell.edge_3_2", "value": "nor_conv_3x3"})],
        11: [("budget", {"trials": 16})],
    })])
    trials = study.trials()
    assert len(trials) == 16  # the budget event cut 24 to 16
    assert study.spec.budget.trials == 16
    assert Study.open(tmp_path / "s").spec.budget.trials == 16  # stored: a resume keeps it
    events = {e.kind: e for e in study.store.events(study.record.id)}
    assert events[EventKind.FORBID].applied_at == 4 and events[EventKind.INJECT].applied_at == 4
    assert events[EventKind.PIN].applied_at == 9
    by_number = {t.number: t for t in trials}
    assert by_number[4].source is TrialSource.INJECT
    assert study.parts.space.format(by_number[4].arch) == injected  # it may use what is forbidden
    later = [t for t in trials if t.number > 4]
    assert all(POOL not in t.arch.values() for t in later)
    assert all(t.arch["cell.edge_3_2"] == "nor_conv_3x3" for t in trials if t.number > 9)
    assert any(POOL in t.arch.values() for t in trials if t.number < 4)
    assert _replay_matches(tmp_path / "s")


def test_pause_holds_new_trials_until_resume(
    tmp_path: Path, table: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nasforge.run.loop as loop_module

    study = _study(tmp_path, table, "random", trials=6)
    waits: list[int] = []

    def wait(seconds: float) -> None:  # the loop waits while paused: resume during its wait
        waits.append(len(study.trials()))
        study.steer("resume")

    monkeypatch.setattr(loop_module.time, "sleep", wait)
    study.run([_Script({1: [("pause", {"why": "look at the results"})]})])
    assert waits == [2]  # paused after two trials, nothing started until the resume
    assert len(study.trials()) == 6
    kinds = [(e.kind.value, e.applied_at) for e in study.store.events(study.record.id)]
    assert kinds == [("pause", 2), ("resume", 2)]


def test_stop_ends_the_session(tmp_path: Path, table: Path) -> None:
    study = _study(tmp_path, table, "random", trials=20)
    study.run([_Script({2: [("stop", {})]})])
    assert len(study.trials()) == 3 and study.stop_reason == "stopped on request"


def test_a_forbid_written_while_the_study_was_stopped_applies_at_resume(
    tmp_path: Path, table: Path
) -> None:
    study = _study(tmp_path, table, "random", trials=6)
    study.run()
    steer(tmp_path / "s", "forbid", op=POOL)
    steer(tmp_path / "s", "stop")  # a stale stop does not stop the resumed run
    resumed = nf.resume(tmp_path / "s", budget={"trials": 14})
    trials = resumed.trials()
    assert len(trials) == 14
    assert all(POOL not in t.arch.values() for t in trials[6:])
    assert _replay_matches(tmp_path / "s")


def test_replay_rebuilds_injections_at_their_trials(tmp_path: Path, table: Path) -> None:
    """Injected architectures are trials: a resume neither asks them again nor loses them."""
    study = _study(tmp_path, table, "local_search", trials=10)
    study.run([_Script({2: [("inject", {"arch": _injected_arch(study)})]})])
    resumed = nf.resume(tmp_path / "s", budget={"trials": 14})
    sources = [t.source.value for t in resumed.trials()]
    assert sources.count("inject") == 1 and sources[3] == "inject" and len(sources) == 14
    assert all(t.state is TrialState.COMPLETE for t in resumed.trials())


@pytest.mark.parametrize(
    ("kind", "payload", "error", "match"),
    [
        ("forbid", {"op": "max_pool"}, ConfigError,
         r"no decision of the space offers 'max_pool'.*use one of the space's options"),
        ("pin", {"decision": "cell.edge_9_9", "value": "none"}, ConfigError,
         r"the space has no decision 'cell.edge_9_9'"),
        ("pin", {"decision": EDGE, "value": "conv7"}, ConfigError,
         r"decision 'cell.edge_1_0' has no option 'conv7'"),
        ("inject", {"arch": "|nope~0|"}, ConfigError, r"inject: the architecture is not in"),
        ("budget", {"epochs": 3}, EventPayloadError, r"bad budget event: epochs: Extra inputs"),
        ("explode", {}, UnknownEventError, r"unknown event kind 'explode'"),
    ],
)
def test_bad_steering_is_refused_before_it_is_written(
    tmp_path: Path, table: Path, kind: str, payload: dict[str, Any], error: type[Exception],
    match: str,
) -> None:
    study = _study(tmp_path, table, "random", trials=2)
    with pytest.raises(error, match=match):
        study.steer(kind, **payload)
    with pytest.raises(error, match=match):
        steer(tmp_path / "s", kind, **payload)
    assert study.store.events(study.record.id) == []


def test_a_forbid_that_empties_a_decision_names_it(tmp_path: Path, table: Path) -> None:
    study = _study(tmp_path, table, "random", trials=2)
    study.steer("pin", decision=EDGE, value="none")
    with pytest.raises(ConfigError, match=r"forbid op=none: it leaves decision 'cell.edge_1_0' "
                       r"with no option"):
        study.steer("forbid", op="none")
    for op in ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"):
        study.steer("forbid", decision="cell.edge_2_0", value=op)
    with pytest.raises(ConfigError, match=r"leaves decision 'cell.edge_2_0' with no option"):
        study.steer("forbid", decision="cell.edge_2_0", value=POOL)


def test_steering_a_folder_without_a_study_says_so(tmp_path: Path) -> None:
    with pytest.raises(StudyNotFoundError, match="no study in"):
        steer(tmp_path, "stop")


def test_two_forbids_that_together_empty_a_decision_refuse_the_second(
    tmp_path: Path, table: Path
) -> None:
    """Written by two writers that raced past the write-time check: the running study refuses
    the second when it reads it (logged, applied_at None) and goes on."""
    study = _study(tmp_path, table, "random", trials=8)
    sid = study.record.id
    study.store.add_event(sid, "pin", {"decision": EDGE, "value": "none"})  # unchecked writes
    study.store.add_event(sid, "forbid", {"decision": EDGE, "value": "none"})
    from nasforge.run.loop import Loop

    loop = Loop(study, [])
    study.parts.strategy.setup(study.parts.space, study.spec.objectives, study.spec.seed)
    loop.steering.read(0)
    events = study.store.events(sid)
    assert [e.applied_at for e in events] == [0, None]
    assert loop.steering.ask(0) is not None
    study.steer("forbid", op=POOL)  # the refused event does not count against later checks
