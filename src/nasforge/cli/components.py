"""``nasforge components``: what spaces, strategies, evaluators, tasks and executors exist."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from nasforge.cli.main import app, user_errors


@app.command(epilog="Example: nasforge components strategy")
@user_errors
def components(
    kind: str = typer.Argument("all", help="space, strategy, evaluator, task, executor or all."),
) -> None:
    """List the registered components and their parameters (what YAML sections accept)."""
    from nasforge.config import params_model
    from nasforge.run import parts

    registries = parts.registries()
    if kind != "all" and kind not in registries:
        from nasforge.errors import ConfigError, Problem

        raise ConfigError(
            [Problem("KIND", f"unknown kind {kind!r}", f"use one of: all, {', '.join(registries)}")]
        )
    table = Table(header_style="bold")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("parameters (default)")
    for name, registry in registries.items():
        if kind not in ("all", name):
            continue
        for entry in registry.names():
            cls = registry.get(entry)
            model = params_model(cls)
            params = ", ".join(
                f"{f}={info.default!r}" if not info.is_required() else f"{f} (required)"
                for f, info in model.model_fields.items()
            )
            table.add_row(name, entry, params)
    Console().print(table)
