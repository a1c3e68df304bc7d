"""`Evaluator`: how good and how costly a candidate is.

An evaluator turns a :class:`Candidate` into a :class:`Result`. It never writes to the store or
to globals; it may write checkpoints under ``ctx.workdir``. It runs inside a worker process, so
it and everything in :class:`EvalContext` must pickle.
"""

from __future__ import annotations

import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from nasforge import metrics as M
from nasforge.config import Component
from nasforge.errors import Problem, TrialPruned, TrialTimeout
from nasforge.evaluate._checks import check_forward, task_problems
from nasforge.registry import Registry
from nasforge.trial import Candidate, Result, Status

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.evaluate.energy import EnergySettings
    from nasforge.evaluate.reporting import Reporter
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task


WEIGHTS_FILE = "best_weights.pt"
"""Evaluators that train save their best model's ``state_dict`` as ``ctx.workdir/WEIGHTS_FILE``,
so a study can export the winner without training it again."""


@dataclass(frozen=True)
class EvalContext:
    """Everything an evaluation may use besides the candidate.

    Attributes:
        seed: the evaluation seed (derived from the study seed and the architecture, so the same
            architecture gets the same seed after a resume).
        time_limit_s: wall-clock limit; evaluators check it cooperatively and return TIMEOUT.
        workdir: a directory for this trial's checkpoints, or ``None``.
        reporter: where the evaluation reports intermediate values (a learning curve) and asks
            whether the study's pruner stops it; ``None`` when nothing listens.
        number: the trial's number in its study, ``None`` outside a study.
        energy: track the evaluation's energy and CO2 with codecarbon
            (:mod:`nasforge.evaluate.energy`); :func:`run_evaluation` does it, for every
            evaluator. ``None``: not tracked.
    """

    space: SearchSpace
    task: Task
    seed: int
    time_limit_s: float | None = None
    workdir: str | None = None
    reporter: Reporter | None = None
    number: int | None = None
    energy: EnergySettings | None = None


class Evaluator(Component, ABC):
    """Base class of evaluators.

    ``provides`` lists the metric names the evaluator reports, so a run spec whose objective
    names another metric is refused before anything runs; empty means "not declared".

    ``curve`` lists the metrics it reports per step through ``ctx.reporter`` (its learning
    curve), so a study with a pruner is refused before anything runs when the pruned metric (the
    first objective's) is not among them; empty means "reports no curve", ``None`` "not
    declared" (any may come). Subclasses whose curve depends on their parameters or the task
    override :meth:`curve_metrics`.

    ``units`` maps metric names to their unit for display: ``"%"`` for a percentage
    (``val_accuracy`` of 98.1), ``""`` or absent for plain numbers, a fraction included (0.81
    prints as 0.81, never as a percentage).

    ``cheap`` lists the metrics :meth:`cheap_metrics` gives before any training (``params``,
    ``flops`` and ``predicted_latency_ms`` by default); the study checks constraints on them
    first and stores a candidate that breaks one INFEASIBLE without training it. Evaluators that
    build no network set ``cheap = ()``. ``cheap_on_request`` lists those among them that
    :meth:`cheap_metrics` gives only when asked by name (the latency predictor calibrates once
    per machine and space, in seconds); the study asks for them when a constraint or an
    objective names one.
    """

    provides: ClassVar[tuple[str, ...]] = ()
    curve: ClassVar[tuple[str, ...] | None] = ()
    units: ClassVar[Mapping[str, str]] = {}
    cheap: ClassVar[tuple[str, ...]] = (M.PARAMS, M.FLOPS, M.PREDICTED_LATENCY_MS)
    cheap_on_request: ClassVar[tuple[str, ...]] = (M.PREDICTED_LATENCY_MS,)

    def declared_metrics(self) -> tuple[str, ...]:
        """The metrics objectives may name (``provides``; empty: not declared)."""
        return self.provides

    def metrics_for(self, task: Task) -> tuple[str, ...]:
        """The metrics reported on ``task`` (``declared_metrics`` unless they depend on the
        task, as classification and regression ones do); empty: not declared."""
        return self.declared_metrics()

    def cheap_metric_names(self) -> tuple[str, ...]:
        """The metrics :meth:`cheap_metrics` gives (``cheap``)."""
        return self.cheap

    def cheap_metrics_wanted(self, named: Iterable[str]) -> tuple[str, ...]:
        """The cheap metrics to compute when a study's constraints and objectives name
        ``named``: every one of :meth:`cheap_metric_names` not on request, and those on request
        (``cheap_on_request``) that are named; ``()`` when ``named`` has no cheap metric."""
        cheap, named = self.cheap_metric_names(), set(named)
        if not named & set(cheap):
            return ()
        return tuple(m for m in cheap if m not in self.cheap_on_request or m in named)

    def cheap_metrics(
        self,
        space: SearchSpace,
        arch: Architecture,
        task: Task,
        names: Collection[str] | None = None,
    ) -> dict[str, float]:
        """Metrics known before training: by default the ``params`` and ``flops`` of the network
        ``space`` builds for ``arch`` on the CPU (untrained; :func:`~nasforge.evaluate.costs.
        count_params`, :func:`~nasforge.evaluate.costs.count_flops` on one example), and its
        ``predicted_latency_ms`` (batch 1, PyTorch, one thread; :mod:`nasforge.evaluate.
        latency_predictor`, calibrated on first use and cached per machine) when asked.

        Called by the study on the driver, before a candidate is stored, only when a constraint
        or an objective names one of :meth:`cheap_metric_names`; it must be deterministic and
        fast (no training, no data). ``names`` are the metrics wanted: those of ``cheap``; the
        ones of ``cheap_on_request`` only when named (``None``: every cheap metric not on
        request). Returns ``{}`` when ``cheap`` is empty. May raise; the trial then fails with
        the reason.
        """
        cheap = self.cheap_metric_names()
        wanted = {m for m in cheap if m not in self.cheap_on_request} if names is None else (
            set(names) & set(cheap))
        if not wanted:
            return {}
        from nasforge.evaluate.costs import count_flops, count_params

        info = task.info()
        model = space.build(arch, info).cpu()
        values: dict[str, float] = {}
        if M.PARAMS in wanted:
            values[M.PARAMS] = float(count_params(model))
        if M.FLOPS in wanted:
            values[M.FLOPS] = float(count_flops(model, info.input_shape))
        if M.PREDICTED_LATENCY_MS in wanted:
            from nasforge.evaluate.latency_predictor import predict_latency_ms

            values[M.PREDICTED_LATENCY_MS] = predict_latency_ms(space, model, info)
        return values

    def curve_metrics(self, task: Task | None = None) -> tuple[str, ...] | None:
        """The metrics this evaluator reports per step on ``task`` (``None``: not declared)."""
        return self.curve

    def metric_units(self) -> Mapping[str, str]:
        """Metric name -> display unit (``"%"``); metrics not listed are plain numbers."""
        return self.units

    @abstractmethod
    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        """Evaluate one candidate. May raise; :func:`run_evaluation` records the reason."""

    def default_task(self) -> Task | None:
        """The task to use when a run spec names none: a lookup benchmark's own data; ``None``
        for evaluators that need the user's task (the study then uses ``mnist1d``)."""
        return None

    @property
    def max_fidelity(self) -> int | float | None:
        """The full-budget fidelity (e.g. epochs), or ``None`` if fidelity is meaningless."""
        return None

    @property
    def min_fidelity(self) -> int | float | None:
        """The lowest fidelity it accepts, when it declares one (``None``: not declared, and
        multi-fidelity strategies check only the kind of their fidelities against it)."""
        return None

    @property
    def fidelity_kind(self) -> str | None:
        """What a fidelity means: ``"epochs"`` (whole numbers, the default of any evaluator with
        a ``max_fidelity``), ``"data_fraction"`` (a fraction of the training data in (0, 1]),
        or ``None`` without a fidelity. Multi-fidelity strategies refuse rungs of another kind
        before anything runs."""
        return None if self.max_fidelity is None else "epochs"

    def prepare(self, space: SearchSpace, task: Task, directory: str | None) -> None:
        """Work shared by every trial, done once on the driver before the first one.

        Called by the study at the start of every run (a resume included), after the
        pre-flight checks and before any trial is asked; ``directory`` is the study directory
        (``None`` for an in-memory study), where the evaluator may keep files its workers then
        read. The default does nothing; the ``supernet`` evaluator trains its supernet here.
        """

    def preflight(self, space: SearchSpace, task: Task) -> list[Problem]:
        """Problems that would fail every trial, found before the first one is stored.

        Called once by the study before anything is written (and again on resume). The default
        checks that the task can describe itself; evaluators that train also load the data and
        run a sampled network forward (:func:`check_forward`), tabular ones check that the
        space's architectures can be looked up.
        """
        try:
            task.info()
        except Exception as exc:
            return task_problems(task, exc)
        return []


