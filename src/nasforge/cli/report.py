"""``nasforge report``: the offline HTML report of one or several studies, with PNG figures."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nasforge.cli.main import app, user_errors


@app.command(epilog="Example: nasforge report runs/demo runs/demo-random --out compare.html")
@user_errors
def report(
    study_dirs: list[Path] = typer.Argument(..., help="One or more study folders (each holds "
                                            "study.db); several are compared."),
    out: Path | None = typer.Option(None, "--out", "-o", help="The HTML file to write "
                                    "(default: STUDY_DIR/report.html for one study, "
                                    "report.html here for several)."),
    pngs: bool = typer.Option(True, help="Also write PNG figures for papers beside the file."),
) -> None:
    """Write one self-contained HTML report that works offline (plotly embedded, no CDN).

    It holds the best so far against trials and time, the distribution of results, learning
    curves, the Pareto front with its hypervolume, the decisions in parallel coordinates,
    pictures of the best architectures, which choices matter (fANOVA importance and per-choice
    effects), one-shot weights, failed and infeasible trials, steering events, the
    configuration, cost and environment. PNG figures go to a folder beside it
    (``report_figures/``).
    """
    from nasforge.errors import ConfigError, Problem
    from nasforge.report import write_report
    from nasforge.run.study import Study

    seen: set[Path] = set()
    for d in study_dirs:
        if d.resolve() in seen:
            raise ConfigError([Problem("STUDY_DIR", f"{d} is given twice",
                                       "name each study folder once")])
        seen.add(d.resolve())
    studies = [Study.open(d) for d in study_dirs]
    path = out if out is not None else (
        study_dirs[0] / "report.html" if len(studies) == 1 else Path("report.html"))
    if path.exists() and path.is_dir():
        raise ConfigError([Problem("--out", f"{path} is a folder", "give a file name such as "
                                   f"{path / 'report.html'}")])
    if not path.parent.is_dir():
        raise ConfigError([Problem("--out", f"the folder {path.parent} does not exist",
                                   "create it first, or choose another --out")])
    figures = path.with_name(f"{path.stem}_figures") if pngs else None
    written = write_report(studies if len(studies) > 1 else studies[0], path, figures=figures)
    console = Console()
    console.print(f"report written to {written}", highlight=False)
    if figures is not None and figures.is_dir():
        console.print(f"PNG figures in {figures}", highlight=False)
