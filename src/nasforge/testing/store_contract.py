"""`StoreContract`: the behaviour every :class:`~nasforge.store.base.Store` must keep.

Use it from a plugin's tests by subclassing and providing a ``store`` fixture::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(tmp_path / "db")
"""

from __future__ import annotations

import pytest

from nasforge.architecture import Architecture
from nasforge.errors import TrialFinishedError
from nasforge.store.base import Store
from nasforge.trial import Candidate, Result, Status, TrialState


def _candidate(i: int, fidelity: int | None = None) -> Candidate:
    return Candidate(Architecture({"d0": i, "op": "conv"}), fidelity)


class StoreContract:
    """Pytest mix-in: provide a ``store`` fixture."""

    def test_study_round_trip(self, store: Store) -> None:
        study = store.create_study("s", {"seed": 3, "nested": {"a": [1, 2]}}, seed=3)
        again = store.get_study("s")
        assert again == study
        assert again is not None and again.spec == {"seed": 3, "nested": {"a": [1, 2]}}
        assert store.get_study("missing") is None
        assert [s.name for s in store.studies()] == ["s"]

    def test_trial_life_cycle(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        trial = store.create_trial(sid, 0, _candidate(1, 4), asked_after=0)
        assert trial.state is TrialState.RUNNING and trial.result is None
        assert trial.candidate == _candidate(1, 4)
        result = Result(metrics={"val_accuracy": 91.5, "params": 1234}, cost_s=2.5,
                        info={"epochs": 3})
        done = store.finish_trial(sid, 0, result)
        assert done.state is TrialState.COMPLETE
        assert done.result == result
        assert store.trials(sid) == [done]

    def test_failed_and_timeout_keep_reason(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        store.create_trial(sid, 1, _candidate(1), asked_after=0)
        store.finish_trial(sid, 0, Result.failed("boom"))
        store.finish_trial(sid, 1, Result.failed("too slow", status=Status.TIMEOUT))
        states = [(t.state, t.result.reason if t.result else None) for t in store.trials(sid)]
        assert states == [(TrialState.FAILED, "boom"), (TrialState.TIMEOUT, "too slow")]
        only = store.trials(sid, states={TrialState.TIMEOUT})
        assert [t.number for t in only] == [1]

    def test_finished_trial_is_immutable(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        store.finish_trial(sid, 0, Result(metrics={"val_accuracy": 1.0}))
        with pytest.raises(TrialFinishedError, match="immutable"):
            store.finish_trial(sid, 0, Result(metrics={"val_accuracy": 2.0}))
        with pytest.raises(TrialFinishedError):
            store.restart_trial(sid, 0)
        assert store.trials(sid)[0].metrics == {"val_accuracy": 1.0}

    def test_trial_numbers_are_unique(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        with pytest.raises(Exception, match="UNIQUE"):
            store.create_trial(sid, 0, _candidate(1), asked_after=0)

    def test_told_order_and_asked_after(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        for n in range(3):
            store.create_trial(sid, n, _candidate(n), asked_after=n // 2)
        store.mark_told(sid, 2, 0)
        trials = store.trials(sid)
        assert [t.asked_after for t in trials] == [0, 0, 1]
        assert [t.tell_seq for t in trials] == [None, None, 0]

    def test_find_complete_matches_arch_and_fidelity(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(5, 10), asked_after=0)
        assert store.find_complete(sid, _candidate(5, 10)) is None  # still running
        store.finish_trial(sid, 0, Result(metrics={"val_accuracy": 50.0}))
        assert store.find_complete(sid, _candidate(5, 10)) is not None
        assert store.find_complete(sid, _candidate(5, 20)) is None
        assert store.find_complete(sid, _candidate(6, 10)) is None

    def test_restart_running_trial(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        again = store.restart_trial(sid, 0)
        assert again.state is TrialState.RUNNING

    def test_events(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        first = store.add_event(sid, "stop", {"why": "test"})
        store.add_event(sid, "inject", {"arch": {"d0": 1}})
        events = store.pending_events(sid)
        assert [(e.kind, dict(e.payload)) for e in events] == [
            ("stop", {"why": "test"}), ("inject", {"arch": {"d0": 1}})]
        store.mark_event_handled(first)
        assert [e.kind for e in store.pending_events(sid)] == ["inject"]

    def test_update_study(self, store: Store) -> None:
        sid = store.create_study("s", {"a": 1}, seed=0).id
        store.update_study(sid, status="finished", elapsed_s=12.5, spec={"a": 2})
        study = store.get_study("s")
        assert study is not None
        assert (study.status, study.elapsed_s, dict(study.spec)) == ("finished", 12.5, {"a": 2})
