"""``nasforge ls``: the studies under a folder."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from nasforge.cli.main import app, format_number, user_errors


@app.command(name="ls", epilog="Example: nasforge ls runs")
@user_errors
def ls(root: Path = typer.Argument(Path("runs"), help="Folder holding study folders.")) -> None:
    """List the studies under ROOT with their status, trial counts and best result."""
    from nasforge.errors import ConfigError, Problem
    from nasforge.run.study import DB_NAME
    from nasforge.store.sqlite import SQLiteStore, StoreError
    from nasforge.trial import TrialState

    if not root.is_dir():
        raise ConfigError(
            [
                Problem(
                    "ROOT",
                    f"no such folder: {root}",
                    "pass the folder your studies are in (default: runs)",
                )
            ]
        )
    table = Table(header_style="bold")
    for column in ("study", "status", "trials", "complete", "failed", "best", "folder"):
        table.add_column(
            column, justify="right" if column in ("trials", "complete", "failed") else "left"
        )
    found = 0
    for db in sorted(root.glob(f"*/{DB_NAME}")):
        try:
            store = SQLiteStore(db)
        except StoreError as exc:
            table.add_row(db.parent.name, f"[red]unreadable: {exc}[/]", "", "", "", "", "")
            continue
        for study in store.studies():
            trials = store.trials(study.id)
            complete = [t for t in trials if t.state is TrialState.COMPLETE]
            failed = [t for t in trials if t.state in (TrialState.FAILED, TrialState.TIMEOUT)]
            objective = (
                study.spec.get("objectives") or [{"metric": "val_accuracy", "direction": "max"}]
            )[0]
            values = [t.metrics.get(objective["metric"], math.nan) for t in complete]
            values = [v for v in values if not math.isnan(v)]
            best = ""
            if values:
                pick = max(values) if objective.get("direction", "max") == "max" else min(values)
                best = f"{objective['metric']} {format_number(pick)}"
            table.add_row(
                study.name,
                study.status,
                format_number(len(trials)),
                format_number(len(complete)),
                format_number(len(failed)),
                best,
                str(db.parent),
            )
            found += 1
        store.close()
    console = Console()
    if not found:
        console.print(f"no studies under {root}")
        return
    console.print(table)
