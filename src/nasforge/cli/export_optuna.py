"""``nasforge export-optuna``: a study's trials in an Optuna storage, for Optuna's own tools."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nasforge.cli.main import app, user_errors


@app.command("export-optuna",
             epilog="Example: nasforge export-optuna runs/demo --storage sqlite:///demo.db")
@user_errors
def export_optuna(
    study_dir: Path = typer.Argument(..., help="The study folder (holds study.db)."),
    storage: str = typer.Option(..., "--storage", help="An Optuna storage URL, e.g. "
                                "sqlite:///optuna.db."),
    study_name: str | None = typer.Option(None, "--study-name", help="The Optuna study's name "
                                          "(default: the nasforge study's)."),
    overwrite: bool = typer.Option(False, help="Replace an Optuna study of the same name."),
) -> None:
    """Write the trials into an Optuna storage: one categorical parameter per decision, the
    objectives as values, the first objective's learning curve as intermediate values, every
    metric and the architecture as user attributes.

    Then ``optuna-dashboard sqlite:///optuna.db``, ``optuna.load_study`` and
    ``optuna.visualization`` work on the nasforge study.
    """
    from nasforge.errors import ConfigError, Problem
    from nasforge.report.optuna_bridge import export_optuna as export
    from nasforge.run.study import Study

    study = Study.open(study_dir)
    try:
        target = export(study, storage, study_name=study_name, overwrite=overwrite)
    except ConfigError as exc:  # the library names its arguments; say this command's options
        raise ConfigError([Problem({"study_name": "--study-name"}.get(p.field, f"--{p.field}"),
                                   p.message, p.fix.replace("overwrite=True", "--overwrite"))
                           for p in exc.problems]) from None
    Console().print(f"{len(target.trials)} trials written to {storage} as study "
                    f"{target.study_name!r}", highlight=False)
