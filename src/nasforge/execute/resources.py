"""`Resources`: what one trial needs (CPUs, GPUs, memory), for executors that schedule by it.

An evaluator states its needs with an optional ``trial_resources()`` method returning a
:class:`Resources`; the study passes them to :meth:`~nasforge.execute.Executor.prepare`, and the
Ray executor asks Ray for them per trial (its ``cpus_per_trial``/``gpus_per_trial``/
``memory_gb_per_trial`` settings, where given, take precedence). Executors without a scheduler
(inline, the process pool) ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Resources:
    """One trial's needs; ``None`` leaves a need to the executor's setting or default.

    Attributes:
        cpus: CPU cores (also the trial's torch threads under Ray).
        gpus: GPUs; fractions share a device between trials.
        memory_gb: memory in GiB that the scheduler reserves (not a hard limit).
    """

    cpus: float | None = None
    gpus: float | None = None
    memory_gb: float | None = None


def requested_resources(evaluator: Any) -> Resources | None:
    """The needs ``evaluator`` states through ``trial_resources()``, or ``None`` if it states none.

    Raises:
        TypeError: ``trial_resources()`` returned something other than a :class:`Resources`.
    """
    method = getattr(evaluator, "trial_resources", None)
    if method is None:
        return None
    resources = method()
    if resources is not None and not isinstance(resources, Resources):
        raise TypeError(
            f"{type(evaluator).__name__}.trial_resources() must return "
            f"nasforge.execute.Resources or None; got {type(resources).__name__}"
        )
    return resources
