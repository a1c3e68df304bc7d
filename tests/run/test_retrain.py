"""Retraining and the final pick: trial sources, ``Study.retrain`` and ``finalize``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

import nasforge.testing.toys  # noqa: F401 - registers the toy parts
from nasforge.errors import ConfigError
from nasforge.evaluate.tabular import write_dummy_nb201_table
from nasforge.run.resume import replay
from nasforge.run.retrain import Spread
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.trial import Candidate, Result, TrialSource

BASE: dict[str, Any] = {
    "name": "t",
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
    "strategy": {"name": "regularized_evolution", "population": 4, "sample": 2},
    "evaluator": "toy",
    "executor": "inline",
    "budget": {"trials": 6},
    "export_best": False,
}


def make(tmp_path: Path, **changes: Any) -> Study:
    return Study.create(parse_spec({**BASE, "root": str(tmp_path), **changes}))


def test_other_sources_stay_out_of_the_search(tmp_path: Path) -> None:
    study = make(tmp_path)
    study.run()
    searched = study.trials()
    best = study.best().number
    sid = study.record.id
    for number in (6, 7):  # two retrained seeds that score better than anything searched
        study.store.create_trial(sid, number, Candidate(searched[0].arch, 99),
                                 asked_after=0, source=TrialSource.RETRAIN)
        study.store.finish_trial(sid, number, Result(metrics={"score": 1e9}))
    assert study.best().number == best
    assert all(t.is_search for t in study.ranked())
    frame = study.to_dataframe()
    assert list(frame["source"]) == ["strategy"] * 6 + ["retrain"] * 2
    study.close()

    # A resume with a bigger budget replays only the search's trials (the strategy's history
    # is what it was) and numbers the new ones after the retrained seeds; the budget counts
    # the search's trials only.
    again = Study.open(tmp_path / "t")
    again.spec = again.spec.model_copy(update={"budget": again.spec.budget.model_copy(
        update={"trials": 9})})
    again.run()
    resumed = again.trials()
    assert [t.number for t in resumed] == list(range(11))
    assert [t.source for t in resumed[8:]] == [TrialSource.STRATEGY] * 3
    assert all(t.tell_seq is None for t in resumed[6:8])  # never told to the strategy
    told = sorted(t.tell_seq for t in resumed if t.tell_seq is not None)
    assert told == list(range(9))
    fresh = again.parts.strategy.__class__(**again.parts.strategy.get_params())
    fresh.setup(again.parts.space, again.spec.objectives, again.spec.seed)
    assert replay(fresh, resumed).diverged_at is None
    again.close()


# -- retrain on a tiny real task -----------------------------------------------------------
DIGITS: dict[str, Any] = {
    "name": "d",
    "task": "digits",
    "space": {"name": "mlp"},
    "strategy": "random",
    "evaluator": {"name": "train", "epochs": 1, "measure_latency": False},
    "executor": "inline",
    "budget": {"trials": 3},
    "export_best": False,
}


@pytest.fixture
def digits(tmp_path: Path) -> Study:
    study = Study.create(parse_spec({**DIGITS, "root": str(tmp_path)}))
    study.run()
    return study


def test_retrain_trains_each_seed_once_and_picks_by_mean_validation(digits: Study) -> None:
    report = digits.retrain(top=2, seeds=2, epochs=2)
    assert (report.epochs, report.seeds, report.metric, report.test_metric) == (
        2, 2, "val_accuracy", "test_accuracy")
    seeds = [t for t in digits.trials() if t.source is TrialSource.RETRAIN]
    assert [t.number for t in seeds] == [3, 4, 5, 6]
    assert all(t.candidate.fidelity == 2 and t.metrics["epochs"] == 2 for t in seeds)
    assert all(t.tell_seq is None for t in seeds)
    ranked = [t.arch for t in digits.ranked()]
    assert [a.arch for a in report.architectures] == ranked[:2]
    for row in report.architectures:
        values = [digits.trial(n).metrics["val_accuracy"] for n in row.trials]
        spread = row.spreads["val_accuracy"]
        assert spread.values == tuple(values) and spread.mean == pytest.approx(np.mean(values))
        assert spread.std == pytest.approx(np.std(values, ddof=1))
        assert spread.low is not None and spread.high is not None
        assert spread.low < spread.mean < spread.high
    assert len({digits.trial(n).metrics["val_accuracy"] for n in (3, 4)}) == 2  # two seeds
    best = max(report.architectures, key=lambda r: r.spreads["val_accuracy"].mean)
    assert report.winner == best
    stored = json.loads((digits.directory / "retrain.json").read_text())  # type: ignore[operator]
    assert stored["winner"]["arch_string"] == best.arch_string
    assert "never used to pick" in stored["picked_by"]
    # Asking again with one more seed trains only the missing seed; the others are reused.
    again = digits.retrain(top=2, seeds=3, epochs=2)
    assert [len(r.trials) for r in again.architectures] == [3, 3]
    assert len(digits.trials()) == 3 + 6
    assert again.architectures[0].trials[:2] == report.architectures[0].trials


def test_spread_is_the_student_t_interval() -> None:
    spread = Spread.of("m", [1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert (spread.mean, spread.std) == (2.0, 1.0)
    assert (spread.low, spread.high) == pytest.approx((2.0 - half, 2.0 + half))
    one = Spread.of("m", [5.0])
    assert (one.mean, one.std, one.low, one.high) == (5.0, None, None, None)


def test_a_killed_retrain_runs_only_its_unfinished_seeds(digits: Study) -> None:
    # As a killed retrain leaves it: every seed created RUNNING, the first one finished.
    arch = digits.ranked()[0].arch
    sid = digits.record.id
    for number in (3, 4):
        digits.store.create_trial(sid, number, Candidate(arch, 2), asked_after=0,
                                  source=TrialSource.RETRAIN)
    digits.store.finish_trial(sid, 3, Result(metrics={"val_accuracy": 50.0}))
    report = digits.retrain(top=1, seeds=2, epochs=2)
    assert report.architectures[0].trials == (3, 4)
    assert digits.trial(3).metrics["val_accuracy"] == 50.0  # kept, not trained again
    rerun = digits.trial(4)
    assert rerun.state.value == "COMPLETE" and rerun.attempts == 2
    assert len(digits.trials()) == 5


def test_bad_retrain_requests_are_named(digits: Study) -> None:
    digits.store.create_trial(digits.record.id, 3, Candidate(digits.trial(0).arch), asked_after=3)
    digits.store.finish_trial(digits.record.id, 3, Result.failed("boom"))
    with pytest.raises(ConfigError, match=r"trial: Trial#3 .* is FAILED: boom"):
        digits.retrain(trial=3)
    with pytest.raises(ConfigError, match=r"trial: study 'd' has no Trial#40"):
        digits.retrain(trial=40)
    with pytest.raises(ConfigError, match=r"seeds: must be a whole number >= 1; got 0") as info:
        digits.retrain(top=0, seeds=0)
    assert "top: must be a whole number >= 1; got 0" in str(info.value)
    with pytest.raises(ConfigError, match="either a trial or top"):
        digits.retrain(trial=0, top=2)
    with pytest.raises(ConfigError, match="epochs: must be a whole number"):
        digits.retrain(epochs=0)


def test_other_settings_than_an_earlier_retrain_are_refused(digits: Study) -> None:
    digits.retrain(trial=0, seeds=1, epochs=1)
    with pytest.raises(ConfigError, match="evaluator: this study's retrained seeds used"):
        digits.retrain(trial=0, seeds=1, epochs=1, evaluator={"name": "train", "lr": 0.1})


def test_a_table_study_has_nothing_to_train_unless_given_a_task(tmp_path: Path) -> None:
    table = write_dummy_nb201_table(tmp_path / "nb201.csv.gz")
    study = Study.create(parse_spec({
        "name": "tab", "root": str(tmp_path), "space": {"name": "nb201", "dims": 2},
        "strategy": "random", "evaluator": {"name": "nb201_table", "path": str(table)},
        "executor": "inline", "budget": {"trials": 3}, "export_best": False,
    }))
    study.run()
    with pytest.raises(ConfigError, match=r"looks results up in a table .* nothing to train.*"
                       r"task='mnist1d'"):
        study.retrain(top=1)
    report = study.retrain(
        top=1, seeds=1, epochs=1, task={"name": "mnist1d", "num_samples": 200},
        space={"dims": 1, "channels": 4, "cells_per_stage": 1},
    )
    assert report.settings["evaluator"]["name"] == "train"
    assert report.winner is not None and report.winner.arch == study.ranked()[0].arch
    assert "test_accuracy" in report.winner.spreads


def test_a_percentage_interval_is_clipped_to_0_and_100() -> None:
    from nasforge.run.retrain import Spread

    wide = Spread.of("val_accuracy", [99.5, 93.0])
    assert wide.high is not None and wide.high > 100  # two seeds: a t interval this wide
    clipped = Spread.of("val_accuracy", [99.5, 93.0], (0.0, 100.0))
    assert clipped.high == 100.0 and clipped.low == max(wide.low or 0.0, 0.0)
    assert clipped.mean == wide.mean and clipped.std == wide.std
