"""`FunctionEvaluator`: your own training loop as the study's evaluator.

The user writes a plain function ``fit(model, task, trial) -> dict`` and passes it as
``nf.search(evaluator=fit)`` or names it in YAML::

    evaluator: {name: function, path: "mymodule:fit"}      # or "path/to/file.py:fit"
    pruner: {name: median, n_startup_trials: 5}

For each trial, ``model`` is ``space.build(arch, task.info)`` built under the trial's seed (inside
:func:`torch.random.fork_rng`, so the caller's RNG is untouched and the same seed gives the same
initial weights; the whole function runs under that seeded RNG), ``task`` is the loaded
:class:`~nasforge.tasks.base.TaskData` (``info``, ``train``, ``val``, ``test``) and ``trial`` is a
:class:`TrialHandle`: ``number``, ``arch``, ``fidelity``, ``seed``, ``workdir``, ``time_left_s``,
``report(step, **metrics)`` and ``should_prune()``. The function returns its metrics as a dict of
numbers; ``raise nasforge.TrialPruned()`` stops the trial as PRUNED.

The function reaches worker processes by reference, never pickled as code: the evaluator keeps
only its ``path`` (``module:qualname`` or ``file.py:qualname``) and each process imports it. A
function defined in the script being run (``__main__``) is referred to by that script's file; a
local function or lambda cannot be referred to at all and is refused with the fix.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from nasforge import references
from nasforge.errors import ConfigError, Problem
from nasforge.evaluate._checks import check_forward
from nasforge.evaluate.base import EVALUATORS, WEIGHTS_FILE, EvalContext, Evaluator
from nasforge.evaluate.reporting import checked_report
from nasforge.trial import Candidate, Result

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task

log = logging.getLogger(__name__)



class TrialHandle:
    """What the user's function gets as ``trial``.

    Attributes:
        number: the trial's number in its study (``None`` outside a study).
        arch: the architecture being evaluated.
        fidelity: the budget the strategy asked for (e.g. epochs), or ``None`` for the full one;
            the function decides what it means.
        seed: the evaluation seed (also seeds torch's RNG while the function runs).
        workdir: a folder for this architecture's checkpoints, or ``None``.
    """

    def __init__(self, candidate: Candidate, ctx: EvalContext, started: float) -> None:
        self.number = ctx.number
        self.arch: Architecture = candidate.arch
        self.fidelity = candidate.fidelity
        self.seed = ctx.seed
        self.workdir = ctx.workdir
        self._reporter = ctx.reporter
        self._limit_s = ctx.time_limit_s
        self._started = started
        self._last_step: int | None = None
        self.reported: list[tuple[int, dict[str, float]]] = []
        """Every report, in order (kept here too, so the function can be tried outside a study)."""

    @property
    def time_left_s(self) -> float | None:
        """Seconds left of the trial's time limit (``None`` without a limit); a trial past it
        is stopped and recorded TIMEOUT, so a long loop may check this to end in time."""
        if self._limit_s is None:
            return None
        return max(0.0, self._limit_s - (time.perf_counter() - self._started))

    def report(self, step: int, **metrics: float) -> None:
        """Store ``metrics`` at ``step`` (an epoch, from 0) in the trial's learning curve.

        Raises:
            ValueError: a NaN or infinite value (the trial then fails, naming the step), a step
                below the last one reported, or a value that is not a number.
        """
        values = checked_report(step, metrics, self._last_step)
        self._last_step = int(step)
        self.reported.append((int(step), values))
        if self._reporter is not None:
            self._reporter.report(int(step), values)

    def should_prune(self) -> bool:
        """Whether the study's pruner stops this trial at the last reported step; if so, raise
        :class:`nasforge.TrialPruned`."""
        return self._reporter is not None and self._reporter.should_prune()

    def __repr__(self) -> str:
        return f"TrialHandle(number={self.number}, arch={self.arch}, fidelity={self.fidelity})"


def function_path(fn: Callable[..., Any], *, field: str = "evaluator") -> str:
    """The reference another process imports ``fn`` by (see
    :func:`nasforge.references.reference_of`): ``module:qualname``, or ``file.py:qualname`` for a
    function of the main script or of a module loaded from a file outside ``sys.path``."""
    return references.reference_of(fn, field=f"{field}.path")


def resolve_path(path: str, *, field: str = "evaluator") -> Callable[..., Any]:
    """Import the function ``path`` names (``module:qualname`` or ``file.py:qualname``)."""
    function: Callable[..., Any] = references.resolve_callable(
        path, field=f"{field}.path", example="mymodule:fit",
        what="a function fit(model, task, trial)")
    return function


def _save_state(model: Any, path: str) -> None:
    """``model.state_dict()`` on the CPU, through a temporary file (never half a file)."""
    import torch

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, path)


def _number(value: Any) -> float | None:
    if not isinstance(value, numbers.Real) and hasattr(value, "item"):
        try:
            value = value.item()
        except (ValueError, RuntimeError):
            return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


@EVALUATORS.register("function")
class FunctionEvaluator(Evaluator):
    """The user's own training function ``fit(model, task, trial) -> {metric: number}``.

    Outcomes: the returned dict becomes the trial's metrics (COMPLETE); a result that is not a
    dict of numbers, or lacks a declared metric, is FAILED with the reason; ``raise
    nasforge.TrialPruned()`` gives PRUNED (recorded with the last reported step and value); any
    other exception, a NaN passed to ``trial.report`` included, fails the trial with its message.

    Args:
        path: the function, as ``"module:function"`` or ``"path/to/file.py:function"``; in
            Python the function itself may be given (it is stored as its path).
        max_fidelity: the full budget the function understands (e.g. epochs), for
            multi-fidelity strategies; the function reads ``trial.fidelity``. ``None``: none.
        metrics: the metrics the function returns, so objectives naming others are refused
            before anything runs; ``None``: not declared.
        curve: the metrics it reports per step with ``trial.report``, so a pruner is checked
            against them; ``None``: not declared (any may come).
        units: metric -> display unit, e.g. ``{"val_accuracy": "%"}`` for percentages.
        save_weights: save the model's ``state_dict`` as the function leaves it (load your best
            epoch's weights before returning to keep those), so the study exports the winner
            trained, as it does for the ``train`` evaluator.
    """

    def __init__(
        self,
        *,
        path: str | Callable[..., Any],
        max_fidelity: Annotated[int, Field(ge=1)] | None = None,
        metrics: list[str] | None = None,
        curve: list[str] | None = None,
        units: dict[str, str] | None = None,
        save_weights: bool = True,
    ) -> None:
        self.path = path if isinstance(path, str) else function_path(path)
        self._max_fidelity = max_fidelity
        self.metrics = metrics
        self.curve_names = curve
        self.unit_names = units
        self.save_weights = save_weights

    def get_params(self) -> dict[str, Any]:
        return {"path": self.path, "max_fidelity": self._max_fidelity, "metrics": self.metrics,
                "curve": self.curve_names, "units": self.unit_names,
                "save_weights": self.save_weights}

    @property
    def max_fidelity(self) -> int | None:
        return self._max_fidelity

    def declared_metrics(self) -> tuple[str, ...]:
        return tuple(self.metrics or ())

    def curve_metrics(self, task: Task | None = None) -> tuple[str, ...] | None:
        return None if self.curve_names is None else tuple(self.curve_names)

    def metric_units(self) -> Mapping[str, str]:
        return dict(self.unit_names or {})

    @property
    def function(self) -> Callable[..., Any]:
        """The user's function, imported in this process on first use."""
        return resolve_path(self.path)

    def preflight(self, space: SearchSpace, task: Task) -> list[Problem]:
        """The function imports, the task loads and a sampled network runs on it."""
        try:
            self.function  # noqa: B018 - imports it, or says why not
        except ConfigError as exc:
            return list(exc.problems)
        return check_forward(space, task)

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        import torch

        fn = self.function
        data = ctx.task.load()
        start = time.perf_counter()
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(ctx.seed)
            model = ctx.space.build(candidate.arch, data.info)
            handle = TrialHandle(candidate, ctx, start)
            returned = fn(model, data, handle)
        cost_s = time.perf_counter() - start
        name = getattr(fn, "__name__", self.path)
        if not isinstance(returned, Mapping):
            return Result.failed(
                f"{name} returned {type(returned).__name__}, expected a dict of metric name -> "
                "number, e.g. {'val_accuracy': 81.2}", cost_s=cost_s)
        metrics: dict[str, float] = {}
        for key, value in returned.items():
            number = _number(value)
            if not isinstance(key, str) or number is None:
                return Result.failed(
                    f"{name} returned {key!r}: {type(value).__name__}; every metric must be a "
                    "number (a float or int, or a one-element tensor)", cost_s=cost_s)
            metrics[key] = number
        missing = [m for m in self.declared_metrics() if m not in metrics]
        if missing:
            return Result.failed(
                f"{name} returned no {', '.join(map(repr, missing))} (declared in metrics); it "
                f"returned {', '.join(metrics) or 'nothing'}", cost_s=cost_s)
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            return Result.failed(f"{name} returned non-finite {', '.join(bad)}",
                                 cost_s=cost_s, metrics={})
        if self.save_weights and ctx.workdir is not None:
            _save_state(model, os.path.join(ctx.workdir, WEIGHTS_FILE))
        return Result(metrics=metrics, cost_s=cost_s)


__all__ = ["FunctionEvaluator", "TrialHandle", "function_path", "resolve_path"]
