"""Measure the latency of a study's Pareto set again, in a quiet phase, when the study finishes.

Why: a latency measured during the search is taken while other workers train beside it, and is
as much a measure of them as of the network. On a 2-core machine two 9,610-parameter MLPs of one
study measured 0.019 ms and 9.67 ms: the same network, a 500-fold difference, depending on
whether the other worker was training at that moment. A front ranked on such figures is partly
noise. When :func:`~nasforge.run.finish.finish_study` runs, the executor's workers are idle or
shut, so the finishing process measures the front's candidates again there, one at a time.

What: when the study's objectives or constraints name a measured latency (``latency_ms``,
``latency_batch_ms``, ``onnx_latency_ms``, ``onnx_latency_batch_ms``; not the predicted one), or
its evaluator measured one, each candidate of :meth:`~nasforge.run.study.Study.best_trials`
(the first :data:`MAX_CANDIDATES`, best first) is rebuilt with ``space.build(arch, task)``
(trained weights do not change latency) and timed with
:func:`~nasforge.evaluate.latency.measure_latency` at the evaluator's batch size and thread
count (:class:`~nasforge.evaluate.latency.LatencySettings`; the defaults for an evaluator
without them) for longer than during the search (:data:`MIN_RUN_TIME_S` per measurement). The
rows go into ``summary.json`` as ``"remeasured_front"``, which ``nasforge show`` reads back, and
into :class:`~nasforge.run.finish.Finished`. Finishing again (after a resume) measures again.

A study whose objectives, constraints and trials have no measured latency pays nothing. A
latency looked up in a benchmark table (``nb201_table``) was measured on the benchmark's
hardware, not here, so it is not re-measured.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge import metrics as M

if TYPE_CHECKING:
    from nasforge.evaluate.latency import LatencySettings, Runtime
    from nasforge.run.study import Study
    from nasforge.trial import Trial

log = logging.getLogger(__name__)

MEASURED_LATENCIES: tuple[str, ...] = tuple(m for m in M.LATENCIES if m != M.PREDICTED_LATENCY_MS)
"""The latency metrics that are measured (and so re-measured): all but the predicted one."""
MAX_CANDIDATES = 20
"""At most this many candidates of the Pareto set are re-measured (the best first)."""
MIN_RUN_TIME_S = 0.5
"""Seconds timed per re-measurement (the train evaluator times 0.1 s during the search)."""
SUMMARY_KEY = "remeasured_front"
"""The key of ``summary.json`` that holds the rows."""


@dataclass(frozen=True)
class Remeasured:
    """One metric of one front candidate, measured during the search and again at the end."""

    number: int
    """The trial's number."""
    metric: str
    searched: float | None
    """The value the trial reported during the search (``None`` if it reported none)."""
    median_ms: float | None
    """The re-measured median, milliseconds (``None`` when the measurement failed)."""
    iqr_ms: float | None
    """Its interquartile range, milliseconds."""
    runtime: str
    batch_size: int
    threads: int
    error: str | None = None
    """Why the measurement failed (the network would not build or export), else ``None``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _runtime_and_batch(metric: str, settings: LatencySettings) -> tuple[Runtime, int]:
    if metric == M.LATENCY_MS:
        return "torch", 1
    if metric == M.LATENCY_BATCH_MS:
        return "torch", settings.batch_size
    if metric == M.ONNX_LATENCY_MS:
        return "onnx", 1
    return "onnx", settings.batch_size


def metrics_to_remeasure(study: Study, front: Sequence[Trial]) -> tuple[str, ...]:
    """The measured latency metrics the study names (objectives, constraints) or its front's
    trials report, in :data:`MEASURED_LATENCIES` order; empty for a table evaluator."""
    from nasforge.evaluate.tabular import TabularNB201Evaluator

    if isinstance(study.parts.evaluator, TabularNB201Evaluator):
        return ()
    named = {o.metric for o in study.spec.objectives} | {c.metric for c in study.spec.constraints}
    reported = {m for t in front for m in t.metrics}
    return tuple(m for m in MEASURED_LATENCIES if m in named or m in reported)


def _settings(study: Study) -> LatencySettings:
    from nasforge.evaluate.latency import LatencySettings

    found = getattr(study.parts.evaluator, "latency_settings", None)
    return found if isinstance(found, LatencySettings) else LatencySettings()


def _device(study: Study) -> str:
    """Where the evaluator ran: CUDA when it asked for it (or ``auto``) and it is here."""
    import torch

    wanted = getattr(study.parts.evaluator, "device", "cpu")
    return "cuda" if wanted in ("auto", "cuda") and torch.cuda.is_available() else "cpu"


def remeasure_front(
    study: Study,
    trials: Sequence[Trial] | None = None,
    *,
    limit: int = MAX_CANDIDATES,
    min_run_time: float = MIN_RUN_TIME_S,
) -> list[Remeasured]:
    """Measure the latency metrics of :func:`metrics_to_remeasure` again for the first
    ``limit`` candidates of the Pareto set, in this process, one at a time.

    Call it when no worker trains (the end of a study). ``trials``: the study's trials if
    already read. Returns one row per candidate and metric, in front order; ``[]`` (with no
    network built) when there is nothing to re-measure. A candidate that cannot be built or
    exported gets rows with the ``error`` and no median, and the others are still measured.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1; got {limit}")
    front = study.best_trials(trials)[:limit]
    wanted = metrics_to_remeasure(study, front) if front else ()
    if not wanted:
        return []
    from nasforge.evaluate.latency import measure_latency

    settings, device = _settings(study), _device(study)
    info = study.parts.task.info()
    rows = []
    for trial in front:
        found: dict[tuple[str, int], tuple[float | None, float | None, str | None]] = {}
        failure: str | None = None
        try:
            model = study.parts.space.build(trial.arch, info)
        except Exception as exc:  # a user's space may raise anything; the others still count
            model, failure = None, f"{type(exc).__name__}: {exc}"
        for metric in wanted:
            runtime, batch = _runtime_and_batch(metric, settings)
            if (runtime, batch) not in found:
                if model is None:
                    found[runtime, batch] = (None, None, failure)
                else:
                    found[runtime, batch] = _measure(
                        measure_latency, model.to("cpu" if runtime == "onnx" else device),
                        info.input_shape, runtime, batch, settings.threads, min_run_time,
                    )  # fmt: skip
            median, iqr, error = found[runtime, batch]
            if error is not None:
                log.warning("could not re-measure %s of %s: %s", metric, trial.label, error)
            rows.append(Remeasured(
                number=trial.number, metric=metric, searched=trial.metrics.get(metric),
                median_ms=median, iqr_ms=iqr, runtime=runtime, batch_size=batch,
                threads=settings.threads, error=error,
            ))  # fmt: skip
    return rows


def _measure(
    measure: Any,
    model: Any,
    input_shape: Sequence[int],
    runtime: Runtime,
    batch: int,
    threads: int,
    min_run_time: float,
) -> tuple[float | None, float | None, str | None]:
    try:
        found = measure(model, input_shape, batch_size=batch, runtime=runtime, threads=threads,
                        min_run_time=min_run_time)
    except (ValueError, RuntimeError, ImportError) as exc:  # an export or a missing extra
        return None, None, f"{type(exc).__name__}: {exc}"
    return found.median_ms, found.iqr_ms, None


def stored_remeasurement(directory: Path | None) -> tuple[list[dict[str, Any]], int] | None:
    """The rows the last finish wrote to ``summary.json`` in ``directory`` and how many trials
    the study had then; ``None`` without a summary (never finished, or in memory) or rows."""
    from nasforge.run.finish import SUMMARY_NAME

    path = None if directory is None else Path(directory) / SUMMARY_NAME
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("could not read %s: %s", path, exc)
        return None
    rows = data.get(SUMMARY_KEY) if isinstance(data, dict) else None
    if not rows:
        return None
    return list(rows), int(data.get("trials") or 0)
