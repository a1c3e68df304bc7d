"""``nasforge show``: a study's best trials and its failures."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from nasforge.cli.main import app, user_errors
from nasforge.run.study import Study, summary
from nasforge.trial import TrialState

SHOWN = ("val_accuracy", "test_accuracy", "params", "flops", "train_seconds", "epochs")


HEADERS = {"val_accuracy": "val %", "test_accuracy": "test %", "train_seconds": "train s"}


def _fmt(value: float | None) -> str:
    """Compact numbers: 98.88, 125.0k, 3.2M."""
    if value is None:
        return ""
    if abs(value) >= 1e9:
        return f"{value / 1e9:.3g}G"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:.4g}"


@app.command(epilog="Example: nasforge show runs/demo --top 5")
@user_errors
def show(
    study_dir: Path = typer.Argument(..., help="The study folder (holds study.db)."),
    top: int = typer.Option(10, min=1, help="How many of the best trials to list."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead."),
) -> None:
    """Show the top trials of a study as a table, and every failed trial with its reason."""
    study = Study.open(study_dir)
    console = Console()
    if as_json:
        console.print_json(json.dumps(summary(study)))
        return
    objective_metrics = [o.metric for o in study.spec.objectives]
    columns = list(dict.fromkeys([*objective_metrics, *SHOWN]))
    trials = study.trials()
    present = [c for c in columns if any(c in t.metrics for t in trials)]
    table = Table(title=f"{study.name}: top {top} of {len(trials)} trials "
                  f"({', '.join(map(str, study.spec.objectives))})", header_style="bold")
    table.add_column("#", justify="right")
    for column in present:
        table.add_column(HEADERS.get(column, column), justify="right")
    table.add_column("architecture", overflow="fold")
    for trial in study.ranked()[:top]:
        table.add_row(str(trial.number), *(_fmt(trial.metrics.get(c)) for c in present),
                      study.parts.space.format(trial.arch))
    console.print(table)
    bad = [t for t in trials if t.state not in (TrialState.COMPLETE,)]
    if bad:
        failures = Table(title="not completed", header_style="bold")
        failures.add_column("#", justify="right")
        failures.add_column("state")
        failures.add_column("reason", overflow="fold")
        for trial in bad:
            reason = trial.result.reason if trial.result else "running, or killed while running"
            failures.add_row(str(trial.number), trial.state.value, reason or "")
        console.print(failures)
