"""Checks before the first trial: mistakes that would fail every trial are refused up front.

Run by :meth:`Study.create` before anything is written, and by a resume before it runs again
(a data file may have moved since). Each problem names its field and its fix; the run spec's own
validation (unknown names, bad values, objectives the evaluator does not report) has already run.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from nasforge import metrics as M
from nasforge.errors import ConfigError, Problem
from nasforge.evaluate.energy import DEFAULT_COUNTRY
from nasforge.evaluate.energy import METRICS as ENERGY_METRICS
from nasforge.evaluate.fairness import fairness_problems
from nasforge.imports import missing_modules
from nasforge.metrics import DEFAULT_OBJECTIVE
from nasforge.objective import Constraint, Objective, contradiction_problems
from nasforge.run.parts import Parts

if TYPE_CHECKING:
    from nasforge.run.spec import EnergySpec


def check_before_first_trial(
    parts: Parts,
    *,
    source: str = "",
    objectives: Sequence[Objective] = (),
    constraints: Sequence[Constraint] = (),
    hypervolume_reference: Mapping[str, float] | None = None,
    energy: EnergySpec | None = None,
) -> None:
    """Load the task, and check that the evaluator can evaluate the space on it, and that the
    pruner can judge what the evaluator reports.

    Args:
        parts: the study's components.
        source: where the settings came from, for the message.
        objectives: the study's objectives; the first one's metric is what a pruner judges.
        constraints: the study's constraints.
        hypervolume_reference: the study's hypervolume reference point, by metric.
        energy: the study's energy tracking (``None``: off); it needs codecarbon, and
            objectives or constraints on ``energy_kwh`` or ``co2_kg`` need it.

    Raises:
        ConfigError: listing every problem found (a missing or unreadable data file, a space
            whose networks do not fit the task, a table evaluator given a space it cannot look
            up, a strategy option that cannot apply to the space or evaluator, a pruner whose
            metric the evaluator does not report per step, a constraint on a metric the
            evaluator does not produce, bounds that nothing can meet, a reference point that
            does not match the objectives, energy tracking without codecarbon, an energy
            metric without energy tracking).
    """
    problems = parts.evaluator.preflight(parts.space, parts.task)
    problems += energy_problems(energy, objectives, constraints)
    if not problems:  # the task loads: its kind of problem decides the metrics
        # a group metric on a task without groups: say that, not "not reported"
        unfair = {m for m in M.FAIRNESS
                  if fairness_problems(parts.task, [m])
                  and m in {*(o.metric for o in objectives), *(c.metric for c in constraints)}}
        problems += fairness_problems(parts.task, sorted(unfair))
        # energy metrics come from the study's tracking, not the evaluator (checked above)
        skip = unfair | set(ENERGY_METRICS)
        problems += [p for p in objective_problems(parts, objectives)
                     if objectives[int(p.field.split(".")[1])].metric not in skip]
        problems += [p for p in constraint_problems(parts, constraints)
                     if not _names_metric(p, constraints, skip)]
    problems += contradiction_problems(constraints, objectives)
    problems += reference_problems(objectives, hypervolume_reference)
    problems += parts.strategy.preflight(parts.space, parts.evaluator)
    problems += pruner_problems(parts, objectives)
    if problems:
        raise ConfigError(problems, source=source)


def energy_problems(
    energy: EnergySpec | None,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
) -> list[Problem]:
    """Energy tracking needs codecarbon (the ``green`` extra); ``energy_kwh`` and ``co2_kg``
    exist only with tracking on, so objectives and constraints may name them only then."""
    if energy is not None:
        missing = missing_modules("green")
        if not missing:
            return []
        return [Problem(
            "energy",
            f"tracking the energy and CO2 of trials needs the {missing[0]!r} package, which is "
            "not installed",
            "pip install 'nasforge[green]', or remove energy from the settings")]
    named = [(f"objectives.{i}.metric", o.metric) for i, o in enumerate(objectives)]
    named += [(f"constraints.{i}.metric", c.metric) for i, c in enumerate(constraints)]
    return [
        Problem(
            field,
            f"{metric!r} is measured only when the study tracks energy, and this one does not",
            f"turn tracking on with energy: {{country: {DEFAULT_COUNTRY}}} (your country's "
            "3-letter ISO code; --set energy.country=... on the command line, "
            "energy={'country': ...} in nasforge.search()), or drop this metric")
        for field, metric in named
        if metric in ENERGY_METRICS
    ]


def default_objectives(parts: Parts) -> list[Objective]:
    """The objective of a study that names none: the natural metric of its task's problem
    (``val_accuracy`` for classification, ``val_mse`` for regression, see
    :data:`nasforge.metrics.DEFAULT_OBJECTIVE`), or ``val_accuracy`` when the task does not
    load (the pre-flight check then says why)."""
    try:
        problem = parts.task.info().problem
    except Exception:
        problem = "classification"
    return [Objective(metric=DEFAULT_OBJECTIVE[problem])]


def _names_metric(problem: Problem, constraints: Sequence[Constraint], metrics: set[str]) -> bool:
    """Whether ``problem`` (under ``constraints.<i>``) is about a constraint on ``metrics``."""
    parts = problem.field.split(".")
    return len(parts) > 1 and parts[1].isdigit() and constraints[int(parts[1])].metric in metrics


def objective_problems(parts: Parts, objectives: Sequence[Objective]) -> list[Problem]:
    """Objectives naming a metric the evaluator does not report on this task (an accuracy on
    a regression task, an MSE on a classification one)."""
    reported = parts.evaluator.metrics_for(parts.task)
    if not reported:
        return []
    problem = parts.task.info().problem
    suggestion = DEFAULT_OBJECTIVE[problem]
    direction = Objective(metric=suggestion).direction
    return [
        Problem(
            f"objectives.{i}.metric",
            f"{objective.metric!r} is not reported on {problem} task {parts.task.name!r} "
            f"(evaluator {parts.evaluator.name!r} reports {', '.join(reported)})",
            f"use objectives: [{{metric: {suggestion}, direction: {direction}}}], or leave "
            "objectives out for that default",
        )
        for i, objective in enumerate(objectives)
        if objective.metric not in reported
        and objective.metric not in parts.evaluator.cheap_metric_names()  # known before training
    ]


def pruner_problems(parts: Parts, objectives: Sequence[Objective]) -> list[Problem]:
    """A pruner needs the first objective's metric in the evaluator's learning curve."""
    if not parts.pruner.is_active or not objectives:
        return []
    metric = objectives[0].metric
    curve = parts.evaluator.curve_metrics(parts.task)
    if curve is None or metric in curve:
        return []
    evaluator = parts.evaluator.name or type(parts.evaluator).__name__
    reported = (f"it reports {', '.join(curve)} per step" if curve
                else "it reports no learning curve")
    return [
        Problem(
            "pruner",
            f"the {parts.pruner.name} pruner judges the first objective's metric {metric!r}, "
            f"but evaluator {evaluator!r} does not report it per step ({reported})",
            "use pruner: none, an evaluator that reports the metric after each step "
            "(trial.report(step, " + metric + "=...)), or make that metric the first objective",
        )
    ]


def constraint_problems(parts: Parts, constraints: Sequence[Constraint]) -> list[Problem]:
    """Constraints on a metric the evaluator produces neither before training
    (:meth:`~nasforge.evaluate.Evaluator.cheap_metric_names`) nor in its results on this task.

    An evaluator that does not declare its metrics (a user's function without ``metrics=``)
    cannot be checked: a constraint on a metric outside nasforge's vocabulary then gets a
    warning, and a trial that does not report it is infeasible.
    """
    evaluator = parts.evaluator
    cheap = evaluator.cheap_metric_names()
    reported = evaluator.metrics_for(parts.task)
    name = evaluator.name or type(evaluator).__name__
    problems = []
    first_cheap = next((i for i, c in enumerate(constraints) if c.metric in cheap), None)
    if first_cheap is not None:
        problems += cheap_metric_problems(parts, first_cheap, [c.metric for c in constraints])
    for i, constraint in enumerate(constraints):
        metric = constraint.metric
        if metric in cheap or metric in reported:
            continue
        if not reported:
            if metric not in M.ALL:
                warnings.warn(
                    f"constraints.{i}: {metric!r} is not a nasforge metric and evaluator "
                    f"{name!r} does not declare what it reports, so a trial without it will be "
                    f"infeasible; declare its metrics (e.g. metrics=[..., {metric!r}] for a "
                    "function evaluator) to have this checked, or fix the name",
                    UserWarning,
                    stacklevel=2,
                )
            continue
        known = sorted({*cheap, *reported})
        close = difflib.get_close_matches(metric, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        before = f"; before training: {', '.join(cheap)}" if cheap else ""
        problems.append(
            Problem(
                f"constraints.{i}.metric",
                f"{metric!r} is not produced by evaluator {name!r} on task "
                f"{parts.task.name!r} (it reports {', '.join(reported)}{before})",
                f"{hint}constrain one of: {', '.join(known)}",
            )
        )
    return problems


def cheap_metric_problems(parts: Parts, index: int, named: Sequence[str] = ()) -> list[Problem]:
    """The metrics known before training must be computable: try them (those the ``named``
    metrics make the study compute) on one sampled architecture, so a space that cannot build
    its networks fails here, not on every trial (and the latency predictor calibrates now)."""
    import numpy as np

    space, evaluator = parts.space, parts.evaluator
    wanted = evaluator.cheap_metrics_wanted(named) or evaluator.cheap_metric_names()
    try:
        arch = space.sample(np.random.default_rng(0))
        evaluator.cheap_metrics(space, arch, parts.task, names=wanted)
    except Exception as exc:
        return [Problem(
            f"constraints.{index}",
            f"constrains {', '.join(wanted)} before training, but "
            f"computing them for a sampled architecture of space {space.name!r} failed: "
            f"{type(exc).__name__}: {exc}",
            "fix the space's build(), or constrain metrics the evaluator reports after training")]
    return []


def reference_problems(
    objectives: Sequence[Objective], reference: Mapping[str, float] | None
) -> list[Problem]:
    """A hypervolume reference point must give exactly one finite value per objective metric."""
    if reference is None:
        return []
    wanted = [o.metric for o in objectives]
    example = ", ".join(f"{m}: ..." for m in wanted)
    problems = []
    missing = [m for m in wanted if m not in reference]
    extra = [m for m in reference if m not in wanted]
    if missing or extra:
        parts = ([f"misses {', '.join(missing)}"] if missing else []) + (
            [f"names {', '.join(extra)}, which {'is' if len(extra) == 1 else 'are'} not an "
             "objective"] if extra else [])
        problems.append(Problem(
            "hypervolume_reference",
            f"gives one value per objective metric but {' and '.join(parts)}",
            f"write hypervolume_reference: {{{example}}}"))
    bad = [m for m, v in reference.items() if not math.isfinite(v)]
    if bad:
        problems.append(Problem(
            f"hypervolume_reference.{bad[0]}", "must be a finite number",
            "give the worst value each objective may take, e.g. 85 for an accuracy"))
    return problems
