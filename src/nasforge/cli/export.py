"""``nasforge export``: a trained architecture as a standalone module, weights and ONNX."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nasforge.cli.main import app, user_errors


@app.command(epilog="Example: nasforge export runs/demo --trial 12 --out exported/")
@user_errors
def export(
    study_dir: Path = typer.Argument(..., help="The study folder (holds study.db)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the export to."),
    trial: int | None = typer.Option(None, min=0, help="Trial number (default: the best)."),
    onnx: bool = typer.Option(True, help="Also write model.onnx, checked with onnxruntime."),
    overwrite: bool = typer.Option(False, help="Replace an earlier export in the same folder."),
) -> None:
    """Export a trial's trained network: model.py (needs only torch), weights, ONNX, JSON.

    Load it back with nasforge.load(OUT), without the study.
    """
    from nasforge.errors import ConfigError, Problem
    from nasforge.export import ExportExistsError, ExportPathError
    from nasforge.imports import MissingDependencyError
    from nasforge.run.study import Study

    study = Study.open(study_dir)
    # The library's messages name its Python arguments; say the same with this command's options.
    try:
        info = study.export(out, trial=trial, onnx=onnx, overwrite=overwrite)
    except ExportExistsError as exc:
        raise ConfigError([Problem(
            "--out", f"export directory {exc.path} already exists and is not empty",
            "pass --overwrite to replace an earlier export, or choose another --out")]) from None
    except ExportPathError as exc:
        raise ConfigError([Problem(
            "--out", f"{exc.path} {exc.reason}",
            "pass the export folder's own path (e.g. --out exports/best), not a symbolic link "
            "or a path ending in '..'")]) from None
    except MissingDependencyError as exc:
        if exc.extra != "onnx":
            raise
        raise ConfigError([Problem(
            "--onnx", f"{exc.feature} needs the {exc.module!r} package, which is not installed",
            f"{exc.install}, or pass --no-onnx to export without model.onnx")]) from None
    console = Console()
    console.print(f"exported to {info.out_dir}")
    if info.onnx is not None:
        console.print(f"ONNX checked with onnxruntime: max abs difference "
                      f"{info.onnx_max_abs_diff:.2e}")
