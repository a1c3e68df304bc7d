"""Checks before the first trial: mistakes that would fail every trial are refused up front.

Run by :meth:`Study.create` before anything is written, and by a resume before it runs again
(a data file may have moved since). Each problem names its field and its fix; the run spec's own
validation (unknown names, bad values, objectives the evaluator does not report) has already run.
"""

from __future__ import annotations

from collections.abc import Sequence

from nasforge.errors import ConfigError, Problem
from nasforge.metrics import DEFAULT_OBJECTIVE
from nasforge.objective import Objective
from nasforge.run.parts import Parts


def check_before_first_trial(
    parts: Parts, *, source: str = "", objectives: Sequence[Objective] = ()
) -> None:
    """Load the task, and check that the evaluator can evaluate the space on it, and that the
    pruner can judge what the evaluator reports.

    Args:
        parts: the study's components.
        source: where the settings came from, for the message.
        objectives: the study's objectives; the first one's metric is what a pruner judges.

    Raises:
        ConfigError: listing every problem found (a missing or unreadable data file, a space
            whose networks do not fit the task, a table evaluator given a space it cannot look
            up, a strategy option that cannot apply to the space or evaluator, a pruner whose
            metric the evaluator does not report per step).
    """
    problems = parts.evaluator.preflight(parts.space, parts.task)
    if not problems:  # the task loads: its kind of problem decides the metrics
        problems += objective_problems(parts, objectives)
    problems += parts.strategy.preflight(parts.space, parts.evaluator)
    problems += pruner_problems(parts, objectives)
    if problems:
        raise ConfigError(problems, source=source)


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