def run_evaluation(evaluator: Evaluator, candidate: Candidate, ctx: EvalContext) -> Result:
    """Run ``evaluator`` and turn any exception into a FAILED/TIMEOUT/PRUNED result.

    This is the function executors run, so a trial that raises never stops the search. With
    ``ctx.energy`` set, codecarbon tracks the evaluation: ``energy_kwh`` and ``co2_kg`` join the
    result's metrics (a failed, timed-out or pruned trial keeps what it used until it stopped)
    and ``info["energy"]`` says how they were obtained (:func:`~nasforge.evaluate.energy.
    with_energy`). The tracker starts before ``cost_s`` is timed, so its one-off hardware probe
    in a fresh worker is not charged to the trial.
    """
    if ctx.energy is None:
        return _evaluate(evaluator, candidate, ctx)
    from nasforge.evaluate.energy import EnergyMeter, with_energy

    try:
        meter = EnergyMeter(ctx.energy.country)
        with meter:
            result = _evaluate(evaluator, candidate, ctx)
    except (ImportError, ValueError) as exc:  # no green extra, or a country it lacks
        return Result.failed(f"energy tracking: {exc}")
    return with_energy(result, meter)


def _evaluate(evaluator: Evaluator, candidate: Candidate, ctx: EvalContext) -> Result:
    start = time.perf_counter()
    try:
        result = evaluator.evaluate(candidate, ctx)
    except TrialTimeout as exc:
        return Result.failed(
            str(exc) or "time limit exceeded",
            status=Status.TIMEOUT,
            cost_s=time.perf_counter() - start,
        )
    except TrialPruned as exc:
        return Result.failed(
            str(exc) or "pruned", status=Status.PRUNED, cost_s=time.perf_counter() - start
        )
    except Exception as exc:  # any evaluator error fails only its trial
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
        return Result.failed(
            f"{type(exc).__name__}: {exc}{where}", cost_s=time.perf_counter() - start
        )
    if not isinstance(result, Result):
        return Result.failed(f"evaluator returned {type(result).__name__}, expected Result")
    return result


EVALUATORS: Registry[Evaluator] = Registry("evaluator")
"""Registered evaluators (``@EVALUATORS.register("train")``)."""

__all__ = ["EVALUATORS", "WEIGHTS_FILE", "EvalContext", "Evaluator", "check_forward",
           "run_evaluation", "task_problems"]
