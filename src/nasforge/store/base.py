"""`Store`: every study and trial, written as it happens, so nothing is lost when a run dies.

The study loop is typed against :class:`Store`; :class:`~nasforge.store.sqlite.SQLiteStore` (the
default) and :class:`~nasforge.store.memory.InMemoryStore` implement it, and both pass the shipped
:class:`~nasforge.testing.store_contract.StoreContract`. Reports, the CLI and the dashboard only
read a store; the dashboard's one write is :meth:`Store.add_event`.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import math
import numbers
import os
import sqlite3
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Container, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nasforge.errors import NasforgeError, TrialFinishedError, UnknownEventError
from nasforge.trial import Candidate, Result, Trial, TrialSource, TrialState

WriteCause = Literal["full", "read-only", "io"]

# SQLite's primary result codes that mean "the file could not be written" (not a bad file).
_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY, _SQLITE_CANTOPEN = 13, 10, 8, 14
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class StoreWriteError(NasforgeError, OSError):
    """A study's file could not be written: the disk is full, the study folder became read-only,
    or the disk failed. The store is left as it was before the failed write (each write is one
    transaction), so the study can be resumed once the cause is gone.

    Attributes:
        path: the file that could not be written.
        cause: ``"full"``, ``"read-only"`` or ``"io"``.
    """

    def __init__(self, message: str, *, path: str, cause: WriteCause) -> None:
        super().__init__(message)
        self.path = path
        self.cause = cause

    def __str__(self) -> str:  # OSError's own __str__ would print "[Errno ...]" forms
        return str(self.args[0])


def is_write_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says a file could not be written (full disk, read-only or failing
    filesystem) rather than that it is damaged or wrong."""
    if isinstance(exc, StoreWriteError):
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in (
            _SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY, _SQLITE_CANTOPEN)
    return isinstance(exc, OSError) and exc.errno in (*_FULL_ERRNOS, errno.EROFS, errno.EIO)


def probe_write(path: Path) -> int | None:
    """Try a small write beside ``path`` (in its nearest existing folder): the errno it fails
    with (``EROFS``, ``ENOSPC``), or ``None`` when it works. The mount flags do not tell: a disk
    that an error made read-only (ext4 ``errors=remount-ro``) still shows as mounted ``rw``."""
    folder = next((p for p in (path, *path.parents) if p.is_dir()), None)
    if folder is None:
        return None
    try:
        fd, name = tempfile.mkstemp(prefix=".nasforge-probe-", dir=folder)
    except OSError as exc:
        return exc.errno
    try:
        os.write(fd, b"\0" * 4096)
        os.fsync(fd)
    except OSError as exc:
        return exc.errno
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)
    return None


def write_failure(path: str | os.PathLike[str], exc: BaseException, *,
                  resume: str) -> StoreWriteError:
    """The clear error for a failed write of ``path``: what happened and how to go on.

    Args:
        path: the file being written (``study.db``, ``summary.json``, a trial's folder).
        exc: the ``OSError`` or ``sqlite3.Error`` the write raised.
        resume: how to continue once the cause is gone (e.g. ``"run `nasforge resume DIR`"``).
    """
    if isinstance(exc, StoreWriteError):
        return exc
    where = Path(path)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    number = exc.errno if isinstance(exc, OSError) else None
    cause: WriteCause
    if primary == _SQLITE_FULL or number in _FULL_ERRNOS:
        cause = "full"
    elif number == errno.EROFS:
        cause = "read-only"
    else:  # SQLite says "disk I/O error" for both: a small write beside the file tells
        probed = probe_write(where)
        cause = ("read-only" if probed == errno.EROFS
                 else "full" if probed in _FULL_ERRNOS else "io")
    folder, what = where.parent, str(where)
    if where.is_dir():  # a write whose file the OSError does not name (a report's contents)
        folder, what = where, f"into {where}"
    if cause == "full":
        message = f"disk full while writing {what}: free space on that disk and {resume}"
    elif cause == "read-only":
        message = (f"the study folder {folder} is read-only (writing {what} failed): make "
                   f"it writable again (e.g. remount its disk read-write) and {resume}")
    else:
        detail = getattr(exc, "strerror", None) or str(exc)
        message = (f"could not write {what} ({detail}): check the disk holding {folder} and "
                   f"{resume}")
    return StoreWriteError(message, path=str(where), cause=cause)


