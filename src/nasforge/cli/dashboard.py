"""``nasforge dashboard``: watch and steer studies live in a browser."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from nasforge.cli.main import app, user_errors


@app.command(epilog="Example: nasforge dashboard runs --port 8765")
@user_errors
def dashboard(
    path: Path = typer.Argument(..., help="A study folder, or a folder of study folders.",
                                metavar="STUDY_DIR|ROOT"),
    port: int = typer.Option(8765, "--port", "-p", help="The port to listen on."),
    host: str = typer.Option("127.0.0.1", help="The address to listen on (127.0.0.1: this "
                             "machine only)."),
) -> None:
    """Serve a live dashboard of the studies under PATH (progress, best, recent trials,
    trajectory, front, events) with pause/resume/stop, forbid/pin, inject and budget controls.

    Prints a master token at start-up; the page steers with it. Each study has its own
    steering token (GET /api/studies/NAME/token with `Authorization: Bearer MASTER` gives it),
    sent as `Authorization: Bearer TOKEN` to POST /api/studies/NAME/events; reading needs
    nothing. Stop with Ctrl-C.
    """
    from nasforge.report.dashboard import Dashboard, check_port

    check_port(host, port)  # before anything is opened: a taken port is a clear error
    board = Dashboard(path, host=host, port=port)
    names = board.studies.names()
    count = f"{len(names)} stud{'y' if len(names) == 1 else 'ies'}"
    typer.echo(f"nasforge dashboard on {board.url}: {count} under {path}"
               + ("" if names else " (studies started there later appear by themselves)"))
    typer.echo(f"steering token: {board.token}")
    typer.echo(f"open {board.url}#token={board.token} to steer from the page; Ctrl-C stops")
    typer.echo(f"to steer a study by HTTP, get its own token: curl -H 'Authorization: Bearer "
               f"{board.token}' {board.url}api/studies/NAME/token")
    sys.stdout.flush()  # the token must reach a log file or pipe before serving blocks
    board.run()
