"""What happens when a study ends, whichever front door ran it: the quiet re-measurement of the
front's latency (:mod:`nasforge.run.remeasure`), ``summary.json``, the HTML report, the export of
the best model, and the verdict on whether the study failed."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import NasforgeError
from nasforge.evaluate.energy import total_energy
from nasforge.imports import MissingDependencyError, missing_modules
from nasforge.objective import hypervolume_reference, trials_hypervolume
from nasforge.run.loop import commonest_reasons, commonest_violations
from nasforge.run.remeasure import SUMMARY_KEY, Remeasured, remeasure_front
from nasforge.trial import Trial, TrialState

if TYPE_CHECKING:
    from nasforge.run.study import Study

log = logging.getLogger(__name__)

SUMMARY_NAME = "summary.json"
REPORT_NAME = "report.html"


@dataclass(frozen=True)
class Finished:
    """What :meth:`Study.finish` wrote, and whether the study failed.

    Attributes:
        summary: the JSON-able summary (also written to ``summary.json``).
        summary_path, report_path, export_dir: where the summary, the HTML report and the
            exported best model went (``None`` when not written).
        failure: why the study counts as failed (no trial completed, or the failure guard
            stopped it), ``None`` when it produced a result.
        export_error: why the best model was not exported, when export was asked for.
        remeasured: the front's latencies measured again after the search, in a quiet phase
            (:func:`~nasforge.run.remeasure.remeasure_front`; empty when the study has no
            measured latency); also ``summary["remeasured_front"]``.
    """

    summary: dict[str, Any]
    summary_path: Path | None = None
    report_path: Path | None = None
    export_dir: Path | None = None
    export_error: str | None = None
    failure: str | None = None
    remeasured: tuple[Remeasured, ...] = ()


def summary(study: Study, trials: Sequence[Trial] | None = None) -> dict[str, Any]:
    """A JSON-able summary of a study: counts, the best trial and its metrics, the units of
    the metrics that have one (``{"val_accuracy": "%"}``; a metric not listed is a plain number),
    the Pareto front and its hypervolume, and the energy of all trials (:func:`energy_summary`).

    ``trials`` are the study's trials if already read (a 50,000-trial study takes a second to
    read).
    """
    trials = study.trials() if trials is None else trials
    record = study.store.get_study(study.name)
    data: dict[str, Any] = {
        "name": study.name,
        "trials": len(trials),
        "states": dict(Counter(t.state.value for t in trials)),
        "sources": dict(Counter(str(t.source) for t in trials)),
        "elapsed_s": record.elapsed_s if record else None,
        "objectives": [str(o) for o in study.spec.objectives],
        "stop_reason": study.stop_reason,
        "units": study.units(),
    }
    try:
        best = study.best(trials)
        data["best"] = {
            "number": best.number,
            "arch": best.arch.to_dict(),
            "arch_string": best.arch_string,
            "metrics": best.metrics,
        }
    except NasforgeError:
        data["best"] = None
    from nasforge.run.retrain import final_pick

    data["final_pick"] = final_pick(study)  # the retrain's pick by mean (retrain.json), or None
    data["constraints"] = [str(c) for c in study.spec.constraints]
    data.update(front_summary(study, trials))
    data["energy"] = energy_summary(study, trials)
    return json.loads(json.dumps(data))


def energy_summary(study: Study, trials: Sequence[Trial]) -> dict[str, Any] | None:
    """The study's energy, as ``summary.json`` holds it: ``kwh`` and ``co2_kg`` summed over
    every trial that carries them (failed ones included), how they were obtained (``method``,
    ``estimate``) and the grid's ``country``; ``null`` when the study tracks no energy."""
    if study.spec.energy is None:
        return None
    total = total_energy(trials)
    if total is None:  # tracking on, nothing measured yet (or codecarbon gave nothing)
        return {"kwh": 0.0, "co2_kg": 0.0, "method": None, "estimate": None,
                "country": study.spec.energy.country, "n_trials": 0}
    data = total.to_dict()
    data["country"] = data["country"] or study.spec.energy.country
    return data


