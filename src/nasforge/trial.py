"""Value objects that travel along one trial's path: `Candidate` → `Result` → `Trial`.

All are frozen dataclasses. A finished :class:`Trial` is never written again.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nasforge.architecture import Architecture

VIOLATED = "violated"
"""The key of ``Result.info`` that names the constraint a trained (COMPLETE) result broke; such a
trial is infeasible: strategies score it like a failure and it never ranks or is best."""


@dataclass(frozen=True)
class Candidate:
    """What a strategy proposes: an architecture and the fidelity (e.g. epochs) to evaluate it at.

    ``fidelity=None`` means the evaluator's own full budget.
    """

    arch: Architecture
    fidelity: int | float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch.to_dict(), "fidelity": self.fidelity}


class Status(enum.StrEnum):
    """How an evaluation ended. ``INFEASIBLE``: a constraint on a metric known before training
    (params, FLOPs) was broken, so the candidate was never trained; the reason names it."""

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    PRUNED = "pruned"
    INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class Result:
    """What an evaluator returns: metrics (flat floats), status with reason, compute cost.

    Metrics that are not finite make an OK result FAILED: a NaN accuracy is a failed trial, not a
    number to rank.
    """

    metrics: Mapping[str, float] = field(default_factory=dict)
    status: Status = Status.OK
    reason: str | None = None
    cost_s: float = 0.0
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean = {str(k): float(v) for k, v in self.metrics.items()}
        object.__setattr__(self, "metrics", clean)
        object.__setattr__(self, "status", Status(self.status))
        bad = sorted(k for k, v in clean.items() if not math.isfinite(v))
        if self.status is Status.OK and bad:
            object.__setattr__(self, "status", Status.FAILED)
            shown = ", ".join(f"{k}={clean[k]}" for k in bad)  # says nan or inf
            object.__setattr__(self, "reason", f"non-finite metric(s): {shown}")

    @classmethod
    def restore(
        cls,
        metrics: dict[str, float],
        status: Status,
        reason: str | None,
        cost_s: float,
        info: Mapping[str, Any],
    ) -> Result:
        """A result as a store wrote it, rebuilt without the checks of ``__init__``.

        A store only holds results that passed those checks (float metrics, a FAILED status for
        non-finite ones), so reading 50,000 of them back need not repeat them.
        """
        result = object.__new__(cls)
        for name, value in (("metrics", metrics), ("status", status), ("reason", reason),
                            ("cost_s", cost_s), ("info", info)):
            object.__setattr__(result, name, value)
        return result

    @classmethod
    def failed(
        cls,
        reason: str,
        *,
        status: Status = Status.FAILED,
        cost_s: float = 0.0,
        metrics: Mapping[str, float] | None = None,
    ) -> Result:
        """A failed (or timed-out) result with its reason."""
        return cls(metrics=dict(metrics or {}), status=status, reason=reason, cost_s=cost_s)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


class TrialSource(enum.StrEnum):
    """Who made a trial. Only the search's trials (``STRATEGY`` and ``INJECT``) are told to (and
    replayed into) the strategy, count against the search budget and rank in ``best()``; the
    others are stored and resumed like any trial but kept out of the search's history.

    ``TrialSource(value)`` of an unknown value raises a ``ValueError`` naming the valid sources,
    so a store refuses it when it is written.
    """

    STRATEGY = "strategy"
    """Asked of the search strategy by the study loop."""
    RETRAIN = "retrain"
    """A chosen architecture trained again from scratch, one seed a trial (``nasforge retrain``)."""
    INJECT = "inject"
    """An architecture a human injected by steering (:mod:`nasforge.run.steering`): evaluated
    next and told to the strategy like its own asks, so it is one of the search's trials."""
    ONESHOT = "oneshot"
    """An architecture a one-shot strategy proposed from its supernet, scored as a trial."""

    @classmethod
    def _missing_(cls, value: object) -> TrialSource:
        valid = ", ".join(repr(k.value) for k in cls)
        raise ValueError(f"unknown trial source {value!r}; the valid sources are: {valid}")


_SEARCH_SOURCES = frozenset({TrialSource.STRATEGY, TrialSource.INJECT})


class TrialState(enum.StrEnum):
    """Where a trial is in its life. RUNNING rows left by a killed process are re-queued.

    INFEASIBLE trials broke a constraint on a metric known before training and were never
    trained; they count against a trial budget like any other trial. A trained trial that breaks
    a constraint on a metric known only after training is COMPLETE, but never ranks or is best.
    """

    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    PRUNED = "PRUNED"
    INFEASIBLE = "INFEASIBLE"

    def is_finished(self) -> bool:
        return self is not TrialState.RUNNING

    @classmethod
    def from_status(cls, status: Status) -> TrialState:
        return {
            Status.OK: cls.COMPLETE,
            Status.FAILED: cls.FAILED,
            Status.TIMEOUT: cls.TIMEOUT,
            Status.PRUNED: cls.PRUNED,
            Status.INFEASIBLE: cls.INFEASIBLE,
        }[status]


@dataclass(frozen=True)
class Trial:
    """One stored trial: its candidate, its state and, once finished, its result.

    Attributes:
        number: 0-based position in the study, in ask order.
        asked_after: how many results had been told to the strategy when this trial was asked;
            with ``tell_seq`` it lets a resume replay asks and tells in their original interleaving.
        tell_seq: the position of this trial among told results, ``None`` until told.
        attempts: how many times its evaluation was started: 1 when created, one more each time
            a resume starts a RUNNING trial left by a dead process again.
        source: who made it (:class:`TrialSource`); only ``strategy`` trials are the search's.
    """

    study_id: int
    number: int
    candidate: Candidate
    state: TrialState
    result: Result | None = None
    asked_after: int = 0
    tell_seq: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 1
    source: TrialSource = TrialSource.STRATEGY

    @property
    def is_search(self) -> bool:
        """Whether this trial is the search's: the strategy asked it, or steering injected it
        (``source`` is ``strategy`` or ``inject``)."""
        return self.source in _SEARCH_SOURCES

    @property
    def arch(self) -> Architecture:
        return self.candidate.arch

    @property
    def metrics(self) -> Mapping[str, float]:
        return self.result.metrics if self.result else {}

    @property
    def violation(self) -> str | None:
        """The constraint this trial broke: the reason of an INFEASIBLE trial, or what a trained
        (COMPLETE) trial broke on a metric known only after training; ``None`` otherwise."""
        if self.result is None:
            return None
        if self.state is TrialState.INFEASIBLE:
            return self.result.reason
        found = self.result.info.get(VIOLATED)
        return str(found) if found is not None else None

    @property
    def label(self) -> str:
        """How messages refer to this trial: ``Trial#12 (arch_id=3fa9…)``."""
        return f"Trial#{self.number} (arch_id={self.arch.arch_id[:8]}…)"
