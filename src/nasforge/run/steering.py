"""Steering a running study: events a human (or a script) writes, applied between trials.

The front doors (``nasforge steer``, :meth:`Study.steer <nasforge.run.study.Study.steer>`, the
dashboard's ``POST /api/studies/NAME/events``) all call :func:`add_steering_event`: the payload's
shape is checked by the store (:func:`~nasforge.store.base.checked_payload`), and what needs the
space here (a forbid that names an unknown decision or empties one, an injected architecture
that is not in the space), before anything is written.

The running study's loop owns one :class:`Steering`. Between trials it reads the pending events
(:meth:`Steering.read`) and acknowledges each with the trial number from which it took effect
(``applied_at``). Those numbers make steering replayable: a resume rebuilds the same restrictions
and injections from the handled events (:meth:`Steering.restore`), and :meth:`Steering.ask`
applies them before the same asks, so a replayed strategy asks what it asked the first time.

- ``pause``/``resume``: no new trial starts while paused; running ones finish.
- ``stop``: finish the running trials, start no new one, end the session.
- ``forbid``/``pin``: the strategy's space becomes a
  :class:`~nasforge.space.restricted.RestrictedSpace` from that trial on. A strategy that
  samples from its own copy of the decisions (REINFORCE, Optuna's samplers) may still propose a
  forbidden choice: such a proposal has its forbidden choices redrawn inside the view (from the
  trial's own random stream, so a replay redraws the same), and the strategy is told the trial
  that ran (a strategy that learns only from its own asks, ``learns_unasked = False``, is told
  the result under the candidate it proposed, so its bookkeeping holds).
- ``inject``: the architecture becomes the next trial (source ``inject``), ahead of the
  strategy's proposals, and is told to the strategy like any result (except to strategies that
  learn only from their own asks, ``Strategy.learns_unasked = False``: Optuna's samplers and
  the multi-fidelity ones; the trial is stored and ranked all the same).
- ``budget``: the budget's ``trials``/``minutes``/``cost_s`` become the given values (totals for
  the study, as in the run spec); the stored spec changes with them, so a resume keeps them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError, InvalidArchitectureError, Problem
from nasforge.rng import trial_rng
from nasforge.space.restricted import RestrictedSpace, Restriction
from nasforge.store.base import Event, EventKind, checked_payload
from nasforge.trial import Candidate, Trial, TrialSource

if TYPE_CHECKING:
    from nasforge.run.spec import RunSpec
    from nasforge.space.base import SearchSpace
    from nasforge.store.base import Store
    from nasforge.strategy.base import Strategy

log = logging.getLogger(__name__)

CHOICE_KINDS = (EventKind.FORBID, EventKind.PIN)
"""The kinds that restrict the space."""


def restrict(restriction: Restriction, kind: EventKind, payload: Mapping[str, Any]) -> Restriction:
    """``restriction`` with one checked forbid/pin payload added."""
    add = restriction.forbid if kind is EventKind.FORBID else restriction.pin
    if "op" in payload:
        return add(payload["op"])
    return add(payload["value"], payload["decision"])


def restriction_of(events: Iterable[Event]) -> Restriction:
    """The restriction the forbid/pin ``events`` make, in their order (those the study refused
    when it read them left out)."""
    restriction = Restriction()
    for event in events:
        refused = event.handled_at is not None and event.applied_at is None
        if event.kind in CHOICE_KINDS and not refused:
            restriction = restrict(restriction, event.kind, event.payload)
    return restriction


def injected_arch(space: SearchSpace, payload: Mapping[str, Any]) -> Candidate:
    """The candidate an inject payload names (its ``arch`` as text or a mapping)."""
    from nasforge.architecture import Architecture

    arch = payload["arch"]
    parsed = space.parse(arch) if isinstance(arch, str) else Architecture(arch)
    space.validate(parsed)
    return Candidate(parsed, payload.get("fidelity"))


def add_steering_event(
    store: Store, study_id: int, space: SearchSpace, kind: EventKind | str,
    payload: Mapping[str, Any] | None = None,
) -> int:
    """Check a steering event against the study's space, then store it; returns its id.

    Raises:
        UnknownEventError: ``kind`` is not a steering kind.
        EventPayloadError: the payload has the wrong shape for its kind.
        ConfigError: a forbid/pin names a decision or option the space lacks, or leaves a
            decision with no option (naming it); an injected architecture is not in the space.
    """
    checked_kind = EventKind(kind)
    data = checked_payload(checked_kind, payload or {})
    if checked_kind in CHOICE_KINDS:
        earlier = restriction_of(store.events(study_id))
        RestrictedSpace(space=space, restriction=restrict(earlier, checked_kind, data))
    elif checked_kind is EventKind.INJECT:
        try:
            injected_arch(space, data)
        except (InvalidArchitectureError, TypeError, ValueError) as exc:
            raise ConfigError([Problem("inject", f"the architecture is not in the space: {exc}",
                                       "give its human form, e.g. the one `nasforge show` "
                                       "prints, or its canonical JSON")]) from None
    return store.add_event(study_id, checked_kind, data)


def study_space(spec: RunSpec, where: str) -> SearchSpace:
    """A stored study's search space, built from its spec alone (no task is loaded), for the
    checks of :func:`add_steering_event` outside the running process.

    Raises:
        ConfigError: the space cannot be built (a plugin it needs is missing, say).
    """
    from nasforge.run.parts import registries
    from nasforge.run.study import import_plugins

    import_plugins(spec.plugins, where=where)
    section = spec.space
    return registries()["space"].create(section.name, section.params, field="space")


def steer(directory: str | Path, kind: EventKind | str, /, **payload: Any) -> int:
    """Steer the study in ``directory``: running now (in any process) or at its next resume.

    The Python front door of ``nasforge steer``; :meth:`Study.steer
    <nasforge.run.study.Study.steer>` does the same on an open study. Returns the event's id.

    Example:
        >>> nf.steer("runs/demo", "forbid", op="avg_pool_3x3")            # doctest: +SKIP
        >>> nf.steer("runs/demo", "pin", decision="cell.edge_1_0", value="nor_conv_3x3")
        ... # doctest: +SKIP
        >>> nf.steer("runs/demo", "inject", arch="|nor_conv_3x3~0|+|...|")  # doctest: +SKIP
        >>> nf.steer("runs/demo", "budget", trials=200)                    # doctest: +SKIP
        >>> nf.steer("runs/demo", "pause")                                 # doctest: +SKIP

    Raises:
        StudyNotFoundError: ``directory`` holds no study.
        UnknownEventError, EventPayloadError, ConfigError: see :func:`add_steering_event`.
    """
    from nasforge.errors import StudyNotFoundError
    from nasforge.run.spec import parse_spec
    from nasforge.run.study import DB_NAME
    from nasforge.store.sqlite import SQLiteStore

    db = Path(directory) / DB_NAME
    if not db.is_file():
        raise StudyNotFoundError(f"no study in {directory} (expected {db}); `nasforge ls` "
                                 "lists the studies under a folder")
    store = SQLiteStore(db)
    try:
        studies = store.studies()
        if not studies:
            raise StudyNotFoundError(f"{db} holds no study")
        record = studies[0]
        space = study_space(parse_spec(record.spec, source=str(db), check=False), str(directory))
        return add_steering_event(store, record.id, space, kind, payload)
    finally:
        store.close()


class Steering:
    """The loop's steering state, rebuilt from the store's handled events on resume.

    Args:
        store: the study's store; ``study_id`` its id there.
        space: the study's full space (the strategy sees a view of it once restricted).
        strategy: the study's strategy, already set up.
        seed: the study's seed (the stream that redraws a forbidden proposal).
    """

    def __init__(self, store: Store, study_id: int, space: SearchSpace, strategy: Strategy,
                 seed: int) -> None:
        self.store = store
        self.study_id = study_id
        self.space = space
        self.strategy = strategy
        self.seed = seed
        self.paused = False
        self.stop_requested = False
        self.budget: dict[str, Any] | None = None  # a budget event's fields, until applied
        self._schedule: list[tuple[int, EventKind, Mapping[str, Any]]] = []  # forbid/pin
        self._applied = 0  # how many of the schedule the strategy's space has
        self._view: RestrictedSpace | None = None
        self.injected: dict[int, Candidate] = {}  # trial number -> injected candidate
        self._proposed: dict[int, Candidate] = {}  # number -> a proposal redrawn in the view

    # -- what the loop asks -----------------------------------------------------------------
    def ask(self, number: int) -> Candidate | None:
        """Trial ``number``'s candidate: an injected one, else the strategy's, inside the
        restricted space (restrictions taking effect at ``number`` are given to the strategy
        first)."""
        self._restrict_until(number)
        injected = self.injected.get(number)
        if injected is not None:
            return injected
        candidate = self.strategy.ask(number)
        view = self._view
        if candidate is None or view is None or view.contains(candidate.arch):
            return candidate
        # redraw the forbidden choices from this trial's own stream (the same on replay)
        arch = view.mutate(candidate.arch, trial_rng(self.seed, number, "steer"))
        self._proposed[number] = candidate
        return Candidate(arch, candidate.fidelity)

    def source(self, number: int) -> TrialSource:
        """Who made trial ``number``: ``inject`` or ``strategy``."""
        return TrialSource.INJECT if number in self.injected else TrialSource.STRATEGY

    def _restrict_until(self, number: int) -> None:
        if self._applied == len(self._schedule) or self._schedule[self._applied][0] > number:
            return
        restriction = self._view.restriction if self._view is not None else Restriction()
        while self._applied < len(self._schedule) and self._schedule[self._applied][0] <= number:
            _, kind, payload = self._schedule[self._applied]
            restriction = restrict(restriction, kind, payload)
            self._applied += 1
        self._view = RestrictedSpace(space=self.space, restriction=restriction)
        self.strategy.space = self._view
        log.info("from Trial#%d the strategy samples from %r", number, self._view)

    def tell(self, trial: Trial) -> None:
        """Tell the strategy a finished trial of the search: injected ones too, unless the
        strategy cannot learn from trials it did not ask (``learns_unasked``)."""
        if not self.strategy.learns_unasked:
            if trial.number in self.injected:
                log.info("%s was injected: %s learns only from its own asks, so it is not told",
                         trial.label, type(self.strategy).__name__)
                return
            proposed = self._proposed.get(trial.number)
            if proposed is not None:  # its bookkeeping knows the candidate it proposed
                trial = dataclasses.replace(trial, candidate=proposed)
        self.strategy.tell(trial)

    # -- events -----------------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuild the restrictions and injections from the handled events (on resume)."""
        for event in self.store.events(self.study_id):
            if event.handled_at is None or event.applied_at is None:
                continue
            if event.kind in CHOICE_KINDS:
                self._schedule.append((event.applied_at, event.kind, event.payload))
            elif event.kind is EventKind.INJECT:
                self.injected[event.applied_at] = injected_arch(self.space, event.payload)
        self._schedule.sort(key=lambda s: s[0])  # applied as the replay reaches them

    def read(self, next_number: int) -> None:
        """Apply the pending events; ``next_number`` is the trial the loop asks next."""
        for event in self.store.pending_events(self.study_id):
            applied_at: int | None = next_number
            kind = event.kind
            try:
                if kind is EventKind.STOP:
                    self.stop_requested = True
                elif kind is EventKind.PAUSE:
                    self.paused = True
                elif kind is EventKind.RESUME:
                    self.paused = False
                elif kind in CHOICE_KINDS:
                    # checked when written; again against every scheduled step, as two
                    # writers may have raced
                    restriction = Restriction()
                    for _, earlier, payload in self._schedule:
                        restriction = restrict(restriction, earlier, payload)
                    RestrictedSpace(space=self.space,
                                    restriction=restrict(restriction, kind, event.payload))
                    self._schedule.append((next_number, kind, event.payload))
                elif kind is EventKind.INJECT:
                    candidate = injected_arch(self.space, event.payload)
                    applied_at = next_number
                    while applied_at in self.injected:
                        applied_at += 1
                    self.injected[applied_at] = candidate
                elif kind is EventKind.BUDGET:
                    self.budget = {**(self.budget or {}), **event.payload}
            except (ConfigError, InvalidArchitectureError, TypeError, ValueError) as exc:
                log.warning("ignored %s event %d: %s", kind.value, event.id, exc)
                applied_at = None
            self.store.mark_event_handled(event.id, applied_at=applied_at)
            if applied_at is not None:
                log.info("applied %s %s from Trial#%d", kind.value, dict(event.payload),
                         applied_at)

    def take_budget(self) -> dict[str, Any] | None:
        """The budget fields a budget event set since the last call (``None``: no change)."""
        budget, self.budget = self.budget, None
        return budget
