"""`Reporter`: how a running evaluation reports a learning curve and asks to be pruned.

An evaluator that trains step by step calls ``ctx.reporter.report(step, values)`` after each step
(an epoch, say) and then ``ctx.reporter.should_prune()``; when that says yes it raises
:class:`~nasforge.errors.TrialPruned`. The study stores every reported value (trial, step,
metric, value) and its pruner decides from the curves of earlier trials. The reporter handed to
an evaluation pickles, so it works the same inline and in a worker process.

:class:`ChannelReporter` is the reporter the study loop hands out: "the worker asks the driver".
It carries only the address and key of a :class:`multiprocessing.connection.Listener` that a
thread of the study's process serves (:mod:`nasforge.run.reports`); each ``report`` is one
round trip there, where the value is stored and the pruner decides, and the answer is what
``should_prune`` returns afterwards. The worker never touches the store, so an in-memory store
works with a process pool too. Each process keeps one connection per study.

Rules a caller can rely on (the same in every executor):

- Values must be finite numbers: a NaN or inf raises :class:`ValueError` naming the metric and
  the step, before anything is sent, and the trial is recorded FAILED with that message.
- Steps are integers >= 0 that never go backwards. The same step may be reported again (say the
  validation accuracy, then the loss): its metrics merge, and a metric reported twice at one
  step keeps the later value. A step below the last one raises :class:`ValueError`.
- Once the pruner has said prune, ``should_prune()`` stays ``True`` for the rest of the
  evaluation; further reports are still stored (they are real measurements) but decide nothing.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection
from typing import Any, Protocol, runtime_checkable

from nasforge.errors import NasforgeError


@runtime_checkable
class Reporter(Protocol):
    """What an evaluation may call while it runs (``EvalContext.reporter``)."""

    def report(self, step: int, values: Mapping[str, float]) -> None:
        """Store intermediate ``values`` (metric name -> float) at ``step`` (0, 1, 2 ...)."""

    def should_prune(self) -> bool:
        """Whether the study's pruner stops this trial at the last reported step."""


class ReportChannelError(NasforgeError, RuntimeError):
    """The study that asked for this evaluation cannot be reached (it stopped or died)."""


def checked_report(step: Any, values: Mapping[str, Any], last_step: int | None) -> dict[str, float]:
    """``values`` as floats, or a ValueError naming the step or metric at fault.

    Tensors and numpy scalars of one element are taken by value; anything else that is not a
    finite real number (a NaN, a string) is refused.
    """
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"report() step must be an int >= 0 (0, 1, 2 ...); got {step!r}")
    step = int(step)
    if last_step is not None and step < last_step:
        raise ValueError(
            f"report() step {step} goes backwards (step {last_step} was already reported); "
            "report steps in increasing order"
        )
    if not values:
        raise ValueError(f"report() at step {step} got no values; pass e.g. val_accuracy=81.2")
    clean: dict[str, float] = {}
    for metric, value in values.items():
        if not isinstance(value, numbers.Real) and hasattr(value, "item"):
            with contextlib.suppress(ValueError, RuntimeError):
                value = value.item()  # a one-element tensor or array
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(
                f"report() {metric} at step {step} must be a number; got {type(value).__name__}"
            )
        if not math.isfinite(value):
            raise ValueError(
                f"report() {metric} at step {step} is {float(value)!r}: the evaluation diverged "
                "(a NaN or infinite value fails the trial)"
            )
        clean[str(metric)] = float(value)
    return clean


_CONNECTIONS: dict[str, Connection] = {}  # listener address -> this process's connection
_CONNECTIONS_LOCK = threading.Lock()


def _connection(address: str, authkey: bytes) -> Connection:
    with _CONNECTIONS_LOCK:
        conn = _CONNECTIONS.get(address)
        if conn is None or conn.closed:
            for old in _CONNECTIONS.values():  # a study this process served before has ended
                old.close()
            _CONNECTIONS.clear()
            try:
                conn = Client(address, family="AF_UNIX", authkey=authkey)
            except OSError as exc:
                raise ReportChannelError(
                    f"cannot reach the study to report to ({exc}); it has stopped"
                ) from None
            _CONNECTIONS[address] = conn
        return conn


def _drop_connection(address: str) -> None:
    with _CONNECTIONS_LOCK:
        conn = _CONNECTIONS.pop(address, None)
    if conn is not None:
        conn.close()


@dataclass
class ChannelReporter:
    """A :class:`Reporter` that sends each report to the study's driver and keeps its answer.

    Attributes:
        address: the driver's listener (an AF_UNIX socket path).
        authkey: the listener's key; connections without it are refused.
        number: the trial this evaluation is.
    """

    address: str
    authkey: bytes
    number: int
    last_step: int | None = field(default=None, compare=False)
    pruned: bool = field(default=False, compare=False)

    def report(self, step: int, values: Mapping[str, float]) -> None:
        clean = checked_report(step, values, self.last_step)
        self.last_step = int(step)
        answer = self._ask(("report", self.number, int(step), clean))
        if answer[0] == "error":
            raise ValueError(answer[1])
        self.pruned = self.pruned or bool(answer[1])

    def should_prune(self) -> bool:
        return self.pruned

    def _ask(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        conn = _connection(self.address, self.authkey)
        try:
            with _CONNECTIONS_LOCK:  # one request and its answer at a time per connection
                conn.send(message)
                answer: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError) as exc:
            _drop_connection(self.address)
            raise ReportChannelError(
                f"lost the connection to the study while reporting Trial#{self.number} "
                f"({type(exc).__name__}); the study has stopped"
            ) from None
        return answer

    def __getstate__(self) -> dict[str, Any]:
        # What was reported belongs to this evaluation, not to copies sent elsewhere.
        return {"address": self.address, "authkey": self.authkey, "number": self.number,
                "last_step": None, "pruned": False}


__all__ = ["ChannelReporter", "ReportChannelError", "Reporter", "checked_report"]
