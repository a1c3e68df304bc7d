"""Objectives: what a study optimises, and how results are ranked.

An :class:`Objective` names a metric and a direction and may carry a ``limit`` that turns it into a
constraint as well (``params`` minimised with ``limit=1e6`` means "params <= 1e6 is required").
With one objective, results rank by it; with several, by Pareto dominance. An objective that
gives no direction takes its metric's natural one (:data:`nasforge.metrics.DIRECTIONS`:
``val_mse`` is minimised, ``val_accuracy`` maximised), and ``max`` for metrics outside that
vocabulary.

A :class:`Constraint` is a hard bound on a metric that is not (necessarily) an objective:
``"params <= 1e5"``, ``"latency_ms <= 5"``, ``"1e3 <= params <= 1e5"`` or the mapping form
``{metric: params, max: 1e5}`` / ``{metric: val_accuracy, min: 90}``. Bounds are inclusive. A
trial that breaks one (or lacks its metric) is infeasible: it never ranks and is never the best.

With several objectives a study has a Pareto set (:func:`pareto_trials`): the feasible COMPLETE
trials that no other feasible one dominates over all objectives, ordered best first by the first
objective, then the second, ..., then trial number. ``Study.best()`` is the first of them, so with
one objective it is the usual best trial (ties to the earlier trial) and with several it is the
best trial of the first objective among the Pareto set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nasforge.errors import Problem
from nasforge.metrics import direction as natural_direction
from nasforge.pareto import non_dominated_sort

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


def rank(
    trials: Iterable[Trial],
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint] = (),
) -> list[Trial]:
    """COMPLETE, feasible trials, best :func:`score` first; ties go to the earlier trial.

    A trial that breaks one of ``constraints`` (or an objective's limit) is left out.
    """
    from nasforge.trial import TrialState

    scored = [
        (score(t.metrics, objectives), t)
        for t in trials
        if t.state is TrialState.COMPLETE and violation(t.metrics, constraints) is None
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


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf"
_OPERATOR = re.compile(r"\s*(<=|>=|==|=|<|>)\s*")
_METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_EXAMPLES = "write e.g. 'params <= 1e5', 'val_accuracy >= 90' or '1e3 <= params <= 1e5'"


def _number(text: str) -> float | None:
    return float(text) if re.fullmatch(_NUMBER, text.strip()) else None


def parse_constraint(text: str) -> dict[str, Any]:
    """The mapping form of a constraint string (``"params <= 1e5"`` -> ``{metric, max}``).

    Raises:
        ValueError: for text that is not ``METRIC <= NUMBER``, ``METRIC >= NUMBER``, the same
            with the number first, or ``NUMBER <= METRIC <= NUMBER``; strict ``<``/``>`` and
            ``==`` are refused (bounds are inclusive).
    """
    parts = _OPERATOR.split(text.strip())
    terms, ops = parts[::2], parts[1::2]
    strict = [op for op in ops if op not in ("<=", ">=")]
    if strict:
        raise ValueError(
            f"{text!r} uses {strict[0]!r}; constraints are inclusive bounds: use <= or >= "
            f"({_EXAMPLES})"
        )
    if len(ops) == 1:
        left, right = terms
        if _number(right) is not None and _METRIC_NAME.match(left):
            metric, value, op = left, _number(right), ops[0]
        elif _number(left) is not None and _METRIC_NAME.match(right):
            metric, value, op = right, _number(left), "<=" if ops[0] == ">=" else ">="
        else:
            raise ValueError(f"{text!r} is not METRIC <= NUMBER or METRIC >= NUMBER ({_EXAMPLES})")
        return {"metric": metric, ("max" if op == "<=" else "min"): value}
    if len(ops) == 2 and ops[0] == ops[1] and _METRIC_NAME.match(terms[1]):
        low, high = _number(terms[0]), _number(terms[2])
        if low is not None and high is not None:
            if ops[0] == ">=":
                low, high = high, low
            return {"metric": terms[1], "min": low, "max": high}
    raise ValueError(f"cannot read {text!r} as a constraint ({_EXAMPLES})")


class Constraint(BaseModel):
    """A hard, inclusive bound on a metric: ``min <= metric <= max`` (either side optional).

    Given in a run spec as a string (``"params <= 1e5"``) or a mapping
    (``{metric: params, max: 1e5}``). Metrics known before training (``params``, ``flops``;
    see :meth:`nasforge.evaluate.Evaluator.cheap_metrics`) are checked before a candidate is
    trained, and a candidate that breaks such a bound is stored INFEASIBLE untrained; the others
    are checked on the trained result.

    Example:
        >>> c = Constraint.model_validate("params <= 1e5")
        >>> c.max, str(c), c.violation({"params": 2e5})
        (100000.0, 'params <= 100000', 'params = 200000 breaks params <= 100000')
        >>> Constraint(metric="val_accuracy", min=90).violation({"val_accuracy": 95.0}) is None
        True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(min_length=1, description="metric name, e.g. params or latency_ms")
    min: float | None = Field(default=None, description="the metric must be >= this")
    max: float | None = Field(default=None, description="the metric must be <= this")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        """Read the string form."""
        if isinstance(data, str):
            return parse_constraint(data)
        return data

    @model_validator(mode="after")
    def _check_bounds(self) -> Constraint:
        if self.min is None and self.max is None:
            raise ValueError(
                f"constraint on {self.metric!r} gives neither min nor max "
                f"(e.g. {{metric: {self.metric}, max: 100}})"
            )
        for name, value in (("min", self.min), ("max", self.max)):
            if value is not None and math.isnan(value):
                raise ValueError(f"the {name} bound of {self.metric!r} is NaN; give a number")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(
                f"nothing can be feasible: {self.metric} >= {self.min:g} and "
                f"{self.metric} <= {self.max:g} contradict; swap or widen the bounds"
            )
        return self

    def holds(self, value: float) -> bool:
        """Whether ``value`` is within the bounds."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def violation(self, metrics: Mapping[str, float]) -> str | None:
        """Why ``metrics`` break this constraint, or ``None`` when they satisfy it.

        A missing or non-finite value breaks it (a trial that does not report the metric cannot
        be shown to meet the bound).
        """
        value = metrics.get(self.metric)
        if value is None:
            return f"{self.metric} is not reported, so {self} cannot be checked"
        if not math.isfinite(value) or not self.holds(value):
            return f"{self.metric} = {value:g} breaks {self}"
        return None

    def __str__(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min:g} <= {self.metric} <= {self.max:g}"
        if self.max is not None:
            return f"{self.metric} <= {self.max:g}"
        return f"{self.metric} >= {self.min:g}"


def violation(metrics: Mapping[str, float], constraints: Sequence[Constraint]) -> str | None:
    """The first constraint ``metrics`` break, explained; ``None`` when all hold."""
    for constraint in constraints:
        why = constraint.violation(metrics)
        if why is not None:
            return why
    return None


def violation_amount(metrics: Mapping[str, float], constraints: Sequence[Constraint]) -> float:
    """How far ``metrics`` lie outside ``constraints``: the sum over broken bounds of the excess
    relative to the bound (``params = 1.5e5`` against ``params <= 1e5`` adds 0.5); 0 when every
    bound holds, ``inf`` when a bounded metric is missing or not finite. Ranks infeasible
    results (Deb's constrained domination: the less violation, the better).

    Example:
        >>> violation_amount({"params": 1.5e5}, [Constraint.model_validate("params <= 1e5")])
        0.5
    """
    total = 0.0
    for c in constraints:
        value = metrics.get(c.metric)
        if value is None or not math.isfinite(value):
            return math.inf
        for bound, excess in ((c.max, value - (c.max or 0.0)), (c.min, (c.min or 0.0) - value)):
            if bound is not None and excess > 0:
                total += excess / max(abs(bound), 1e-12)
    return total


def is_feasible_trial(
    trial: Trial, objectives: Sequence[Objective], constraints: Sequence[Constraint] = ()
) -> bool:
    """A COMPLETE trial whose every objective is reported (finite) and within its limit, and
    that meets every constraint: only such trials rank, reach the Pareto set or are best."""
    from nasforge.trial import TrialState

    if trial.state is not TrialState.COMPLETE:
        return False
    metrics = trial.metrics
    if not all(o.oriented(metrics) > -math.inf for o in objectives):
        return False
    return is_feasible(metrics, objectives) and violation(metrics, constraints) is None


def pareto_trials(
    trials: Iterable[Trial],
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint] = (),
) -> list[Trial]:
    """The Pareto set: feasible COMPLETE trials no other feasible one dominates.

    Dominance is over every objective (each in its direction); trials with equal values all
    stay in. Order: best first by the first objective, then the second, ..., then the earlier
    trial. With one objective this is every trial tied for the best value.
    """
    usable = [t for t in trials if is_feasible_trial(t, objectives, constraints)]
    if not usable or not objectives:
        return []
    points = [[o.oriented(t.metrics) for o in objectives] for t in usable]
    front = [usable[i] for i in non_dominated_sort(points, ["max"] * len(objectives))[0]]
    return sorted(front, key=lambda t: (*(-o.oriented(t.metrics) for o in objectives), t.number))


def natural_range(metric: str) -> tuple[float, float]:
    """The values a metric can take at all: accuracies are percentages in [0, 100]; counts,
    times, memory and energy are >= 0; anything else is unbounded."""
    if metric.endswith("accuracy"):
        return 0.0, 100.0
    if metric in ("params", "flops", "latency_ms", "memory_mb", "energy_kwh", "train_seconds",
                  "epochs") or metric.endswith(("_ms", "_s", "_seconds", "_kwh", "_mb")):
        return 0.0, math.inf
    return -math.inf, math.inf


def contradiction_problems(
    constraints: Sequence[Constraint], objectives: Sequence[Objective] = ()
) -> list[Problem]:
    """Bounds that no value can meet together: constraints on one metric whose intervals do
    not overlap, an objective's limit outside a constraint, or a bound outside the metric's
    natural range (an accuracy >= 101 %). Each problem names the bounds that contradict."""
    bounds: dict[str, list[tuple[str, float | None, float | None]]] = {}
    for i, c in enumerate(constraints):
        bounds.setdefault(c.metric, []).append((f"constraints.{i}", c.min, c.max))
    for i, o in enumerate(objectives):
        if o.limit is not None and o.metric in bounds:
            low, high = (None, o.limit) if o.direction == "min" else (o.limit, None)
            bounds[o.metric].append((f"objectives.{i}.limit", low, high))
    problems = []
    for metric, items in bounds.items():
        floor, ceiling = natural_range(metric)
        lows = [(f, lo) for f, lo, _ in items if lo is not None]
        highs = [(f, hi) for f, _, hi in items if hi is not None]
        low_field, low = max(lows, key=lambda fv: fv[1], default=("", floor))
        high_field, high = min(highs, key=lambda fv: fv[1], default=("", ceiling))
        if low <= high and low <= ceiling and high >= floor:
            continue
        if low > high and low_field and high_field:
            why = (f"{low_field} needs {metric} >= {low:g} but {high_field} needs "
                   f"{metric} <= {high:g}")
            field = high_field
        elif low > ceiling or (low > high and low_field):
            why = f"{low_field} needs {metric} >= {low:g}, above its largest value {ceiling:g}"
            field = low_field
        else:
            why = f"{high_field} needs {metric} <= {high:g}, below its smallest value {floor:g}"
            field = high_field
        problems.append(Problem(field, f"nothing can be feasible: {why}",
                                "widen or remove one of these bounds"))
    return problems


def hypervolume_reference(
    trials: Iterable[Trial],
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint] = (),
    given: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, str]] | None:
    """The reference point of a study's hypervolume, by objective metric, and where each value
    came from.

    Each objective takes, in this order: the value ``given`` (the run spec's
    ``hypervolume_reference``); else the study's own bound on the worse side of that metric (a
    constraint's ``max`` for a minimised metric, ``min`` for a maximised one, or the objective's
    ``limit``), since nothing beyond it counts; else the worst value of that objective among the
    study's feasible trials. The last depends on the trials, so compare hypervolumes of different
    studies only with a given reference. ``None`` when a value is needed from the trials and no
    trial is feasible.
    """
    feasible = [t for t in trials if is_feasible_trial(t, objectives, constraints)]
    reference: dict[str, float] = {}
    origin: dict[str, str] = {}
    for o in objectives:
        if given is not None and o.metric in given:
            reference[o.metric], origin[o.metric] = float(given[o.metric]), "hypervolume_reference"
            continue
        side = "max" if o.direction == "min" else "min"
        bounds = [getattr(c, side) for c in constraints if c.metric == o.metric]
        bounds = [b for b in bounds if b is not None]
        if o.limit is not None:
            bounds.append(o.limit)
        if bounds:
            reference[o.metric] = min(bounds) if side == "max" else max(bounds)
            origin[o.metric] = "constraint"
            continue
        if not feasible:
            return None
        values = [t.metrics[o.metric] for t in feasible]
        reference[o.metric] = max(values) if o.direction == "min" else min(values)
        origin[o.metric] = "worst feasible trial"
    return reference, origin


def trials_hypervolume(
    trials: Iterable[Trial], objectives: Sequence[Objective], reference: Mapping[str, float]
) -> float:
    """The hypervolume of ``trials``' objective values (each in its direction) bounded by
    ``reference`` (by metric), through :func:`nasforge.pareto.hypervolume` (moocore). Pass the
    feasible trials (e.g. :func:`pareto_trials`); the dominated ones add nothing."""
    from nasforge.pareto import hypervolume

    points = [[t.metrics[o.metric] for o in objectives] for t in trials]
    return hypervolume(points, [o.direction for o in objectives],
                       reference=[reference[o.metric] for o in objectives])
