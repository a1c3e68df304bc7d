"""The ``nasforge`` command: search, resume, retrain, ls, show, export, components, delete,
steer, dashboard, report, export-optuna.

User mistakes (a bad config, a missing study) print one clear message and exit with code 2;
they never show a traceback.

``nasforge --help`` stays fast because command modules import only typer and rich at the top;
whatever needs torch, numpy or the study machinery is imported inside the command function.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from nasforge.errors import NasforgeError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="nasforge",
    help="Neural Architecture Search on PyTorch.\n\nStart with: nasforge search examples/demo.yaml",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
err = Console(stderr=True)


def user_errors(fn: F) -> F:
    """Turn nasforge errors into a message and exit code 2 instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NasforgeError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def format_number(value: float | None) -> str:
    """The one number format of the command's tables: 98.88, 125.0k, 3.2M, 1.5G.

    Integers below 10,000 print in full (``8``, ``2048``); ``None`` prints as an empty cell.
    """
    if value is None:
        return ""
    if abs(value) >= 1e9:
        return f"{value / 1e9:.3g}G"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:.4g}"


def _print_version(value: bool) -> None:
    if value:
        from nasforge import __version__

        typer.echo(f"nasforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log each failed trial and resume details."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the nasforge version and exit.",
    ),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _register() -> None:
    from nasforge.cli import (  # noqa: F401
        components,
        dashboard,
        delete,
        export,
        export_optuna,
        ls,
        report,
        resume,
        retrain,
        search,
        show,
        steer,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nasforge`` script; returns the exit code."""
    from nasforge.plugins import load_plugins_once

    _register()
    try:
        load_plugins_once()
        app(args=argv, prog_name="nasforge")
    except NasforgeError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
