"""`Store`: every study and trial, written as it happens, so nothing is lost when a run dies.

Contract (kept by every store):
- a trial row is created RUNNING **before** its evaluation starts and finished **after** it ends;
  every state change is one transaction;
- a finished trial is never written again (:class:`TrialFinishedError`), except that
  :meth:`Store.mark_told` records when the strategy learnt of it;
- reports, the CLI and the dashboard only read the store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from nasforge.trial import Candidate, Result, Trial, TrialState


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


@dataclass(frozen=True)
class Event:
    """A steering instruction for a running study (e.g. ``stop``), read between trials."""

    id: int
    study_id: int
    kind: str
    payload: Mapping[str, Any]
    created_at: float


class Store(ABC):
    """Where studies, trials and steering events live."""

    @abstractmethod
    def create_study(self, name: str, spec: Mapping[str, Any], seed: int) -> StudyRecord: ...

    @abstractmethod
    def get_study(self, name: str) -> StudyRecord | None: ...

    @abstractmethod
    def studies(self) -> list[StudyRecord]: ...

    @abstractmethod
    def update_study(
        self,
        study_id: int,
        *,
        status: str | None = None,
        elapsed_s: float | None = None,
        spec: Mapping[str, Any] | None = None,
    ) -> None:
        """Change a study's status, elapsed time or (on resume with new settings) its spec."""

    @abstractmethod
    def create_trial(
        self,
        study_id: int,
        number: int,
        candidate: Candidate,
        *,
        asked_after: int,
        source: str = "strategy",
    ) -> Trial: ...

    @abstractmethod
    def restart_trial(self, study_id: int, number: int) -> Trial:
        """Mark a RUNNING trial left by a dead process as started again (resume)."""

    @abstractmethod
    def finish_trial(self, study_id: int, number: int, result: Result) -> Trial: ...

    @abstractmethod
    def mark_told(self, study_id: int, number: int, tell_seq: int) -> None: ...

    @abstractmethod
    def trials(self, study_id: int, *, states: Container[TrialState] | None = None) -> list[Trial]:
        """Trials of a study in number order, optionally only those in ``states``."""

    @abstractmethod
    def find_complete(self, study_id: int, candidate: Candidate) -> Trial | None:
        """A COMPLETE trial of this study with the same architecture and fidelity, if any."""

    @abstractmethod
    def add_event(
        self, study_id: int, kind: str, payload: Mapping[str, Any] | None = None
    ) -> int: ...

    @abstractmethod
    def pending_events(self, study_id: int) -> list[Event]: ...

    @abstractmethod
    def mark_event_handled(self, event_id: int) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""