@dataclass(frozen=True)
class StudyRecord:
    """One stored study: its name, the run spec it was started with, and its status."""

    id: int
    name: str
    spec: Mapping[str, Any]
    seed: int
    status: str
    created_at: float
    elapsed_s: float


class CurvePoint(NamedTuple):
    """One intermediate value of a trial's learning curve: ``metric`` was ``value`` at ``step``."""

    trial: int
    step: int
    metric: str
    value: float


def checked_curve_values(step: Any, values: Mapping[str, Any]) -> dict[str, float]:
    """``values`` as ``{metric: float}`` for :meth:`Store.add_curve_values`, or a ValueError
    naming the step or metric that is wrong (a negative or non-integer step, an empty metric
    name, a value that is not a finite number)."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"a curve step must be an int >= 0; got {step!r}")
    checked: dict[str, float] = {}
    for metric, value in values.items():
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"a curve metric must be a non-empty name; got {metric!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(
                f"{metric} at step {step} must be a number; got {type(value).__name__}"
            )
        if not math.isfinite(value):
            raise ValueError(f"{metric} at step {step} is {value!r}, not a finite number")
        checked[metric] = float(value)
    return checked


RESTART_WHY = "only a RUNNING trial can be restarted"
FINISH_WHY = "finished trials are immutable"
CURVE_WHY = "curve values are stored only while a trial runs"
"""Why a write needs a RUNNING trial, as :func:`require_running` says it."""


def require_running(label: str, state: TrialState, why: str) -> None:
    """Raise :class:`~nasforge.errors.TrialFinishedError` for a write to a finished trial: the
    one message every store gives, e.g. ``Trial#3 (…) is already COMPLETE; <why>``."""
    if state.is_finished():
        raise TrialFinishedError(f"{label} is already {state.value}; {why}")


class EventKind(enum.StrEnum):
    """The kinds of steering event a study reads between trials (see
    :mod:`nasforge.run.steering`); each has the payload :data:`PAYLOADS` describes.

    ``EventKind(value)`` of a value that is not a kind raises :class:`UnknownEventError` (a
    ``ValueError``) naming the valid kinds, so a store refuses an unknown kind when it is written.

    Example:
        >>> EventKind("stop") is EventKind.STOP
        True
    """

    STOP = "stop"
    """Finish the running trials, start no new one, and end the session."""
    PAUSE = "pause"
    """Start no new trial until a ``resume`` (running trials finish)."""
    RESUME = "resume"
    """Start trials again after a ``pause``."""
    FORBID = "forbid"
    """Never propose a choice again: ``{"op": V}`` in every decision, or ``{"decision": D,
    "value": V}`` in one."""
    PIN = "pin"
    """Propose only one choice from now on: ``{"decision": D, "value": V}`` (or ``{"op": V}``:
    every decision offering ``V`` takes it)."""
    INJECT = "inject"
    """Evaluate an architecture next: ``{"arch": "<its human or canonical form>"}``."""
    BUDGET = "budget"
    """Change the budget: ``{"trials": N}``, ``{"minutes": M}`` and/or ``{"cost_s": S}``, as
    totals for the study like the run spec's ``budget``."""

    @classmethod
    def _missing_(cls, value: object) -> EventKind:
        valid = ", ".join(repr(k.value) for k in cls)
        raise UnknownEventError(f"unknown event kind {value!r}; the valid kinds are: {valid}")