def front_summary(study: Study, trials: Sequence[Trial]) -> dict[str, Any]:
    """The Pareto front (:meth:`Study.best_trials`) and its hypervolume, as ``summary.json``
    holds them: ``pareto_front`` lists each trial's number, architecture and objective values;
    ``hypervolume`` its value with the reference point and where each coordinate came from
    (``null`` while no trial is feasible, or with a note when moocore is not installed)."""
    spec = study.spec
    front = study.best_trials(trials)
    rows = [
        {
            "number": t.number,
            "arch_string": study.parts.space.format(t.arch),
            "metrics": {o.metric: t.metrics[o.metric] for o in spec.objectives},
        }
        for t in front
    ]
    found = hypervolume_reference(trials, spec.objectives, spec.constraints,
                                  spec.hypervolume_reference)
    hv: dict[str, Any] | None = None
    if found is not None:
        reference, origin = found
        hv = {"value": None, "reference": reference, "reference_from": origin,
              "directions": {o.metric: o.direction for o in spec.objectives}}
        try:
            hv["value"] = trials_hypervolume(front, spec.objectives, reference)
        except MissingDependencyError as exc:
            hv["note"] = str(exc)
    return {"pareto_front": rows, "hypervolume": hv}


def _failure(study: Study, trials: Sequence[Trial]) -> str | None:
    if study.failure is not None:
        return study.failure
    finished = [t for t in trials if t.state.is_finished()]
    feasible = [t for t in finished if t.state is TrialState.COMPLETE and t.violation is None]
    broken = [t for t in finished if t.violation is not None]
    if finished and not feasible and broken:
        return (
            f"no candidate met the constraints ({len(broken)} of {len(finished)} finished "
            f"trials infeasible): {commonest_violations(broken)}; widen or remove the bounds "
            "that were broken"
        )
    if finished and not any(t.state is TrialState.COMPLETE for t in finished):
        return (
            f"no trial completed ({len(finished)} finished); commonest reasons: "
            f"{commonest_reasons(finished) or 'pruned'}"
        )
    return None


def finish_study(study: Study) -> Finished:
    """Write the summary and report, export the best model; see :meth:`Study.finish`."""
    trials = study.trials()  # read once: every part below works on this list
    data = summary(study, trials)
    # The executor's workers are idle or shut now: the quiet phase to time the front in.
    remeasured = tuple(remeasure_front(study, trials))
    data[SUMMARY_KEY] = [r.to_dict() for r in remeasured]
    directory = study.directory
    export_dir = export_error = None
    if study.spec.export_best and directory is not None and data["best"] is not None:
        best = trials[data["best"]["number"]]  # trials are numbered 0 .. n-1, in order
        if study.weights_path(best) is not None:  # evaluators that do not train save none
            # Without the onnx extra the model is still exported, as model.py and weights.
            onnx = not missing_modules("onnx")
            try:
                export_dir = study.export(onnx=onnx, trials=trials).out_dir
            except (NasforgeError, ImportError) as exc:
                export_error = str(exc)
    data["export"] = None if export_dir is None else str(export_dir)
    summary_path = report_path = None
    if directory is not None:
        summary_path = directory / SUMMARY_NAME
        summary_path.write_text(json.dumps(data, indent=2))
        try:
            from nasforge.report import write_report

            report_path = write_report(study, directory / REPORT_NAME, trials=trials)
        except ImportError as exc:
            log.warning("no HTML report written: %s", exc)
    failure = _failure(study, trials)
    if failure is not None:  # `nasforge ls` shows what the verdict says
        study.store.update_study(study.record.id, status="failed")
    return Finished(
        summary=data,
        summary_path=summary_path,
        report_path=report_path,
        export_dir=export_dir,
        export_error=export_error,
        failure=failure,
        remeasured=remeasured,
    )
