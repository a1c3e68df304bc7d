"""``nasforge resume``: carry on a stopped or killed study."""

from __future__ import annotations

from pathlib import Path

import typer

from nasforge.cli.main import app, user_errors
from nasforge.cli.search import SET_HELP, run_study
from nasforge.errors import ConfigError, Problem
from nasforge.run.parts import build_parts
from nasforge.run.spec import apply_overrides, parse_spec
from nasforge.run.study import Study

#: Settings that may change on resume; anything else would make the replay diverge.
RESUMABLE = ("budget", "executor", "trial_time_limit_s", "export_best")


@app.command(epilog="Example: nasforge resume runs/demo --set budget.trials=80")
@user_errors
def resume(
    study_dir: Path = typer.Argument(..., help="The study folder (holds study.db)."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        "-s",
        help=SET_HELP + " Only budget.*, "
        "executor.*, trial_time_limit_s and export_best may change.",
        metavar="KEY=VALUE",
    ),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Resume a study: trials left running are re-run, finished ones are kept, the search goes on.

    The strategy is rebuilt by replaying the stored trials, so the search continues exactly as
    if it had never stopped.
    """
    study = Study.open(study_dir)
    if set_:
        bad = [s for s in set_ if s.partition("=")[0].split(".")[0] not in RESUMABLE]
        if bad:
            raise ConfigError(
                [
                    Problem(
                        "--set",
                        f"{b.partition('=')[0]!r} cannot change on "
                        "resume (the stored trials were made with it)",
                        f"only {', '.join(RESUMABLE)} may change",
                    )
                    for b in bad
                ]
            )
        data = apply_overrides(study.spec.model_dump(mode="json"), set_)
        study.spec = parse_spec(data, source="--set", check=False)
        study.parts = build_parts(study.spec)
        study.store.update_study(study.record.id, spec=study.spec.model_dump(mode="json"))
    run_study(study, progress)