class EventPayloadError(NasforgeError, ValueError):
    """An event's payload does not fit its kind; the message names the field and the fix."""


class _Note(BaseModel):
    """stop, pause, resume: an optional note saying why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    why: str | None = None


class _Choice(BaseModel):
    """forbid, pin: an operation everywhere (``op``) or one decision's choice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: str | int | float | bool | None = None
    decision: str | None = Field(default=None, min_length=1)
    value: str | int | float | bool | None = None

    @model_validator(mode="after")
    def _one_form(self) -> _Choice:
        if self.op is not None and (self.decision is not None or self.value is not None):
            raise ValueError('give either "op" or "decision" with "value", not both')
        if self.op is None and (self.decision is None or self.value is None):
            raise ValueError('give "op": VALUE (every decision offering it) or "decision": '
                             'NAME with "value": VALUE')
        return self


class _Inject(BaseModel):
    """inject: an architecture as text (human or canonical form) or a decision mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: str | dict[str, str | int | float | bool] = Field(min_length=1)
    fidelity: int | float | None = Field(default=None, gt=0)


class _Budget(BaseModel):
    """budget: new totals, at least one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trials: int | None = Field(default=None, ge=1)
    minutes: float | None = Field(default=None, gt=0)
    cost_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _some(self) -> _Budget:
        if self.trials is None and self.minutes is None and self.cost_s is None:
            raise ValueError("give at least one of trials, minutes or cost_s (e.g. trials=200)")
        return self


PAYLOADS: dict[EventKind, type[BaseModel]] = {
    EventKind.STOP: _Note, EventKind.PAUSE: _Note, EventKind.RESUME: _Note,
    EventKind.FORBID: _Choice, EventKind.PIN: _Choice, EventKind.INJECT: _Inject,
    EventKind.BUDGET: _Budget,
}
"""The payload model of each kind (pydantic; unknown fields are refused)."""


