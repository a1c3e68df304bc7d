"""What ``search`` and ``resume`` print and write when a study ends."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from nasforge.errors import NasforgeError
from nasforge.run.study import Study, summary

out = Console()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def finish_study(study: Study) -> dict[str, Any]:
    """Write summary.json (and the best model's export) and print where everything went."""
    data = summary(study)
    directory = study.directory
    export_dir = None
    export_error = None
    best_trial = study.best().trial if data["best"] is not None else None
    has_weights = best_trial is not None and study.weights_path(best_trial) is not None
    if has_weights and study.spec.export_best and directory is not None:
        try:
            info = study.export()
            export_dir = str(info.out_dir)
        except NasforgeError as exc:
            export_error = str(exc)
    data["export"] = export_dir
    report_path = None
    if directory is not None:
        (directory / "summary.json").write_text(json.dumps(data, indent=2))
        try:
            from nasforge.report import write_report

            report_path = write_report(study, directory / "report.html")
        except ImportError:
            report_path = None
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(data["states"].items()))
    out.print(
        f"\n[bold]{study.name}[/]: {data['trials']} trials ({states}) "
        f"in {data['elapsed_s'] / 60:.1f} min"
    )
    best = data["best"]
    if best is None:
        out.print("[yellow]no trial completed[/]; see `nasforge show` for the failure reasons")
    else:
        metrics = best["metrics"]
        out.print(f"best: Trial#{best['number']}  [cyan]{best['arch_string']}[/]")
        table = Table(title="accuracy (percent)", show_header=True, header_style="bold")
        table.add_column("model")
        table.add_column("validation", justify="right")
        table.add_column("test", justify="right")
        table.add_row(
            f"nasforge best (Trial#{best['number']})",
            _pct(metrics.get("val_accuracy")),
            _pct(metrics.get("test_accuracy")),
        )
        for name, acc in getattr(study.parts.task, "references", {}).items():
            table.add_row(f"[dim]{name}[/]", "", f"[dim]{acc:.0f}%[/]")
        out.print(table)
        costs = [f"{k} {metrics[k]:,.0f}" for k in ("params", "flops") if k in metrics]
        if costs:
            out.print("cost: " + ", ".join(costs))
    if directory is not None:
        out.print(f"study store:   {directory / 'study.db'}")
        out.print(f"summary:       {directory / 'summary.json'}")
        if report_path is not None:
            out.print(f"report:        {report_path}")
    if export_dir:
        out.print(f"best model:    {export_dir}  (load with nasforge.load(...))")
    elif export_error:
        out.print(f"[yellow]best model not exported[/]: {export_error}")
    return data
