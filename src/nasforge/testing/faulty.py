"""`FaultyEvaluator`: an evaluator that misbehaves on purpose, for reliability tests.

Per trial it either scores normally or injects one fault, chosen by :func:`planned_fault`, a pure
function of ``(seed, trial number, rate, faults)`` that a benchmark can recompute:

- ``raise``: raises :class:`InjectedFault`;
- ``nan`` / ``inf``: returns the objective metric as NaN / +inf (the result is then FAILED);
- ``hang``: sleeps (in short steps, as a stuck Python loop would) past the trial's time limit,
  so the executor has to stop it;
- ``memory``: allocates memory in small steps until a memory limit stops it (at most
  ``memory_cap_gb``, so a run without a limit cannot take the machine down);
- ``kill``: SIGKILLs its own process (with the inline executor that is the study itself).

A fault that the executor did not stop (a hang past three times its limit, a memory fault that
reached ``memory_cap_gb``) raises an error saying so, which makes a missing limit visible
instead of recording it as handled. With ``marker_dir`` set, each injection first writes the
file ``marker_dir/<trial>.<fault>``, so injected faults can be counted independently of what the
store recorded.

Example (YAML)::

    evaluator: {name: faulty, rate: 0.3, faults: [raise, nan, hang], seed: 1}
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from nasforge.errors import ConfigError, Problem
from nasforge.evaluate.base import EVALUATORS, EvalContext, Evaluator
from nasforge.rng import derive_seed, trial_rng
from nasforge.trial import Candidate, Result

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task

__all__ = ["FAULTS", "FaultyEvaluator", "InjectedFault", "planned_fault"]

Fault = Literal["raise", "nan", "inf", "hang", "memory", "kill"]
FAULTS: tuple[str, ...] = ("raise", "nan", "inf", "hang", "memory", "kill")
"""Every fault kind, in the order :func:`planned_fault` indexes a mix that names them all."""

_STEP_S = 0.02  # a hang sleeps in steps this long; a memory fault pauses this long per chunk
_CHUNK = 16 * 2**20  # bytes allocated (and written) per step of a memory fault


class InjectedFault(RuntimeError):
    """The exception of the ``raise`` fault (and of a fault no limit stopped)."""


def planned_fault(seed: int, number: int, rate: float, faults: Sequence[str]) -> str | None:
    """The fault trial ``number`` gets, or ``None`` when it scores normally.

    A pure function: the same arguments give the same answer in any process, so a benchmark
    recomputes the plan without asking the evaluator. Each trial is faulty with probability
    ``rate``; a faulty one gets one of ``faults`` uniformly.
    """
    rng = trial_rng(seed, number, "faulty")
    if rng.random() >= rate or not faults:
        return None
    return faults[int(rng.integers(len(faults)))]


@EVALUATORS.register("faulty")
class FaultyEvaluator(Evaluator):
    """Scores normally or injects one fault per trial, deterministically from ``seed``.

    Args:
        rate: the fraction of trials that get a fault, in ``[0, 1]``.
        faults: the fault kinds to draw from (:data:`FAULTS`), each at most once.
        base: the evaluator that scores the healthy trials, as a component section
            (``{name: train, epochs: 1}``); left out, a healthy trial scores a deterministic
            ``metric`` in ``[50, 100)`` from the seed and the architecture, at no cost.
        metric: the metric scored without ``base`` and set to NaN/inf by those faults.
        seed: the seed of the fault plan (and of the deterministic score).
        hang_s: how long a ``hang`` lasts; ``None``: three times the trial's time limit plus
            10 s (a hang needs a time limit then).
        memory_cap_gb: the most a ``memory`` fault allocates before it gives up (and raises
            that no limit stopped it).
        marker_dir: a folder where each injection first writes ``<trial>.<fault>``.
    """

    curve = ()

    def __init__(
        self,
        *,
        rate: Annotated[float, Field(ge=0, le=1)] = 0.3,
        faults: list[Fault] | None = None,
        base: dict[str, Any] | None = None,
        metric: Annotated[str, Field(min_length=1)] = "val_accuracy",
        seed: Annotated[int, Field(ge=0)] = 0,
        hang_s: Annotated[float, Field(gt=0)] | None = None,
        memory_cap_gb: Annotated[float, Field(gt=0, le=64)] = 2.0,
        marker_dir: str | None = None,
    ) -> None:
        self.rate = rate
        self.faults: list[str] = list(FAULTS) if faults is None else list(faults)
        self.base = base
        self.metric = metric
        self.seed = seed
        self.hang_s = hang_s
        self.memory_cap_gb = memory_cap_gb
        self.marker_dir = marker_dir
        problems = []
        if not self.faults:
            problems.append(Problem("evaluator.faults", "is empty",
                                    f"name at least one of {', '.join(FAULTS)}, or set rate: 0"))
        repeated = sorted({f for f in self.faults if self.faults.count(f) > 1})
        if repeated:
            problems.append(Problem("evaluator.faults", f"names {', '.join(repeated)} twice",
                                    "list each fault once (rate sets how often faults happen)"))
        if problems:
            raise ConfigError(problems)
        self._base = None if base is None else _build_base(base)

    # -- delegated to the base evaluator ----------------------------------------------------
    def declared_metrics(self) -> tuple[str, ...]:
        return (self.metric,) if self._base is None else self._base.declared_metrics()

    def metrics_for(self, task: Task) -> tuple[str, ...]:
        return (self.metric,) if self._base is None else self._base.metrics_for(task)

    def curve_metrics(self, task: Task | None = None) -> tuple[str, ...] | None:
        return () if self._base is None else self._base.curve_metrics(task)

    def metric_units(self) -> Mapping[str, str]:
        return {} if self._base is None else self._base.metric_units()

    def cheap_metric_names(self) -> tuple[str, ...]:
        return () if self._base is None else self._base.cheap_metric_names()

    def cheap_metrics(
        self,
        space: SearchSpace,
        arch: Architecture,
        task: Task,
        names: Collection[str] | None = None,
    ) -> dict[str, float]:
        if self._base is None:
            return {}
        return self._base.cheap_metrics(space, arch, task, names)

    @property
    def max_fidelity(self) -> int | float | None:
        return None if self._base is None else self._base.max_fidelity

    @property
    def min_fidelity(self) -> int | float | None:
        return None if self._base is None else self._base.min_fidelity

    @property
    def fidelity_kind(self) -> str | None:
        return None if self._base is None else self._base.fidelity_kind

    def default_task(self) -> Task | None:
        return None if self._base is None else self._base.default_task()

    def prepare(self, space: SearchSpace, task: Task, directory: str | None) -> None:
        if self._base is not None:
            self._base.prepare(space, task, directory)

    def preflight(self, space: SearchSpace, task: Task) -> list[Problem]:
        if self._base is not None:
            return self._base.preflight(space, task)
        return super().preflight(space, task)

    def trial_resources(self) -> Any:
        method = getattr(self._base, "trial_resources", None)
        return None if method is None else method()

    # -- evaluation -------------------------------------------------------------------------
    def fault_for(self, number: int | None) -> str | None:
        """The fault of trial ``number`` (:func:`planned_fault`); none outside a study."""
        if number is None:
            return None
        return planned_fault(self.seed, number, self.rate, self.faults)

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        fault = self.fault_for(ctx.number)
        if fault is None:
            if self._base is not None:
                return self._base.evaluate(candidate, ctx)
            return Result(metrics={self.metric: _score(self.seed, candidate.arch.arch_id)})
        self._mark(ctx.number, fault)
        if fault == "raise":
            raise InjectedFault("injected fault 'raise'")  # one reason for all: they count as one
        if fault in ("nan", "inf"):
            return Result(metrics={self.metric: math.nan if fault == "nan" else math.inf})
        if fault == "hang":
            return self._hang(ctx)
        if fault == "memory":
            return self._allocate()
        os.kill(os.getpid(), signal.SIGKILL)  # "kill"
        raise InjectedFault("SIGKILL did not kill the process")  # pragma: no cover

    def _mark(self, number: int | None, fault: str) -> None:
        if self.marker_dir is None:
            return
        path = Path(self.marker_dir, f"{number}.{fault}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as file:  # on disk before a kill or an out-of-memory stop
            file.write(str(os.getpid()))
            file.flush()
            os.fsync(file.fileno())

    def _hang(self, ctx: EvalContext) -> Result:
        if self.hang_s is not None:
            length = self.hang_s
        elif ctx.time_limit_s is not None:
            length = 3 * ctx.time_limit_s + 10
        else:
            raise ConfigError([Problem(
                "evaluator.hang_s", "the 'hang' fault needs a time limit to hang past",
                "set trial_time_limit_s in the run spec, or evaluator.hang_s")])
        end = time.monotonic() + length
        while time.monotonic() < end:
            time.sleep(_STEP_S)
        raise InjectedFault(
            f"injected hang of {length:g} s was never stopped: the executor did not enforce the "
            "trial's time limit")

    def _allocate(self) -> Result:
        held: list[bytes] = []
        cap = int(self.memory_cap_gb * 2**30)
        while len(held) * _CHUNK < cap:
            held.append(b"\x01" * _CHUNK)  # written, so it is resident, not just reserved
            time.sleep(_STEP_S / 20)  # 1 ms: fast, as a runaway allocation is
        held.clear()
        raise InjectedFault(
            f"injected memory fault allocated {self.memory_cap_gb:g} GiB and no memory limit "
            "stopped it (set trial_memory_limit_gb)")


def _score(seed: int, arch_id: str) -> float:
    """A deterministic score in ``[50, 100)`` for an architecture."""
    return 50.0 + 50.0 * derive_seed(seed, "faulty-score", arch_id) / 2**31


def _build_base(base: Mapping[str, Any]) -> Evaluator:
    params = dict(base)
    name = params.pop("name", None)
    if not isinstance(name, str) or name == "faulty":
        raise ConfigError([Problem(
            "evaluator.base.name",
            f"expected the registry name of the evaluator that scores healthy trials; got "
            f"{name!r}",
            f"write e.g. base: {{name: train, epochs: 1}}; one of {', '.join(EVALUATORS.names())}"
            " other than faulty")])
    return EVALUATORS.create(name, params, field="evaluator.base")
