"""Reports and pruning: the pruners on their own, the report channel, and whole studies."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import nasforge.testing.toys  # noqa: F401  (registers the toy space and task)
import tests.run.curve_toys  # noqa: F401  (registers the curve_toy evaluator)
from nasforge.errors import ConfigError
from nasforge.evaluate.reporting import ChannelReporter, checked_report
from nasforge.run.pruners import PRUNERS, MedianPruner, PastCurve, SuccessiveHalvingPruner
from nasforge.run.reports import ReportServer
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.trial import TrialState

COMPLETE, PRUNED = TrialState.COMPLETE, TrialState.PRUNED

BASE: dict[str, Any] = {
    "name": "p",
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
    "strategy": "random",
    "evaluator": "curve_toy",
    "executor": "inline",
    "budget": {"trials": 12},
    "export_best": False,
    "pruner": {"name": "median", "n_startup_trials": 2},
}


def make(**changes: Any) -> Study:
    return Study.create(parse_spec({**BASE, **changes}), in_memory=True)


def past(number: int, values: list[float], state: TrialState = COMPLETE) -> PastCurve:
    return PastCurve(number, state, dict(enumerate(values)))


# -- the pruners ------------------------------------------------------------------------------
def test_median_prunes_below_the_median_of_completed_trials() -> None:
    pruner = MedianPruner(n_startup_trials=2)
    others = [past(0, [1, 5]), past(1, [3, 7]), past(2, [9, 9], PRUNED)]  # pruned ones not counted
    assert pruner.prune({0: 1.5, 1: 4.0}, 1, others)  # best 4.0 < median(5, 7)
    assert not pruner.prune({0: 6.5, 1: 4.0}, 1, others)  # best so far 6.5 >= 6
    assert not pruner.prune({0: 0.0}, 0, others[:1])  # one completed trial < n_startup_trials


def test_median_warmup_interval_and_min_trials() -> None:
    others = [past(0, [5, 5, 5, 5]), past(1, [5, 5, 5])]
    low = {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0}
    warm = MedianPruner(n_startup_trials=1, n_warmup_steps=2)
    assert [warm.prune(low, s, others) for s in range(4)] == [False, False, True, True]
    every = MedianPruner(n_startup_trials=1, n_warmup_steps=1, interval_steps=2)
    assert [every.prune(low, s, others) for s in range(4)] == [False, True, False, True]
    two = MedianPruner(n_startup_trials=1, n_min_trials=2)
    assert [two.prune(low, s, others) for s in range(4)] == [True, True, True, False]


def test_successive_halving_keeps_the_top_fraction_at_each_rung() -> None:
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    assert pruner.rungs(9) == [1, 2, 4, 8]
    others = [past(0, [0, 8, 8]), past(1, [0, 6, 6]), past(2, [0, 2, 2]), past(3, [0, 1])]
    # rung 1 with 5 values: the best 2 go on (8 and 6); 7 is second best
    assert not pruner.prune({0: 0.0, 1: 7.0}, 1, others)
    assert pruner.prune({0: 0.0, 1: 5.0}, 1, others)
    assert not pruner.prune({0: 0.0}, 0, others)  # no rung at step 0
    # a rung passed at an earlier report is not judged again at a later step
    assert not pruner.prune({0: 0.0, 1: 7.0, 2: 7.0, 3: 0.0}, 3, [])
    late = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2, min_early_stopping_rate=2)
    assert late.rungs(9) == [4, 8]


def test_the_first_trials_at_a_rung_must_be_the_best_so_far() -> None:
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=4)
    assert not pruner.prune({1: 3.0}, 1, [])
    assert pruner.prune({1: 3.0}, 1, [past(0, [0, 4])])
    assert not pruner.prune({1: 4.0}, 1, [past(0, [0, 4])])


def test_pruners_are_registered_and_validate_parameters() -> None:
    assert PRUNERS.names() == ["median", "none", "successive_halving"]
    assert PRUNERS.create("median", {"n_warmup_steps": 3}) == MedianPruner(n_warmup_steps=3)
    with pytest.raises(ConfigError, match=r"pruner.reduction_factor.*>= 2"):
        parse_spec({**BASE, "pruner": {"name": "successive_halving", "reduction_factor": 1}})
    with pytest.raises(ConfigError, match=r"unknown pruner 'mediam'.*did you mean 'median'"):
        parse_spec({**BASE, "pruner": "mediam"})


# -- the channel ----------------------------------------------------------------------------
def test_reporter_rules() -> None:
    assert checked_report(2, {"a": 1, "b": 2.5}, 2) == {"a": 1.0, "b": 2.5}  # same step again
    with pytest.raises(ValueError, match=r"step 1 goes backwards \(step 2 was already reported"):
        checked_report(1, {"a": 1.0}, 2)
    with pytest.raises(ValueError, match=r"val_accuracy at step 3 is nan"):
        checked_report(3, {"val_accuracy": float("nan")}, None)
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        checked_report(-1, {"a": 1.0}, None)
    with pytest.raises(ValueError, match="at step 0 got no values"):
        checked_report(0, {}, None)


def test_server_answers_stores_errors_and_pickled_reporters() -> None:
    seen: list[tuple[int, int, dict[str, float]]] = []

    def handler(number: int, step: int, values: Any) -> bool:
        if step == 9:
            raise KeyError("Trial#3 is not running")
        seen.append((number, step, dict(values)))
        return step >= 2

    with ReportServer(handler) as server:
        reporter = pickle.loads(pickle.dumps(server.reporter(3)))
        assert isinstance(reporter, ChannelReporter)
        reporter.report(0, {"x": 1.0})
        assert not reporter.should_prune()
        reporter.report(2, {"x": 2.0})
        assert reporter.should_prune()
        assert not pickle.loads(pickle.dumps(reporter)).should_prune()  # a copy starts afresh
        with pytest.raises(ValueError, match="Trial#3 is not running"):
            reporter.report(9, {"x": 2.0})
    assert seen == [(3, 0, {"x": 1.0}), (3, 2, {"x": 2.0})]


def test_a_wrong_key_is_refused() -> None:
    with ReportServer(lambda *_: False) as server:
        forged = ChannelReporter(server.address, b"not the key", 0)
        with pytest.raises(Exception, match=r"digest|authentication|reach"):
            forged.report(0, {"x": 1.0})
        server.reporter(0).report(0, {"x": 1.0})  # the server still serves


# -- studies ----------------------------------------------------------------------------------
def test_median_pruning_in_a_study_records_where_trials_stopped() -> None:
    study = make()
    study.run()
    trials = study.trials()
    pruned = [t for t in trials if t.state is PRUNED]
    complete = [t for t in trials if t.state is COMPLETE]
    assert pruned and len(complete) >= 2
    sid = study.record.id
    for t in complete:
        assert [p.step for p in study.store.curve(sid, t.number)] == [s for s in range(6)
                                                                       for _ in range(2)]
    for t in pruned:
        assert t.result is not None and t.result.reason is not None
        step, value = t.result.info["pruned_step"], t.result.info["pruned_value"]
        assert t.result.reason == f"pruned by the median pruner at step {step} " \
                                  f"(val_accuracy={value:.4g})"
        assert t.result.info["pruned_by"] == "median"
        last = study.store.curve(sid, t.number)[-1]
        assert last.step == step
        curve = {p.step: p.value for p in study.store.curve(sid, t.number)
                 if p.metric == "val_accuracy"}
        assert curve[step] == value


def test_no_pruner_stores_curves_and_prunes_nothing() -> None:
    study = make(pruner="none")
    study.run()
    assert all(t.state is COMPLETE for t in study.trials())
    assert len(study.store.curves(study.record.id)) == 12 * 6 * 2


def test_nan_report_fails_the_trial_naming_the_step() -> None:
    study = make(evaluator={"name": "curve_toy", "nan_at": 2}, budget={"trials": 1})
    study.run()
    (trial,) = study.trials()
    assert trial.state is TrialState.FAILED
    assert trial.result is not None
    assert "val_accuracy at step 2 is nan" in (trial.result.reason or "")
    assert [p.step for p in study.store.curve(study.record.id, 0)] == [0, 0, 1, 1]


def test_a_pruner_needs_the_metric_in_the_curve() -> None:
    with pytest.raises(ConfigError, match=r"pruner: the median pruner judges .*'val_accuracy'.*"
                                          r"evaluator 'toy'.*reports no learning curve"):
        make(evaluator="toy")
    with pytest.raises(ConfigError, match=r"it reports val_accuracy, loss per step"):
        make(objectives=[{"metric": "test_accuracy"}])
    make(evaluator="toy", pruner="none")  # without a pruner nothing is needed


def _outcome(study: Study) -> list[tuple[Any, ...]]:
    sid = study.record.id
    return [(t.number, str(t.arch), t.state, dict(t.metrics), t.result and t.result.reason,
             t.asked_after, t.tell_seq, study.store.curve(sid, t.number)) for t in study.trials()]


@pytest.mark.parametrize(
    "pruner", ["median", pytest.param("successive_halving", marks=pytest.mark.slow)]
)
def test_reproducible_pruning_with_two_workers_is_identical(pruner: str) -> None:
    spec = {"executor": {"name": "process", "workers": 2}, "reproducible": True,
            "budget": {"trials": 10}, "strategy": "regularized_evolution",
            "pruner": {"name": pruner, **({"n_startup_trials": 2} if pruner == "median" else
                                          {"reduction_factor": 2})}}
    first, second = make(**spec), make(**spec)
    first.run()
    second.run()
    assert _outcome(first) == _outcome(second)
    assert any(t.state is PRUNED for t in first.trials())


def test_resume_prunes_from_the_stored_curves(tmp_path: Path) -> None:
    spec = parse_spec({**BASE, "root": str(tmp_path), "budget": {"trials": 6},
                       "reproducible": True})
    study = Study.create(spec)
    study.run()
    study.close()
    reopened = Study.open(tmp_path / "p")
    reopened.spec = reopened.spec.model_copy(update={"budget": parse_spec(
        {"budget": {"trials": 12}}).budget})
    reopened.run()
    straight = make(reproducible=True)
    straight.run()
    assert _outcome(reopened)[:12] == _outcome(straight)


# -- showing curves and units -----------------------------------------------------------------
def test_curves_in_the_dataframe_summary_report_and_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nasforge.cli.main import main

    monkeypatch.setenv("COLUMNS", "200")
    study = Study.create(parse_spec({**BASE, "root": str(tmp_path)}))
    study.run()
    finished = study.finish()
    frame = study.to_dataframe()
    complete = frame[frame.state == "COMPLETE"]
    assert set(complete["curve.steps"]) == {6}
    assert list(complete["curve.val_accuracy"]) == list(complete["val_accuracy"])
    pruned = frame[frame.state == "PRUNED"]
    assert (pruned["curve.steps"] < 6).all()
    number = int(pruned.number.iloc[0])
    assert study.curves(number) == [p for p in study.curves() if p.trial == number]
    assert finished.summary["units"] == {}  # curve_toy declares none: values print plain
    assert finished.report_path is not None
    text = finished.report_path.read_text()
    assert "<h3>Learning curves</h3>" in text and "were pruned (pruner median)" in text
    capsys.readouterr()
    assert main(["show", str(tmp_path / "p")]) == 0
    output = capsys.readouterr().out
    assert "steps" in output and "pruned by the median pruner at step" in output
    assert f"learning curves: 12 trials reported up to 6 steps; {len(pruned)} pruned" in output
    assert "val %" not in output


def test_units_decide_how_values_print() -> None:
    from nasforge.cli.finish import _value
    from nasforge.cli.show import header

    assert _value(0.8123, "") == "0.8123" and _value(81.234, "%") == "81.23%"
    assert header("val_accuracy", {"val_accuracy": "%"}) == "val %"
    assert header("val_accuracy", {}) == "val"
    train = Study.create(parse_spec({**BASE, "evaluator": "train", "pruner": "none"}),
                         in_memory=True)
    assert {"val_accuracy": "%", "test_accuracy": "%"}.items() <= train.units().items()
    assert "val_loss" not in train.units()


def test_the_train_evaluator_is_prunable() -> None:
    study = make(space="mlp", evaluator={"name": "train", "epochs": 4, "batch_size": 16},
                 budget={"trials": 6}, pruner={"name": "median", "n_startup_trials": 1})
    study.run()
    trials = study.trials()
    sid = study.record.id
    complete = [t for t in trials if t.state is COMPLETE]
    assert complete
    for t in complete:  # one report per epoch trained
        steps = {p.step for p in study.store.curve(sid, t.number) if p.metric == "val_accuracy"}
        assert steps == set(range(int(t.metrics["epochs"])))
    for t in trials:
        if t.state is PRUNED:
            assert t.result is not None and t.result.info["pruned_by"] == "median"
