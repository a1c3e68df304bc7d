"""``nasforge search``: run a search from a YAML run spec."""

from __future__ import annotations

from pathlib import Path

import typer

from nasforge.cli.finish import finish_study
from nasforge.cli.main import app, err, user_errors
from nasforge.cli.progress import ProgressBar
from nasforge.run.spec import load_spec
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
    """
    spec = load_spec(config, set_)
    study = Study.create(spec, overwrite=overwrite)
    run_study(study, progress)


def run_study(study: Study, progress: bool) -> None:
    """Run a study with a progress bar; on Ctrl-C, say how to resume."""
    try:
        study.run([ProgressBar()] if progress else [])
    except KeyboardInterrupt:
        err.print(
            f"\n[yellow]interrupted[/]: completed trials are stored; continue with "
            f"[bold]nasforge resume {study.directory}[/]"
        )
        raise typer.Exit(130) from None
    finish_study(study)
