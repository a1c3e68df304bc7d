"""``nasforge search``: run a search from a YAML run spec."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from nasforge.cli.main import app, err, user_errors

if TYPE_CHECKING:
    from nasforge.run.study import Study

SET_HELP = (
    "Override a setting: KEY=VALUE with a dotted key, e.g. --set budget.trials=10. Repeatable."
)


@app.command(
    epilog="Example: nasforge search examples/demo.yaml --set budget.trials=10 "
    "--set executor.workers=1"
)
@user_errors
def search(
    config: Path = typer.Argument(..., help="YAML run spec (see examples/)."),
    set_: list[str] = typer.Option([], "--set", "-s", help=SET_HELP, metavar="KEY=VALUE"),
    overwrite: bool = typer.Option(False, help="Delete an existing study of the same name first."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Run a search: ask, evaluate, store every trial, then export the best model.

    The study lives in ROOT/NAME (default runs/NAME) and can be resumed if it stops.
    Exits 0 when the study produced a result, 1 when it ran but failed (no trial completed,
    too many failures in a row, a broken executor), 2 for a mistake in the input.
    """
    from nasforge.errors import ConfigError
    from nasforge.run.front import Front
    from nasforge.run.spec import load_spec
    from nasforge.run.study import Study

    spec = load_spec(config, set_)
    try:
        study = Study.create(spec, overwrite=overwrite, front=Front.CLI)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=str(config)) from None
    run_study(study, progress)


def run_study(study: Study, progress: bool) -> None:
    """Run a study with a progress bar and print how it ended; on Ctrl-C, say how to resume."""
    from nasforge.cli.finish import print_finished
    from nasforge.cli.progress import ProgressBar
    from nasforge.cli.retrain import RetrainProgress
    from nasforge.run.api import run_and_finish
    from nasforge.run.loop import ExecutorBrokenError

    try:
        bars = [ProgressBar(), RetrainProgress()] if progress else []  # the search, `finalize`
        finished = run_and_finish(study, bars)
    except KeyboardInterrupt:
        err.print(
            f"\n[yellow]interrupted[/]: completed trials are stored; continue with "
            f"[bold]nasforge resume {study.directory}[/]"
        )
        raise typer.Exit(130) from None
    except ExecutorBrokenError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        err.print(f"trials it was running are kept; continue with "
                  f"[bold]nasforge resume {study.directory}[/] once it is fixed")
        raise typer.Exit(1) from None
    print_finished(study, finished)
    if finished.failure is not None:
        err.print(f"[bold red]study failed:[/] {escape(finished.failure)}", highlight=False,
                  soft_wrap=True)
        err.print(f"see [bold]nasforge show {study.directory}[/] for every failed trial")
        raise typer.Exit(1)
