"""`Reporter`: how a running evaluation reports a learning curve and asks to be pruned.

An evaluator that trains step by step calls ``ctx.reporter.report(step, values)`` after each step
(an epoch, say) and then ``ctx.reporter.should_prune()``; when that says yes it raises
:class:`~nasforge.errors.TrialPruned`. The study stores every reported value (trial, step,
metric, value) and its pruner decides from the curves of earlier trials. The reporter handed to
an evaluation pickles, so it works the same inline and in a worker process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable


@runtime_checkable
class Reporter(Protocol):
    """What an evaluation may call while it runs (``EvalContext.reporter``)."""

    def report(self, step: int, values: Mapping[str, float]) -> None:
        """Store intermediate ``values`` (metric name -> float) at ``step`` (0, 1, 2 ...)."""

    def should_prune(self) -> bool:
        """Whether the study's pruner stops this trial at the last reported step."""
