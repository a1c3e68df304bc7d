"""`StoreContract`: the behaviour every :class:`~nasforge.store.base.Store` must keep.

Use it from a plugin's tests by subclassing and providing a ``store`` fixture that yields a new,
empty store::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(tmp_path / "db")

nasforge runs it over its own stores through :class:`StoreSupplier` (after Optuna's
``optuna/testing/storages.py``)::

    @pytest.fixture(params=STORE_MODES)
    def store(request):
        with StoreSupplier(request.param) as store:
            yield store

The tests assert behaviour and nasforge's own messages, never a backend's (no SQLite error text).
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from nasforge.architecture import Architecture
from nasforge.errors import (
    ConfigError,
    DuplicateTrialError,
    NasforgeError,
    TrialFinishedError,
    UnknownEventError,
)
from nasforge.store.base import CurvePoint, EventKind, EventPayloadError, Store
from nasforge.store.memory import InMemoryStore
from nasforge.store.sqlite import SQLiteStore
from nasforge.trial import Candidate, Result, Status, TrialSource, TrialState

EXAMPLE_PAYLOADS: dict[EventKind, dict[str, Any]] = {
    EventKind.STOP: {}, EventKind.PAUSE: {"why": "lunch"}, EventKind.RESUME: {},
    EventKind.FORBID: {"op": "avg_pool_3x3"},
    EventKind.PIN: {"decision": "cell.edge_1_0", "value": "nor_conv_3x3"},
    EventKind.INJECT: {"arch": "op=conv3 depth=2"}, EventKind.BUDGET: {"trials": 200},
}
"""A valid payload of every event kind, as the store reads it back."""

STORE_MODES = ("memory", "sqlite")
"""The stores nasforge ships: in memory, and SQLite in a temporary file (WAL mode)."""


class StoreSupplier:
    """A fresh, empty store of one of :data:`STORE_MODES`; closed (and its file removed) on exit.

    Example:
        >>> with StoreSupplier("memory") as store:
        ...     store.studies()
        []
    """

    def __init__(self, mode: str) -> None:
        if mode not in STORE_MODES:
            modes = ", ".join(repr(m) for m in STORE_MODES)
            raise ConfigError(f"unknown store mode {mode!r}; the modes are: {modes}")
        self.mode = mode
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._store: Store | None = None

    def __enter__(self) -> Store:
        if self.mode == "memory":
            self._store = InMemoryStore()
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="nasforge-store-")
            self._store = SQLiteStore(Path(self._tmp.name) / "study.db")
        return self._store

    def __exit__(self, *_: Any) -> None:
        if self._store is not None:
            self._store.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def _candidate(i: int, fidelity: int | None = None) -> Candidate:
    return Candidate(Architecture({"d0": i, "op": "conv"}), fidelity)


def _ok(value: float = 1.0) -> Result:
    return Result(metrics={"val_accuracy": value})


class StoreContract:
    """Pytest mix-in: provide a ``store`` fixture (a new, empty store)."""

    # -- studies ----------------------------------------------------------------------------
    def test_study_round_trip(self, store: Store) -> None:
        study = store.create_study("s", {"seed": 3, "nested": {"a": [1, 2]}}, seed=3)
        again = store.get_study("s")
        assert again == study
        assert again is not None and again.spec == {"seed": 3, "nested": {"a": [1, 2]}}
        assert (again.status, again.seed, again.elapsed_s) == ("created", 3, 0.0)
        assert store.get_study("missing") is None
        store.create_study("b", {}, seed=0)
        assert [s.name for s in store.studies()] == ["s", "b"]

    def test_study_names_are_unique(self, store: Store) -> None:
        store.create_study("s", {}, seed=0)
        with pytest.raises(NasforgeError, match="a study named 's' already exists"):
            store.create_study("s", {}, seed=1)
        assert len(store.studies()) == 1

    def test_update_study(self, store: Store) -> None:
        sid = store.create_study("s", {"a": 1}, seed=0).id
        store.update_study(sid, status="finished", elapsed_s=12.5, spec={"a": 2})
        study = store.get_study("s")
        assert study is not None
        assert (study.status, study.elapsed_s, dict(study.spec)) == ("finished", 12.5, {"a": 2})
        store.update_study(sid, elapsed_s=13.0)  # the others are kept
        study = store.get_study("s")
        assert study is not None
        assert (study.status, study.elapsed_s, dict(study.spec)) == ("finished", 13.0, {"a": 2})

    # -- trials -----------------------------------------------------------------------------
    def test_trial_life_cycle(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        trial = store.create_trial(sid, 0, _candidate(1, 4), asked_after=0)
        assert trial.state is TrialState.RUNNING and trial.result is None
        assert trial.candidate == _candidate(1, 4)
        assert (trial.attempts, trial.tell_seq, trial.finished_at) == (1, None, None)
        assert trial.started_at is not None
        assert store.trials(sid) == [trial]
        result = Result(
            metrics={"val_accuracy": 91.5, "params": 1234}, cost_s=2.5, info={"epochs": 3}
        )
        done = store.finish_trial(sid, 0, result)
        assert done.state is TrialState.COMPLETE
        assert done.result == result
        assert done.finished_at is not None and done.started_at == trial.started_at
        assert store.trials(sid) == [done]

    def test_finish_returns_what_reads_back(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        info = {"shape": (2, 3), "note": "x", "nested": {"k": [1.5]}}
        done = store.finish_trial(sid, 0, Result(metrics={"val_accuracy": 0.25}, info=info))
        assert store.trials(sid) == [done]

    def test_failed_and_timeout_keep_reason(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        store.create_trial(sid, 1, _candidate(1), asked_after=0)
        store.finish_trial(sid, 0, Result.failed("boom"))
        store.finish_trial(sid, 1, Result.failed("too slow", status=Status.TIMEOUT))
        states = [(t.state, t.result.reason if t.result else None) for t in store.trials(sid)]
        assert states == [(TrialState.FAILED, "boom"), (TrialState.TIMEOUT, "too slow")]

    def test_infeasible_keeps_its_reason_and_cheap_metrics(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        store.create_trial(sid, 1, _candidate(0, 2), asked_after=0)
        result = Result(metrics={"params": 2e5}, status=Status.INFEASIBLE,
                        reason="params = 200000 breaks params <= 100000")
        done = store.finish_trial(sid, 0, result)
        assert done.state is TrialState.INFEASIBLE and done.state.is_finished()
        assert store.trials(sid, states={TrialState.INFEASIBLE}) == [done]
        assert done.violation == "params = 200000 breaks params <= 100000"
        assert done.metrics == {"params": 2e5}
        # an infeasible trial is no stored result to reuse for the same candidate
        assert store.find_complete(sid, _candidate(0)) is None
        with pytest.raises(TrialFinishedError):
            store.finish_trial(sid, 0, _ok())

    def test_trials_in_number_order_and_filtered_by_state(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        for n in (3, 0, 4, 1, 2):
            store.create_trial(sid, n, _candidate(n), asked_after=0)
        store.finish_trial(sid, 0, _ok())
        store.finish_trial(sid, 1, Result.failed("boom"))
        store.finish_trial(sid, 2, Result(status=Status.PRUNED, reason="slow learner"))
        store.finish_trial(sid, 4, _ok())
        assert [t.number for t in store.trials(sid)] == [0, 1, 2, 3, 4]
        assert [t.number for t in store.trials(sid, states={TrialState.COMPLETE})] == [0, 4]
        failed_or_pruned = [TrialState.FAILED, TrialState.PRUNED]
        assert [t.number for t in store.trials(sid, states=failed_or_pruned)] == [1, 2]
        assert [t.number for t in store.trials(sid, states={TrialState.RUNNING})] == [3]
        assert store.trials(sid, states=()) == []

    def test_trials_belong_to_their_study(self, store: Store) -> None:
        a = store.create_study("a", {}, seed=0).id
        b = store.create_study("b", {}, seed=0).id
        store.create_trial(a, 0, _candidate(0), asked_after=0)
        store.create_trial(b, 0, _candidate(1), asked_after=0)  # the same number elsewhere
        store.create_trial(b, 1, _candidate(2), asked_after=0)
        assert [t.candidate for t in store.trials(a)] == [_candidate(0)]
        assert [t.candidate for t in store.trials(b)] == [_candidate(1), _candidate(2)]

    def test_finished_trial_is_immutable(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        store.finish_trial(sid, 0, _ok(1.0))
        with pytest.raises(TrialFinishedError, match=r"Trial#0 .* is already COMPLETE.*immutable"):
            store.finish_trial(sid, 0, _ok(2.0))
        with pytest.raises(TrialFinishedError, match=r"Trial#0 .* is already COMPLETE"):
            store.restart_trial(sid, 0)
        assert store.trials(sid)[0].metrics == {"val_accuracy": 1.0}
        assert store.trials(sid)[0].attempts == 1

    def test_trial_numbers_are_unique(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        first = store.create_trial(sid, 0, _candidate(0), asked_after=0)
        with pytest.raises(DuplicateTrialError, match="Trial#0 already exists in study 's'"):
            store.create_trial(sid, 0, _candidate(1), asked_after=0)
        assert issubclass(DuplicateTrialError, ValueError)
        assert store.trials(sid) == [first]

    def test_told_order_and_asked_after(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        for n in range(3):
            store.create_trial(sid, n, _candidate(n), asked_after=n // 2)
        store.finish_trial(sid, 2, _ok())
        store.mark_told(sid, 2, 0)
        trials = store.trials(sid)
        assert [t.asked_after for t in trials] == [0, 0, 1]
        assert [t.tell_seq for t in trials] == [None, None, 0]

    def test_mark_told_on_finished_trial(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        done = store.finish_trial(sid, 0, _ok(7.0))
        store.mark_told(sid, 0, 5)
        (told,) = store.trials(sid)
        assert told.tell_seq == 5
        assert (told.state, told.result, told.finished_at) == (
            done.state,
            done.result,
            done.finished_at,
        )
        assert done.tell_seq is None  # what was returned before does not change

    def test_restart_counts_attempts(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        first = store.create_trial(sid, 0, _candidate(0), asked_after=0)
        assert first.attempts == 1
        again = store.restart_trial(sid, 0)
        assert again.state is TrialState.RUNNING
        assert again.attempts == 2
        assert again.started_at is not None and first.started_at is not None
        assert again.started_at >= first.started_at
        third = store.restart_trial(sid, 0)
        assert third.attempts == 3
        assert store.trials(sid) == [third]
        done = store.finish_trial(sid, 0, _ok())
        assert done.attempts == 3
        assert store.trials(sid)[0].attempts == 3

    def test_find_complete_matches_arch_and_fidelity(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(5, 10), asked_after=0)
        assert store.find_complete(sid, _candidate(5, 10)) is None  # still running
        store.finish_trial(sid, 0, _ok(50.0))
        found = store.find_complete(sid, _candidate(5, 10))
        assert found is not None and found.number == 0
        assert store.find_complete(sid, _candidate(5, 20)) is None
        assert store.find_complete(sid, _candidate(5)) is None
        assert store.find_complete(sid, _candidate(6, 10)) is None
        other = store.create_study("other", {}, seed=0).id
        assert store.find_complete(other, _candidate(5, 10)) is None

    def test_find_complete_takes_the_first_complete(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        for n in range(4):
            store.create_trial(sid, n, _candidate(1), asked_after=0)
        store.finish_trial(sid, 0, Result.failed("boom"))
        store.finish_trial(sid, 3, _ok(3.0))
        found = store.find_complete(sid, _candidate(1))
        assert found is not None and found.number == 3
        store.finish_trial(sid, 2, _ok(2.0))
        store.mark_told(sid, 2, 0)
        found = store.find_complete(sid, _candidate(1))
        assert found == store.trials(sid)[2]  # the lowest number, as it is now (told)
        assert found is not None and found.tell_seq == 0

    def test_trial_source_round_trip(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        made = store.create_trial(sid, 0, _candidate(0), asked_after=0)
        assert made.source is TrialSource.STRATEGY and made.is_search
        for n, source in enumerate(TrialSource, start=1):
            made = store.create_trial(sid, n, _candidate(n), asked_after=0, source=source.value)
            assert made.source is source
        store.finish_trial(sid, 1, _ok())
        sources = [t.source for t in store.trials(sid)]
        assert sources == [TrialSource.STRATEGY, *TrialSource]
        assert all(type(s) is TrialSource for s in sources)
        assert [t.is_search for t in store.trials(sid)][1:] == [
            s in (TrialSource.STRATEGY, TrialSource.INJECT) for s in TrialSource
        ]

    def test_unknown_trial_source_is_refused(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        with pytest.raises(ValueError, match=r"unknown trial source 'human'.*'retrain'"):
            store.create_trial(sid, 0, _candidate(0), asked_after=0, source="human")
        assert store.trials(sid) == []

    def test_find_complete_ignores_other_sources(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(1, 10), asked_after=0, source=TrialSource.RETRAIN)
        store.finish_trial(sid, 0, _ok(5.0))
        assert store.find_complete(sid, _candidate(1, 10)) is None  # a seed, not a search result
        store.create_trial(sid, 1, _candidate(1, 10), asked_after=0)
        store.finish_trial(sid, 1, _ok(6.0))
        found = store.find_complete(sid, _candidate(1, 10))
        assert found is not None and found.number == 1

    def test_missing_keys(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        with pytest.raises(KeyError, match="Trial#9"):
            store.finish_trial(sid, 9, _ok())
        with pytest.raises(KeyError, match="Trial#9"):
            store.restart_trial(sid, 9)
        with pytest.raises(KeyError, match="Trial#9"):
            store.mark_told(sid, 9, 0)
        with pytest.raises(KeyError, match="no study with id 999"):
            store.create_trial(999, 0, _candidate(0), asked_after=0)
        with pytest.raises(KeyError, match="no study with id 999"):
            store.update_study(999, status="finished")
        with pytest.raises(KeyError, match="no study with id 999"):
            store.add_event(999, EventKind.STOP)
        with pytest.raises(KeyError, match="no event with id 999"):
            store.mark_event_handled(999)
        assert store.trials(999) == []
        assert store.find_complete(999, _candidate(0)) is None
        assert store.pending_events(999) == []

    # -- learning curves --------------------------------------------------------------------
    def test_curve_round_trip(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        store.create_trial(sid, 1, _candidate(1), asked_after=0)
        store.add_curve_values(sid, 1, 0, {"val_accuracy": 10.0, "loss": 2})
        store.add_curve_values(sid, 0, 1, {"val_accuracy": 30.5})
        store.add_curve_values(sid, 0, 0, {"val_accuracy": 20.0})
        assert store.curve(sid, 0) == [
            CurvePoint(0, 0, "val_accuracy", 20.0),
            CurvePoint(0, 1, "val_accuracy", 30.5),
        ]
        assert store.curve(sid, 1) == [
            CurvePoint(1, 0, "loss", 2.0),
            CurvePoint(1, 0, "val_accuracy", 10.0),
        ]
        assert all(type(p.value) is float for p in store.curve(sid, 1))
        assert [tuple(p) for p in store.curves(sid)] == [
            (0, 0, "val_accuracy", 20.0),
            (0, 1, "val_accuracy", 30.5),
            (1, 0, "loss", 2.0),
            (1, 0, "val_accuracy", 10.0),
        ]
        assert store.curve(sid, 7) == [] and store.curves(999) == []

    def test_curve_values_of_a_step_merge_and_replace(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        store.add_curve_values(sid, 0, 3, {"val_accuracy": 1.0})
        store.add_curve_values(sid, 0, 3, {"loss": 0.5})
        store.add_curve_values(sid, 0, 3, {"val_accuracy": 2.0})
        assert [(p.metric, p.value) for p in store.curve(sid, 0)] == [
            ("loss", 0.5),
            ("val_accuracy", 2.0),
        ]

    def test_curve_values_only_while_running(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        store.add_curve_values(sid, 0, 0, {"val_accuracy": 1.0})
        store.finish_trial(sid, 0, _ok())
        with pytest.raises(TrialFinishedError, match=r"Trial#0 .* is already COMPLETE"):
            store.add_curve_values(sid, 0, 1, {"val_accuracy": 2.0})
        with pytest.raises(KeyError, match="Trial#5"):
            store.add_curve_values(sid, 5, 0, {"val_accuracy": 2.0})
        assert store.curve(sid, 0) == [CurvePoint(0, 0, "val_accuracy", 1.0)]

    @pytest.mark.parametrize(
        ("step", "values", "message"),
        [
            (-1, {"val_accuracy": 1.0}, "step must be an int >= 0; got -1"),
            (1.5, {"val_accuracy": 1.0}, "step must be an int >= 0; got 1.5"),
            (2, {"val_accuracy": float("nan")}, "val_accuracy at step 2 is nan"),
            (2, {"val_accuracy": float("inf")}, "val_accuracy at step 2 is inf"),
            (2, {"val_accuracy": "high"}, "val_accuracy at step 2 must be a number; got str"),
            (2, {"": 1.0}, "metric must be a non-empty name"),
        ],
    )
    def test_bad_curve_values_are_refused(
        self, store: Store, step: Any, values: dict[str, Any], message: str
    ) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        with pytest.raises(ValueError, match=message):
            store.add_curve_values(sid, 0, step, values)
        assert store.curve(sid, 0) == []

    def test_restart_replaces_the_curve(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        store.create_trial(sid, 0, _candidate(0), asked_after=0)
        store.create_trial(sid, 1, _candidate(1), asked_after=0)
        for step in range(3):
            store.add_curve_values(sid, 0, step, {"val_accuracy": float(step)})
        store.add_curve_values(sid, 1, 0, {"val_accuracy": 9.0})
        store.restart_trial(sid, 0)
        assert store.curve(sid, 0) == []
        store.add_curve_values(sid, 0, 0, {"val_accuracy": 5.0})
        assert [tuple(p) for p in store.curves(sid)] == [
            (0, 0, "val_accuracy", 5.0),
            (1, 0, "val_accuracy", 9.0),
        ]

    # -- events -----------------------------------------------------------------------------
    def test_events(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        first = store.add_event(sid, "stop", {"why": "test"})
        second = store.add_event(sid, EventKind.STOP)
        assert second > first
        events = store.pending_events(sid)
        assert [(e.id, e.study_id, e.kind, dict(e.payload)) for e in events] == [
            (first, sid, EventKind.STOP, {"why": "test"}),
            (second, sid, EventKind.STOP, {}),
        ]
        store.mark_event_handled(first)
        assert [e.id for e in store.pending_events(sid)] == [second]
        store.mark_event_handled(first)  # twice is harmless
        assert [e.id for e in store.pending_events(sid)] == [second]

    def test_event_kind_round_trip(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        for kind in EventKind:
            store.add_event(sid, kind, EXAMPLE_PAYLOADS[kind])
            store.add_event(sid, kind.value, EXAMPLE_PAYLOADS[kind])
        kinds = [e.kind for e in store.pending_events(sid)]
        assert kinds == [k for k in EventKind for _ in range(2)]
        assert all(type(k) is EventKind for k in kinds)
        assert [dict(e.payload) for e in store.pending_events(sid)][::2] == [
            EXAMPLE_PAYLOADS[k] for k in EventKind
        ]

    def test_unknown_event_is_refused(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        with pytest.raises(UnknownEventError, match=r"unknown event kind 'explode'.*'stop'"):
            store.add_event(sid, "explode", {"why": "test"})
        assert issubclass(UnknownEventError, ValueError)
        assert store.pending_events(sid) == []

    @pytest.mark.parametrize(
        ("kind", "payload", "match"),
        [
            ("stop", {"reason": "x"}, r"bad stop event: reason: Extra inputs"),
            ("forbid", {}, r'bad forbid event: give "op"'),
            ("forbid", {"op": "a", "decision": "d", "value": "b"}, r"not both"),
            ("pin", {"decision": "d"}, r'"decision": NAME with "value"'),
            ("inject", {}, r"bad inject event: arch: Field required"),
            ("budget", {}, r"give at least one of trials, minutes or cost_s"),
            ("budget", {"trials": 0}, r"trials: Input should be greater than or equal to 1"),
            ("budget", {"trials": "many"}, r"trials: Input should be a valid integer"),
        ],
    )
    def test_bad_event_payload_is_refused(
        self, store: Store, kind: str, payload: dict[str, Any], match: str
    ) -> None:
        sid = store.create_study("s", {}, seed=0).id
        with pytest.raises(EventPayloadError, match=match):
            store.add_event(sid, kind, payload)
        assert store.pending_events(sid) == [] and store.events(sid) == []

    def test_handled_events_keep_where_they_took_effect(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        first = store.add_event(sid, "forbid", {"op": "conv"})
        second = store.add_event(sid, "pause")
        third = store.add_event(sid, "inject", {"arch": "op=conv"})
        store.mark_event_handled(first, applied_at=4)
        store.mark_event_handled(second)
        store.mark_event_handled(first, applied_at=9)  # the first acknowledgement is kept
        events = store.events(sid)
        assert [(e.id, e.applied_at, e.handled_at is not None) for e in events] == [
            (first, 4, True), (second, None, True), (third, None, False)
        ]
        assert [e.id for e in store.pending_events(sid)] == [third]
        assert store.events(999) == []

    def test_events_belong_to_their_study(self, store: Store) -> None:
        a = store.create_study("a", {}, seed=0).id
        b = store.create_study("b", {}, seed=0).id
        event = store.add_event(a, EventKind.STOP)
        assert store.pending_events(b) == []
        assert [e.id for e in store.pending_events(a)] == [event]

    # -- threads ----------------------------------------------------------------------------
    def test_threads_share_a_store(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        n_threads, per_thread = 4, 25
        errors: list[BaseException] = []

        def work(start: int) -> None:
            try:
                for n in range(start, start + per_thread):
                    store.create_trial(sid, n, _candidate(n), asked_after=0)
                    store.finish_trial(sid, n, _ok(float(n)))
                    store.mark_told(sid, n, n)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i * per_thread,)) for i in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        trials = store.trials(sid)
        assert [t.number for t in trials] == list(range(n_threads * per_thread))
        assert all(t.state is TrialState.COMPLETE and t.tell_seq == t.number for t in trials)

    def test_one_thread_wins_a_duplicate_number(self, store: Store) -> None:
        sid = store.create_study("s", {}, seed=0).id
        outcomes: list[str] = []
        barrier = threading.Barrier(4)

        def work(i: int) -> None:
            barrier.wait()
            try:
                store.create_trial(sid, 0, _candidate(i), asked_after=0)
                outcomes.append("created")
            except DuplicateTrialError:
                outcomes.append("duplicate")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]
        assert len(store.trials(sid)) == 1
