"""One-shot strategies through a study: the search trial, proposals, failures, kill and resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import nasforge as nf
from nasforge.errors import ConfigError
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study, StudyFailedError
from nasforge.strategy.oneshot import DERIVED, SEARCH_METRICS
from nasforge.strategy.oneshot._engine import SearchRun
from nasforge.trial import TrialSource, TrialState
from tests.strategy.oneshot.oneshot_toys import FAST, TINY_SPACE, tiny_task

TRAIN: dict[str, Any] = {"name": "train", "epochs": 1, "batch_size": 16,
                         "measure_latency": False}


def _study(tmp: Path | None, strategy: str = "darts", **settings: Any) -> Study:
    params = {**FAST[strategy], "top": 2, **settings.pop("strategy_params", {})}
    return nf.search(task=tiny_task(), space={"name": "nb201", **TINY_SPACE},
                     strategy={"name": strategy, **params}, evaluator=TRAIN, executor="inline",
                     budget={"trials": 10}, in_memory=tmp is None, root=tmp or "runs",
                     name="oneshot", export_best=False, **settings)


def _rows(study: Study) -> list[tuple[Any, ...]]:
    return [(t.number, t.source, t.state, str(t.arch), t.candidate.fidelity,
             {k: v for k, v in t.metrics.items() if k not in ("search_cpu_s", "train_seconds")},
             dict(t.result.info).get(DERIVED) if t.result else None)
            for t in study.trials()]


def test_the_search_is_a_trial_of_its_own_then_its_proposals_are_ordinary_trials() -> None:
    study = _study(None)
    trials = study.trials()
    search, proposals = trials[0], trials[1:]
    assert search.source is TrialSource.ONESHOT and search.state is TrialState.COMPLETE
    assert set(search.metrics) == set(SEARCH_METRICS)
    assert search.result is not None and search.result.cost_s == search.metrics["search_cpu_s"]
    assert search.candidate.fidelity == FAST["darts"]["epochs"]
    derived = search.result.info[DERIVED]
    assert [str(t.arch) for t in proposals] == derived[:2]
    assert all(t.source is TrialSource.STRATEGY and t.candidate.fidelity is None
               and "val_accuracy" in t.metrics for t in proposals)
    assert study.stop_reason == "the strategy has nothing more to propose"
    assert study.best().number in (1, 2)  # the search trial never ranks
    # the architecture weights of every epoch are the search trial's learning curve
    curve = study.curves(0)
    assert sorted({p.step for p in curve}) == [0, 1]
    edge = [p.value for p in curve if p.step == 1 and p.metric.startswith("alpha.cell.edge_1_0.")]
    assert len(edge) == 5 and sum(edge) == pytest.approx(1.0)
    frame = study.to_dataframe()
    assert list(frame["source"]) == ["oneshot", "strategy", "strategy"]


def test_a_space_without_supernet_is_refused_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match=r"strategy\.name.*one-shot strategy.*supernet") as info:
        nf.search(task="toy", space={"name": "toy", "n_decisions": 3, "n_options": 3},
                  strategy="spos", evaluator="toy", executor="inline", in_memory=True)
    assert "regularized_evolution" in str(info.value)


def test_a_search_past_its_time_limit_ends_the_study_with_the_reason() -> None:
    with pytest.raises(StudyFailedError) as info:
        _study(None, trial_time_limit_s=1e-6)
    study = info.value.study
    trials = study.trials()
    assert [t.state for t in trials] == [TrialState.TIMEOUT]
    assert study.failure is not None and "one-shot search" in study.failure
    assert "time limit" in study.failure and "nothing was proposed" in study.failure


def _reopen(directory: Path) -> Study:
    """Open a stored study whose task is in-memory arrays (given again, as a user would)."""
    from nasforge.run.parts import build_parts
    from nasforge.store.sqlite import SQLiteStore

    store = SQLiteStore(directory / "study.db")
    spec = parse_spec(store.studies()[0].spec, check=False)
    store.close()
    return Study.open(directory, build_parts(spec, given={"task": tiny_task()}))


class _Killed(BaseException):
    """Stands for the process being killed mid-search."""


def test_a_killed_study_continues_the_search_from_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = _study(tmp_path / "straight")
    original = SearchRun._save

    def save_then_die(self: SearchRun) -> None:
        original(self)
        if self.epoch == 1:
            raise _Killed

    monkeypatch.setattr(SearchRun, "_save", save_then_die)
    with pytest.raises(_Killed):
        _study(tmp_path / "killed")
    monkeypatch.setattr(SearchRun, "_save", original)
    reopened = _reopen(tmp_path / "killed" / "oneshot")
    assert [t.state for t in reopened.trials()] == [TrialState.RUNNING]
    resumed = reopened.run()
    assert _rows(resumed) == _rows(straight)
    assert resumed.trials()[0].attempts == 2
    assert sorted({p.step for p in resumed.curves(0)}) == [0, 1]
    # a finished study resumed again proposes the same trials without searching again
    again = _reopen(tmp_path / "killed" / "oneshot").run()
    assert _rows(again) == _rows(straight)
