"""Retraining and the final pick: trial sources, ``Study.retrain`` and ``finalize``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nasforge.testing.toys  # noqa: F401 - registers the toy parts
from nasforge.run.resume import replay
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
