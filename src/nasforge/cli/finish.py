"""What ``search`` and ``resume`` print when a study ends (the work is in run/finish.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nasforge.run.study import DB_NAME

if TYPE_CHECKING:
    from nasforge.run.finish import Finished
    from nasforge.run.study import Study

out = Console()


def _value(value: float | None, unit: str) -> str:
    """A metric as the summary prints it: ``98.12%`` for a percentage, ``0.8123`` otherwise."""
    if value is None:
        return "—"
    return f"{value:.2f}{unit}" if unit else f"{value:.4g}"


def _searched_metrics(study: Study) -> tuple[str, str]:
    """The first objective's metric and its test counterpart (``val_mse`` -> ``test_mse``)."""
    metric = study.spec.objectives[0].metric
    if metric.startswith("val_"):
        return metric, "test_" + metric.removeprefix("val_")
    return metric, ""


def print_finished(study: Study, finished: Finished) -> None:
    """Print the outcome: counts, the best trial beside the task's reference models, and where
    the store, summary, report and exported model went."""
    data = finished.summary
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(data["states"].items()))
    sources = data.get("sources", {})
    if set(sources) - {"strategy"}:  # retrain seeds or a one-shot search beside the search's
        states += "; " + ", ".join(f"{n} {s}" for s, n in sorted(sources.items()))
    out.print(
        f"\n[bold]{study.name}[/]: {data['trials']} trials ({states}) "
        f"in {(data['elapsed_s'] or 0) / 60:.1f} min"
    )
    best = data["best"]
    if best is not None:
        metrics = best["metrics"]
        out.print(f"best: Trial#{best['number']}  [cyan]{escape(best['arch_string'])}[/]")
        units = data.get("units", {})
        val, test = _searched_metrics(study)
        what = val.removeprefix("val_").replace("_", " ")
        table = Table(title=f"{what} (percent)" if units.get(val) == "%" else what,
                      show_header=True, header_style="bold")
        table.add_column("model")
        table.add_column("validation", justify="right")
        table.add_column("test", justify="right")
        table.add_row(
            f"nasforge best (Trial#{best['number']})",
            _value(metrics.get(val), units.get(val, "")),
            _value(metrics.get(test), units.get(test, "")),
        )
        for name, acc in getattr(study.parts.task, "references", {}).items():
            table.add_row(f"[dim]{name}[/]", "", f"[dim]{acc:.0f}%[/]")
        out.print(table)
        if "val_r2" in metrics:  # regression: the share of variance explained, beside the error
            out.print(f"r2: validation {_value(metrics['val_r2'], '')}, test "
                      f"{_value(metrics.get('test_r2'), '')}")
        costs = [f"{k} {metrics[k]:,.0f}" for k in ("params", "flops") if k in metrics]
        if costs:
            out.print("cost: " + ", ".join(costs))
    if data.get("final_pick"):  # `finalize`: the best by mean over retrained seeds
        from nasforge.cli.retrain import print_pick

        print_pick(out, data["final_pick"], data.get("units", {}))
    if len(study.spec.objectives) > 1:
        front, hv = data.get("pareto_front", []), data.get("hypervolume")
        line = f"Pareto front: {len(front)} trial{'' if len(front) == 1 else 's'}"
        if hv is not None and hv.get("value") is not None:
            where = ", ".join(f"{m}={v:g}" for m, v in hv["reference"].items())
            line += f", hypervolume {hv['value']:.4g} (reference point {where})"
        if study.directory is not None:
            line += f"; list it with: nasforge show {study.directory}"
        out.print(escape(line), highlight=False)
    if data.get("constraints"):
        n_bad = data["states"].get("INFEASIBLE", 0)
        out.print(escape(f"constraints: {', '.join(data['constraints'])}; {n_bad} candidates "
                         "infeasible before training (not trained)"), highlight=False)
    if finished.remeasured:
        n = len({r.number for r in finished.remeasured})
        which = ("best trial" if len(study.spec.objectives) == 1
                 else f"{n} front trial{'' if n == 1 else 's'}")
        out.print(f"latency of the {which} measured again after the search, without training "
                  "beside it: nasforge show lists both")
    energy = data.get("energy")  # summed once by finish_study, not read from the store again
    if energy and energy.get("n_trials"):
        from nasforge.report.data import EnergyTotal, energy_sentence

        out.print(escape(energy_sentence(EnergyTotal(**energy))), highlight=False)
    if study.directory is not None:
        out.print(f"study store:   {study.directory / DB_NAME}")
    if finished.summary_path is not None:
        out.print(f"summary:       {finished.summary_path}")
    if finished.report_path is not None:
        out.print(f"report:        {finished.report_path}")
    if finished.export_dir is not None:
        out.print(f"best model:    {finished.export_dir}  (load with nasforge.load(...))")
    elif finished.export_error:
        out.print(f"[yellow]best model not exported[/]: {escape(finished.export_error)}")
