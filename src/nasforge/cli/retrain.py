"""``nasforge retrain``: train the chosen architectures again, several seeds each, and pick by mean.

The work is in :mod:`nasforge.run.retrain`; this prints a progress bar and the table of each
architecture's mean ± std and 95 % interval, with the pick.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from nasforge.cli.main import app, err, user_errors

if TYPE_CHECKING:
    from nasforge.run.study import Study
    from nasforge.trial import Trial

out = Console()

_SET_HELP = ("Change the retrain's task, space or evaluator: KEY=VALUE with a dotted key under "
             "task., space. or evaluator., e.g. --set space.dims=1. Repeatable.")


class RetrainProgress:
    """Seeds trained out of those asked for, and the failure count (a retrain callback)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=self.console, transient=False,
        )
        self.task: TaskID | None = None
        self.failed = 0

    def _status(self) -> str:
        return f"[red]{self.failed} failed[/]" if self.failed else ""

    def on_retrain_start(self, study: Study, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task(f"{study.name} retrain", total=total,
                                           completed=done, status=self._status())

    def on_trial_finished(self, study: Study, trial: Trial) -> None:
        from nasforge.trial import TrialState

        if self.task is None:  # a search trial, before the retrain of `finalize` started
            return
        self.failed += trial.state is not TrialState.COMPLETE
        self.progress.update(self.task, advance=1, status=self._status())

    def on_retrain_end(self, study: Study) -> None:
        self.progress.stop()


def _spread(data: Mapping[str, Any] | None) -> tuple[str, str]:
    """``93.06 ± 1.96`` and ``[75.41, 110.7]`` (or ``—`` where a seed count is too small)."""
    if not data:
        return "—", ""
    mean, std, ci = data["mean"], data.get("std"), data.get("ci95")
    text = f"{mean:.2f}" + ("" if std is None else f" ± {std:.2f}")
    interval = "" if ci is None else f"{ci[0]:.1f}–{ci[1]:.1f}"
    return text, interval


def print_pick(console: Console, data: Mapping[str, Any], units: Mapping[str, str]) -> None:
    """The table of a retrain (``retrain.json``'s content): per architecture the seeds, mean ±
    std and 95 % interval of the picked-by metric and its test counterpart; the pick below."""
    metric, test = data["metric"], data.get("test_metric")
    table = Table(title=f"retrained from scratch, {data['epochs']} epochs, {data['seeds']} "
                        f"seeds each; picked by mean {metric}", header_style="bold")
    from nasforge.cli.show import header

    table.add_column("", no_wrap=True)
    for name in ("from", "seeds", header(metric, dict(units)), "95% CI",
                 header(test, dict(units)) if test else "test", "95% CI"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    winner = data.get("winner") or {}
    archs = []
    for row in data["architectures"]:
        metrics = row["metrics"]
        val, val_ci = _spread(metrics.get(metric))
        tst, tst_ci = _spread(metrics.get(test) if test else None)
        n_ok = len(row["trials"]) - row["n_failed"]
        seeds = f"{n_ok}" + (f" (+{row['n_failed']} failed)" if row["n_failed"] else "")
        mark = "*" if winner and row["arch_string"] == winner.get("arch_string") else ""
        source = "" if row.get("from_trial") is None else f"#{row['from_trial']}"
        table.add_row(mark, source, seeds, val, val_ci, tst, tst_ci)
        archs.append(f"{mark or ' '} {source or '-'}  {row['arch_string']}")
    console.print(table)
    for line in archs:
        console.print(escape(line), highlight=False)
    if winner:
        found = winner["metrics"].get(metric)
        unit, test_unit = units.get(metric, ""), units.get(test or "", "")
        val = _spread(found)[0] + unit
        tst = _spread(winner["metrics"].get(test) if test else None)[0] + test_unit
        console.print(f"final pick: [cyan]{escape(winner['arch_string'])}[/] "
                      f"(from Trial#{winner.get('from_trial')}): {metric} {val}, "
                      f"{test or 'test'} {tst}", highlight=False)
    else:
        console.print("[yellow]final pick: none[/] (no retrained seed completed)")


def _changes(task: str | None, evaluator: str | None, sets: list[str]) -> dict[str, Any]:
    """The ``task``/``space``/``evaluator`` overrides of the command line, as sections."""
    from nasforge.errors import ConfigError, Problem
    from nasforge.run.spec import apply_overrides

    data: dict[str, Any] = {}
    if task is not None:
        data["task"] = {"name": task}
    if evaluator is not None:
        data["evaluator"] = {"name": evaluator}
    bad = [s for s in sets if s.partition("=")[0].strip().split(".")[0]
           not in ("task", "space", "evaluator")]
    if bad:
        raise ConfigError([Problem("--set", f"{bad[0]!r} changes no section retrain uses",
                                   "set task.*, space.* or evaluator.* (e.g. --set "
                                   "space.dims=1); the rest of the study stays as it was")])
    apply_overrides(data, sets)
    for key in ("task", "evaluator"):
        if key in data and "name" not in data[key]:
            raise ConfigError([Problem(f"--set {key}.*", f"changes a {key} without a name",
                                       f"also pass --{key} NAME")])
    return data


@app.command(epilog="Example: nasforge retrain runs/demo --top 3 --epochs 30 --seeds 3")
@user_errors
def retrain(
    study_dir: Path = typer.Argument(..., help="The study folder (holds study.db)."),
    trial: int | None = typer.Option(None, "--trial", help="Retrain this trial only."),
    top: int | None = typer.Option(
        None, "--top", help="Retrain the K best distinct architectures (default 3)."),
    epochs: int | None = typer.Option(
        None, "--epochs", help="The longer schedule (default: the study evaluator's epochs)."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per architecture."),
    task: str | None = typer.Option(
        None, "--task", help="Train on this task instead (e.g. mnist1d for a table study)."),
    evaluator: str | None = typer.Option(
        None, "--evaluator", help="Use this evaluator instead (default: the study's; 'train' "
        "when --task replaces a table study's task)."),
    set_: list[str] = typer.Option([], "--set", "-s", help=_SET_HELP, metavar="KEY=VALUE"),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Train the chosen architectures from scratch with a longer schedule, several seeds each,
    and pick the winner by the mean validation score (the test score is shown, never used).

    Each seed is stored as a trial of source `retrain`, so a killed retrain continues where it
    stopped when run again; the pick goes to STUDY_DIR/retrain.json. Exits 0 when a winner was
    picked, 1 when no seed completed, 2 for a mistake in the input.
    """
    from nasforge.run.front import Front
    from nasforge.run.loop import ExecutorBrokenError
    from nasforge.run.study import Study

    study = Study.open(study_dir)
    changes = _changes(task, evaluator, set_)
    try:
        report = study.retrain(
            trial=trial, top=top, epochs=epochs, seeds=seeds, front=Front.CLI,
            callbacks=[RetrainProgress()] if progress else [], **changes,
        )
    except KeyboardInterrupt:
        err.print(f"\n[yellow]interrupted[/]: completed seeds are stored; run the same "
                  f"[bold]nasforge retrain {study_dir}[/] command again to continue")
        raise typer.Exit(130) from None
    except ExecutorBrokenError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    print_pick(out, report.to_dict(), study.units())
    if report.path is not None:
        out.print(f"retrain:       {report.path}", soft_wrap=True)
    if report.winner is None:
        raise typer.Exit(1)
