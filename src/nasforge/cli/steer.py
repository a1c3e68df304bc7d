"""``nasforge steer``: pause, resume, stop, forbid, pin, inject or re-budget a study.

A thin shell over :func:`nasforge.steer`: the study reads the event between trials (now, if a
process runs it; else at its next resume), and the same checks refuse a choice that is not in
the space or a forbid that leaves a decision with no option.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from nasforge.cli.main import app, user_errors

ACTIONS = ("pause", "resume", "stop", "forbid", "pin", "inject", "budget")

_EPILOG = (
    "Example: nasforge steer runs/demo forbid op=avg_pool_3x3 · "
    "nasforge steer runs/demo pin cell.edge_1_0=nor_conv_3x3 · "
    'nasforge steer runs/demo inject "ARCH" · nasforge steer runs/demo budget '
    "trials=200 · nasforge steer runs/demo pause"
)


def parse_steer(action: str, args: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """The events ``nasforge steer STUDY_DIR ACTION ARGS...`` means, as ``(kind, payload)``.

    ``forbid``/``pin`` take ``op=VALUE`` (every decision offering it) or ``DECISION=VALUE``, one
    event each; ``inject`` takes architectures (one event each); ``budget`` takes
    ``trials=N``, ``minutes=M``, ``cost_s=S`` (one event); the others take nothing.

    Raises:
        ConfigError: an unknown action or a malformed argument, in the command's syntax.

    Example:
        >>> for event in parse_steer("forbid", ["op=avg_pool_3x3", "cell.edge_1_0=none"]):
        ...     print(event)
        ('forbid', {'op': 'avg_pool_3x3'})
        ('forbid', {'decision': 'cell.edge_1_0', 'value': 'none'})
    """
    from nasforge.errors import ConfigError, Problem

    def bad(message: str, fix: str) -> ConfigError:
        return ConfigError([Problem(f"nasforge steer {action}", message, fix)])

    if action not in ACTIONS:
        raise ConfigError([Problem("ACTION", f"unknown action {action!r}",
                                   f"use one of: {', '.join(ACTIONS)}")])
    if action in ("pause", "resume", "stop"):
        if args:
            raise bad(f"takes no arguments; got {' '.join(args)!r}", f"nasforge steer DIR {action}")
        return [(action, {})]
    if not args:
        example = {"forbid": "op=avg_pool_3x3", "pin": "cell.edge_1_0=nor_conv_3x3",
                   "inject": '"ARCH"', "budget": "trials=200"}[action]
        raise bad("needs an argument", f"e.g. nasforge steer DIR {action} {example}")
    if action == "inject":
        return [("inject", {"arch": arch}) for arch in args]
    pairs = []
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep or not name or not value:
            form = "trials=N" if action == "budget" else "op=VALUE or DECISION=VALUE"
            raise bad(f"{arg!r} is not NAME=VALUE", f"write {form}")
        pairs.append((name, value))
    if action == "budget":
        budget: dict[str, Any] = {}
        for name, value in pairs:
            if name not in ("trials", "minutes", "cost_s"):
                raise bad(f"unknown budget field {name!r}", "use trials=, minutes= or cost_s=")
            try:
                budget[name] = int(value) if name == "trials" else float(value)
            except ValueError:
                raise bad(f"{name}={value!r} is not a number", f"e.g. {name}=200") from None
        return [("budget", budget)]
    return [(action, {"op": value} if name == "op" else {"decision": name, "value": value})
            for name, value in pairs]


@app.command(epilog=_EPILOG)
@user_errors
def steer(
    study_dir: Path = typer.Argument(..., help="The study folder (holds study.db)."),
    action: str = typer.Argument(..., help="pause, resume, stop, forbid, pin, inject or "
                                 "budget."),
    args: list[str] = typer.Argument(None, help="forbid/pin: op=VALUE or DECISION=VALUE; "
                                     "inject: an architecture; budget: trials=N minutes=M "
                                     "cost_s=S."),
) -> None:
    """Steer a study: it applies the event between trials, now if it runs, else when resumed.

    forbid/pin restrict the space the strategy samples, mutates and explores from the next
    trial on; inject evaluates an architecture next; budget sets new totals.
    """
    from nasforge.run.steering import steer as steer_study

    for kind, payload in parse_steer(action, args or []):
        event_id = steer_study(study_dir, kind, **payload)
        details = " ".join(f"{k}={v}" for k, v in payload.items())
        typer.echo(f"event {event_id}: {kind}{' ' + details if details else ''} "
                   f"(the study applies it before its next trial)")