def checked_payload(kind: EventKind | str, payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """``payload`` checked against ``kind``'s model, as the JSON-able dict a store writes
    (fields left out stay out).

    Raises:
        UnknownEventError: ``kind`` is not an :class:`EventKind`.
        EventPayloadError: a field is unknown, missing or of the wrong type (each named).

    Example:
        >>> checked_payload("forbid", {"op": "avg_pool_3x3"})
        {'op': 'avg_pool_3x3'}
    """
    checked = EventKind(kind)
    if payload is not None and not isinstance(payload, Mapping):
        raise EventPayloadError(f"a {checked.value} event's payload must be a JSON object; got "
                                f"{type(payload).__name__}")
    try:
        model = PAYLOADS[checked].model_validate(dict(payload or {}))
    except ValidationError as exc:
        problems = "; ".join(
            (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise EventPayloadError(f"bad {checked.value} event: {problems}") from None
    return model.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class Event:
    """A steering instruction for a running study (e.g. ``stop``), read between trials.

    ``handled_at`` is when the study read it (``None`` while pending); ``applied_at`` the trial
    number from which it took effect (``None`` for one refused when read, or still pending), so
    a resume applies it at the same place again.
    """

    id: int
    study_id: int
    kind: EventKind
    payload: Mapping[str, Any]
    created_at: float
    handled_at: float | None = None
    applied_at: int | None = None


class Store(ABC):
    """Where studies, trials and steering events live.

    The loop calls, for each trial: :meth:`create_trial` (RUNNING) **before** its evaluation is
    submitted, :meth:`finish_trial` **after** its result comes back, then :meth:`mark_told` once
    the strategy has been told; between trials it reads :meth:`pending_events` and acknowledges
    each with :meth:`mark_event_handled`, saying from which trial it took effect. While a trial
    runs, each value its evaluation reports is stored with :meth:`add_curve_values` (its
    learning curve, read back with :meth:`curve` and :meth:`curves`). On resume it reads
    :meth:`trials` once to replay them, calls :meth:`restart_trial` for each RUNNING trial a
    dead process left behind, and reads the handled :meth:`events` to steer as before.

    Every store keeps this contract (checked by
    :class:`~nasforge.testing.store_contract.StoreContract`):

    - **One transaction per state change.** Each writing method changes the store atomically:
      after a crash, either all of its change is there or none of it is.
    - **A finished trial is immutable.** :meth:`finish_trial` and :meth:`restart_trial` of a
      trial that is no longer RUNNING raise :class:`~nasforge.errors.TrialFinishedError`; the one
      write allowed afterwards is :meth:`mark_told`, which records when the strategy learnt of it.
      Curve values are written only while a trial is RUNNING; restarting a trial drops the
      values its earlier attempt reported, so a resumed trial's curve is never duplicated.
    - **Unique numbers.** A trial number exists once per study
      (:class:`~nasforge.errors.DuplicateTrialError`).
    - **Thread safety.** Every method may be called from several threads of one process; calls
      are serialised. (Whether several *processes* may share a store is up to the store:
      SQLite allows it, the in-memory store is one process's own.)
    - **Snapshots.** Returned :class:`StudyRecord`, :class:`~nasforge.trial.Trial` and
      :class:`Event` objects are frozen: a later change to the store shows in objects read later,
      never in those already returned. Callers must not mutate the mappings inside them
      (``spec``, ``metrics``, ``info``, ``payload``): a store may share them between reads.
    - **Missing keys.** A write naming a study id, trial number or event id that does not exist
      raises ``KeyError``; a read of an unknown study returns nothing (``[]`` or ``None``).
    - **Order.** :meth:`trials` is in trial-number order, :meth:`studies` and
      :meth:`pending_events` in creation order.
    - **Cost.** The per-trial methods (all but :meth:`trials` and :meth:`studies`) take time that
      does not grow with the number of trials stored, so a long study does not slow its own loop.
    """

    # -- studies ----------------------------------------------------------------------------
    @abstractmethod
    def create_study(self, name: str, spec: Mapping[str, Any], seed: int) -> StudyRecord:
        """Store a new study, status ``created``.

        Args:
            name: unique among the studies of this store.
            spec: the run spec, as JSON-able data.
            seed: the study's seed.

        Raises:
            NasforgeError: a study with this name already exists.
        """

    @abstractmethod
    def get_study(self, name: str) -> StudyRecord | None:
        """The study named ``name``, or ``None``."""

    @abstractmethod
    def studies(self) -> list[StudyRecord]:
        """All studies, in creation order."""

    @abstractmethod
    def update_study(
        self,
        study_id: int,
        *,
        status: str | None = None,
        elapsed_s: float | None = None,
        spec: Mapping[str, Any] | None = None,
    ) -> None:
        """Change a study's status, elapsed time or (on resume with new settings) its spec.

        Arguments left at ``None`` are kept. Raises ``KeyError`` for an unknown study.
        """

    # -- trials -----------------------------------------------------------------------------
    @abstractmethod
    def create_trial(
        self,
        study_id: int,
        number: int,
        candidate: Candidate,
        *,
        asked_after: int,
        source: TrialSource | str = TrialSource.STRATEGY,
    ) -> Trial:
        """Store a RUNNING trial, before its evaluation starts.

        Args:
            study_id: the study it belongs to.
            number: its 0-based position in the study, in ask order.
            candidate: what the strategy proposed.
            asked_after: how many results the strategy had been told when it proposed it.
            source: who made it, a :class:`~nasforge.trial.TrialSource` or its value
                (``"retrain"``); ``strategy`` by default.

        Returns:
            The stored trial (``attempts == 1``, ``started_at`` set, ``source`` as given).

        Raises:
            DuplicateTrialError: the study already has a trial with this number.
            ValueError: ``source`` is not a :class:`~nasforge.trial.TrialSource`; nothing is
                stored.
            KeyError: no study has this id.
        """

    @abstractmethod
    def restart_trial(self, study_id: int, number: int) -> Trial:
        """Mark a RUNNING trial left by a dead process as started again (resume).

        Returns:
            The trial with ``attempts`` one higher and a new ``started_at``.

        Raises:
            TrialFinishedError: the trial is already finished.
            KeyError: the study has no such trial.
        """

    @abstractmethod
    def finish_trial(self, study_id: int, number: int, result: Result) -> Trial:
        """Store a RUNNING trial's result; its state follows from ``result.status``.

        Returns:
            The finished trial, equal to what :meth:`trials` reads back for it.

        Raises:
            TrialFinishedError: the trial is already finished (finished trials are immutable).
            KeyError: the study has no such trial.
        """

    @abstractmethod
    def mark_told(self, study_id: int, number: int, tell_seq: int) -> None:
        """Record that the strategy was told this trial's result as its ``tell_seq``-th tell.

        Allowed on finished trials (it is the one write they accept). Raises ``KeyError`` when the
        study has no such trial.
        """

    @abstractmethod
    def trials(self, study_id: int, *, states: Container[TrialState] | None = None) -> list[Trial]:
        """Trials of a study in number order, optionally only those in ``states``."""

    @abstractmethod
    def find_complete(self, study_id: int, candidate: Candidate) -> Trial | None:
        """The lowest-numbered COMPLETE ``strategy`` trial of this study with the same
        architecture and fidelity, if any (a retrained seed is not a search result to reuse)."""

    # -- learning curves --------------------------------------------------------------------
    @abstractmethod
    def add_curve_values(
        self, study_id: int, number: int, step: int, values: Mapping[str, float]
    ) -> None:
        """Store the intermediate ``values`` (metric -> float) a RUNNING trial reported at
        ``step``, in one transaction.

        A metric reported again at the same step replaces its earlier value; other metrics of
        that step are kept.

        Raises:
            ValueError: a negative or non-integer step, or a value that is not a finite number
                (:func:`checked_curve_values`); nothing is stored.
            TrialFinishedError: the trial is no longer RUNNING.
            KeyError: the study has no such trial.
        """

    @abstractmethod
    def curve(self, study_id: int, number: int) -> list[CurvePoint]:
        """One trial's learning curve, by step then metric name (``[]`` if none)."""

    @abstractmethod
    def curves(self, study_id: int) -> list[CurvePoint]:
        """Every learning curve of a study, by trial number, step, then metric name."""

    # -- events -----------------------------------------------------------------------------
    @abstractmethod
    def add_event(
        self, study_id: int, kind: EventKind | str, payload: Mapping[str, Any] | None = None
    ) -> int:
        """Store a steering event for a study to read between trials.

        Args:
            study_id: the study it is for.
            kind: an :class:`EventKind` or its value (``"stop"``).
            payload: JSON-able details fitting the kind (:func:`checked_payload`), ``{}`` by
                default.

        Returns:
            The event's id, for :meth:`mark_event_handled`.

        Raises:
            UnknownEventError: ``kind`` is not an :class:`EventKind`; nothing is stored.
            EventPayloadError: the payload does not fit the kind; nothing is stored.
            KeyError: no study has this id.
        """

    @abstractmethod
    def pending_events(self, study_id: int) -> list[Event]:
        """The study's events not yet handled, oldest first."""

    @abstractmethod
    def events(self, study_id: int) -> list[Event]:
        """Every event of the study, handled or not, oldest first (a resume replays the
        handled ones; reports show them all)."""

    @abstractmethod
    def mark_event_handled(self, event_id: int, *, applied_at: int | None = None) -> None:
        """Mark an event handled, so :meth:`pending_events` no longer returns it.

        Args:
            event_id: the event.
            applied_at: the trial number from which it took effect (``None``: it was refused).

        Handling an event twice is harmless (the first acknowledgement is kept). Raises
        ``KeyError`` for an unknown event id.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. The store is not used afterwards."""
