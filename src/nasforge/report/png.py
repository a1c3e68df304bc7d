"""Static PNG figures for papers, drawn with matplotlib beside the HTML report.

plotly's static export needs kaleido and a Chrome it downloads, so the paper figures are
matplotlib's (the ``plot`` extra): the best so far against trials, the distribution of the
first objective, the Pareto front, and the fANOVA importance. Each study's curves share axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nasforge.imports import try_import
from nasforge.report.data import HistoryPoint
from nasforge.report.importance import Importance


def _pyplot() -> Any:
    with try_import("plot", "Drawing the report's PNG figures") as imports:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    imports.check()
    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=150, bbox_inches="tight")
    fig.clf()
    _pyplot().close(fig)
    return path


def write_pngs(
    folder: Path,
    *,
    metric: str,
    histories: Mapping[str, Sequence[HistoryPoint]],
    front: Sequence[tuple[float, float]] = (),
    front_axes: tuple[str, str] | None = None,
    importance: Sequence[Importance] = (),
) -> list[Path]:
    """Write the PNG figures into ``folder`` (created) and return their paths."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, points in histories.items():
        best = [(p.number, p.best_so_far) for p in points if p.best_so_far is not None]
        ax.step([n for n, _ in best], [v for _, v in best], where="post", label=name)
    ax.set_xlabel("trial")
    ax.set_ylabel(f"best {metric}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    written.append(_save(fig, folder / "best_so_far.png"))
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, points in histories.items():
        ax.hist([p.value for p in points if p.value is not None], bins=30, alpha=0.6, label=name)
    ax.set_xlabel(metric)
    ax.set_ylabel("trials")
    ax.legend(loc="best", fontsize=8)
    written.append(_save(fig, folder / "distribution.png"))
    if front and front_axes is not None:
        fig, ax = plt.subplots(figsize=(5, 3.6))
        along = sorted(front)
        ax.plot([x for x, _ in along], [y for _, y in along], "o-", color="C3")
        ax.set_xlabel(front_axes[0])
        ax.set_ylabel(front_axes[1])
        ax.grid(alpha=0.3)
        written.append(_save(fig, folder / "pareto_front.png"))
    if importance:
        fig, ax = plt.subplots(figsize=(5, 0.4 + 0.3 * len(importance)))
        ordered = list(reversed(importance))
        ax.barh([i.decision for i in ordered], [i.importance for i in ordered], color="C0")
        ax.set_xlabel(f"fANOVA importance for {metric}")
        written.append(_save(fig, folder / "importance.png"))
    return written
