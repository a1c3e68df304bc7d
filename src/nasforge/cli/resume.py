"""``nasforge resume``: carry on a stopped or killed study."""

from __future__ import annotations

from pathlib import Path

import typer

from nasforge.cli.main import app, user_errors
from nasforge.cli.search import SET_HELP, run_study


@app.command(epilog="Example: nasforge resume runs/demo --set budget.trials=80")
@user_errors
def resume(
    study_dir: Path = typer.Argument(..., help="The study folder (holds study.db)."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        "-s",
        help=SET_HELP + " Only budget.*, executor.*, trial_time_limit_s, "
        "trial_memory_limit_gb, export_best, reproducible, max_consecutive_failures, "
        "max_failure_rate and failure_rate_min_trials may change.",
        metavar="KEY=VALUE",
    ),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Resume a study: trials left running are re-run, finished ones are kept, the search goes on.

    The strategy is rebuilt by replaying the stored trials, so the search continues exactly as
    if it had never stopped. Same exit codes as `nasforge search`.
    """
    from nasforge.run.api import open_for_resume
    from nasforge.run.front import Front

    run_study(open_for_resume(study_dir, overrides=set_, front=Front.CLI), progress)
