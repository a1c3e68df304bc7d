"""Objectives: what a study optimises, and how results are ranked.

An :class:`Objective` names a metric and a direction and may carry a ``limit`` that turns it into a
constraint as well (``params`` minimised with ``limit=1e6`` means "params <= 1e6 is required").
With one objective, results rank by it; with several, by Pareto dominance. An objective that
gives no direction takes its metric's natural one (:data:`nasforge.metrics.DIRECTIONS`:
``val_mse`` is minimised, ``val_accuracy`` maximised), and ``max`` for metrics outside that
vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nasforge.metrics import direction as natural_direction

if TYPE_CHECKING:
    from nasforge.trial import Trial


class Objective(BaseModel):
    """A metric to maximise or minimise, optionally with a hard limit.

    Example:
        >>> Objective(metric="params", direction="min", limit=1e6).is_feasible({"params": 2e6})
        False
        >>> Objective(metric="val_mse").direction
        'min'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(min_length=1, description="metric name, e.g. val_accuracy")
    direction: Literal["max", "min"] = "max"
    limit: float | None = Field(
        default=None, description="hard bound: value must be <= limit (min) or >= limit (max)"
    )

    @model_validator(mode="before")
    @classmethod
    def _natural_direction(cls, data: Any) -> Any:
        """Fill in a missing direction from the metric's natural one."""
        if isinstance(data, dict) and data.get("direction") is None:
            metric = data.get("metric")
            found = natural_direction(metric) if isinstance(metric, str) else None
            data = {**data, "direction": found or "max"}
        return data

    def oriented(self, metrics: Mapping[str, float]) -> float:
        """The metric turned so that larger is better; -inf when missing or not finite."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return -math.inf
        return value if self.direction == "max" else -value

    def is_feasible(self, metrics: Mapping[str, float]) -> bool:
        if self.limit is None:
            return True
        value = metrics.get(self.metric)
        if value is None:
            return False
        return value <= self.limit if self.direction == "min" else value >= self.limit

    def __str__(self) -> str:
        bound = ""
        if self.limit is not None:
            bound = f" ({'<=' if self.direction == 'min' else '>='} {self.limit:g})"
        return f"{self.direction} {self.metric}{bound}"


def is_feasible(metrics: Mapping[str, float], objectives: Sequence[Objective]) -> bool:
    """True when every objective's limit holds."""
    return all(o.is_feasible(metrics) for o in objectives)


def score(metrics: Mapping[str, float], objectives: Sequence[Objective]) -> float:
    """A single larger-is-better number: the first objective, -inf when infeasible or missing.

    Single-objective strategies rank by this; ties and secondary objectives are left to Pareto
    ranking in reports.
    """
    if not objectives or not is_feasible(metrics, objectives):
        return -math.inf
    return objectives[0].oriented(metrics)


def rank(trials: Iterable[Trial], objectives: Sequence[Objective]) -> list[Trial]:
    """COMPLETE, feasible trials, best :func:`score` first; ties go to the earlier trial."""
    from nasforge.trial import TrialState

    scored = [
        (score(t.metrics, objectives), t)
        for t in trials
        if t.state is TrialState.COMPLETE
    ]
    usable = [(s, t) for s, t in scored if s > -math.inf]
    return [t for _, t in sorted(usable, key=lambda st: (-st[0], st[1].number))]


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Pareto dominance of oriented (larger-is-better) vectors."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(
        x > y for x, y in zip(a, b, strict=True)
    )


def pareto_front(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated points among oriented vectors (O(n^2), fine for reports)."""
    return [
        i
        for i, p in enumerate(points)
        if not any(dominates(q, p) for j, q in enumerate(points) if j != i)
    ]
