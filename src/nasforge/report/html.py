"""A self-contained HTML report of a study: summary, history plot, learning curves, top trials,
failures.

Learning curves (what evaluations reported per step, :meth:`Study.curves`) are drawn as one line
per trial of the first objective's metric, pruned trials in grey ending where they stopped;
without matplotlib they are a table (trial, steps, last step and value, pruned or not). Column
headers carry the unit the evaluator declares (``val_accuracy (%)``); other metrics are plain.

Plots are drawn with matplotlib and embedded as PNG, so the file opens offline anywhere.
matplotlib comes with the ``plot`` extra (``pip install 'nasforge[plot]'``); without it the report
is written without plots and says what to install.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nasforge.imports import MissingDependencyError, try_import
from nasforge.objective import is_feasible_trial, rank
from nasforge.report.data import curve_rows, energy_line, history, state_counts
from nasforge.trial import Trial, TrialState

if TYPE_CHECKING:
    from nasforge.run.study import Study

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td.l,th.l{text-align:left;font-family:monospace}
.bad{color:#b00}
"""

_COLUMNS = ("val_accuracy", "test_accuracy", "val_mse", "test_mse", "val_r2", "test_r2", "params",
            "flops", "train_seconds", "epochs")


def _png(fig: object) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buffer.getvalue()).decode()


def _history_plot(study: Study, trials: Sequence[Trial]) -> str:
    """The history plot as base64 PNG; :class:`MissingDependencyError` without matplotlib."""
    with try_import("plot", "Drawing the report's plots") as imports:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    imports.check()

    points = history(trials, study.spec.objectives, study.spec.constraints)
    metric = study.spec.objectives[0].metric
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ok = [(p.number, p.value) for p in points if p.value is not None]
    # plot() with markers, not scatter(): the same dots, drawn far faster for 50,000 trials.
    ax.plot([n for n, _ in ok], [v for _, v in ok], "o", ms=3.5, alpha=0.7, label="trial")
    best = [(p.number, p.best_so_far) for p in points if p.best_so_far is not None]
    ax.step([n for n, _ in best], [v for _, v in best], where="post", color="C3",
            label="best so far")
    failed = [p.number for p in points if p.value is None]
    if failed and ok:
        low = min(v for _, v in ok)
        ax.scatter(failed, [low] * len(failed), marker="x", color="k", label="failed")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    encoded = _png(fig)
    plt.close(fig)
    return encoded


def _curves_plot(metric: str, curves: dict[int, list[tuple[int, float]]],
                 pruned: set[int]) -> str:
    """The learning curves of ``metric`` as base64 PNG (:class:`MissingDependencyError` without
    matplotlib)."""
    with try_import("plot", "Drawing the report's plots") as imports:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    imports.check()

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for number, points in sorted(curves.items()):
        steps, values = [p[0] for p in points], [p[1] for p in points]
        if number in pruned:
            ax.plot(steps, values, color="0.6", lw=0.8, alpha=0.7)
            ax.plot(steps[-1:], values[-1:], "x", color="0.4", ms=4)
        else:
            ax.plot(steps, values, lw=1.0, alpha=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    ax.set_title("learning curves (grey: pruned, x where it stopped)", fontsize=10)
    ax.grid(alpha=0.3)
    encoded = _png(fig)
    plt.close(fig)
    return encoded


def _curves_section(study: Study, trials: Sequence[Trial]) -> str:
    """The learning-curve section: a plot, or a table without matplotlib; ``""`` if none."""
    points = study.curves()
    if not points:
        return ""
    metric = study.spec.objectives[0].metric
    curves: dict[int, list[tuple[int, float]]] = {}
    for p in points:
        if p.metric == metric:
            curves.setdefault(p.trial, []).append((p.step, p.value))
    pruned = {t.number for t in trials if t.state is TrialState.PRUNED}
    head = f"<h2>Learning curves</h2><p>{len({p.trial for p in points})} trials reported " \
           f"curves; {len(pruned)} were pruned (pruner {html.escape(study.spec.pruner.name)}).</p>"
    if curves:
        try:
            plot = _curves_plot(metric, curves, pruned)
            return f'{head}<img alt="learning curves" src="data:image/png;base64,{plot}">'
        except MissingDependencyError as exc:
            head += f"<p>No curve plot: {html.escape(str(exc))}.</p>"
    rows = "".join(
        f"<tr><td>{r.number}</td><td>{r.steps}</td><td>{r.last_step}</td>"
        f"<td>{_fmt(r.last_value)}</td><td class=l>{'pruned' if r.pruned else ''}</td></tr>"
        for r in curve_rows(points, metric, pruned)[:200])
    return (f"{head}<table><tr><th>#</th><th>steps</th><th>last step</th>"
            f"<th>{html.escape(metric)}</th><th class=l></th></tr>{rows}</table>")


def _front_plot(study: Study, trials: Sequence[Trial], front: Sequence[Trial]) -> str:
    """The first two objectives of every feasible trial, the front joined up (base64 PNG)."""
    with try_import("plot", "Drawing the report's plots") as imports:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    imports.check()

    x, y = study.spec.objectives[0], study.spec.objectives[1]
    spec = study.spec
    usable = [t for t in trials if is_feasible_trial(t, spec.objectives, spec.constraints)]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([t.metrics[x.metric] for t in usable], [t.metrics[y.metric] for t in usable], "o",
            ms=3.5, alpha=0.4, color="C0", label="feasible trial")
    along = sorted(front, key=lambda t: t.metrics[x.metric])
    ax.plot([t.metrics[x.metric] for t in along], [t.metrics[y.metric] for t in along], "o-",
            color="C3", label="Pareto front")
    ax.set_xlabel(f"{x.metric} ({x.direction})")
    ax.set_ylabel(f"{y.metric} ({y.direction})")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    encoded = _png(fig)
    plt.close(fig)
    return encoded


def _front_section(study: Study, trials: Sequence[Trial]) -> str:
    """The Pareto front: its hypervolume with the reference point, a plot of the first two
    objectives, and a table of the front's trials (best first by the first objective)."""
    from nasforge.run.finish import front_summary

    objectives = study.spec.objectives
    front = study.best_trials(trials)
    hv = front_summary(study, trials)["hypervolume"]
    if hv is None:
        line = "No feasible trial yet, so no hypervolume."
    else:
        where = ", ".join(f"{html.escape(m)} = {_fmt(v)} ({html.escape(hv['reference_from'][m])})"
                          for m, v in hv["reference"].items())
        value = html.escape(hv["note"]) if hv["value"] is None else _fmt(hv["value"])
        line = f"Hypervolume {value}, against the reference point {where}."
    plural = "" if len(front) == 1 else "s"
    head = f"<h2>Pareto front</h2><p>{len(front)} non-dominated feasible trial{plural}. {line}</p>"
    if front:
        try:
            head += (f'<img alt="Pareto front" src="data:image/png;base64,'
                     f'{_front_plot(study, trials, front)}">')
        except MissingDependencyError as exc:
            head += f"<p>No front plot: {html.escape(str(exc))}.</p>"
    header = "".join(f"<th>{html.escape(str(o))}</th>" for o in objectives)
    rows = "".join(
        f"<tr><td>{t.number}</td><td class=l>{html.escape(study.parts.space.format(t.arch))}"
        "</td>" + "".join(f"<td>{_fmt(t.metrics.get(o.metric))}</td>" for o in objectives)
        + "</tr>" for t in front)
    return (f"{head}<table><tr><th>#</th><th class=l>architecture</th>{header}</tr>{rows}"
            "</table>")


def _why(trial: Trial) -> str:
    """Why a trial is not a usable result: the constraint it broke, or its failure reason."""
    reason = trial.result.reason if trial.result else None
    return trial.violation or reason or "running or killed"


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def write_report(study: Study, path: str | Path, *, trials: Sequence[Trial] | None = None) -> Path:
    """Write the report of ``study`` to ``path`` and return the path.

    ``trials`` are the study's trials if already read. Without matplotlib (the ``plot`` extra)
    the report has no plot but says what to install.
    """
    path = Path(path)
    trials = study.trials() if trials is None else trials
    metrics = list(dict.fromkeys([*(o.metric for o in study.spec.objectives), *_COLUMNS]))
    metrics = [m for m in metrics if any(m in t.metrics for t in trials)]
    counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(state_counts(trials).items()))
    parts = [f"<!doctype html><meta charset=utf-8><title>nasforge · {html.escape(study.name)}"
             f"</title><style>{_STYLE}</style>",
             f"<h1>nasforge study <code>{html.escape(study.name)}</code></h1>",
             f"<p>{len(trials)} trials ({counts}). Objectives: "
             f"{html.escape(', '.join(map(str, study.spec.objectives)))}. "
             + (f"Constraints: {html.escape(', '.join(map(str, study.spec.constraints)))}. "
                if study.spec.constraints else "")
             + f"Task {html.escape(study.parts.task.name)}, "
             f"space {html.escape(study.spec.space.name)}"
             f", strategy {html.escape(study.spec.strategy.name)}, seed {study.spec.seed}.</p>"]
    energy = energy_line(trials)
    if energy is not None:
        parts.append(f"<p>{html.escape(energy)}</p>")
    if any(t.state is TrialState.COMPLETE for t in trials):
        try:
            plot = _history_plot(study, trials)
            parts.append(f'<img alt="history" src="data:image/png;base64,{plot}">')
        except MissingDependencyError as exc:
            parts.append(f"<p>No history plot: {html.escape(str(exc))}.</p>")
    parts.append(_curves_section(study, trials))
    units = study.units()
    header = "".join(
        f"<th>{html.escape(m)}{f' ({html.escape(units[m])})' if units.get(m) else ''}</th>"
        for m in metrics)
    rows = []
    for t in rank(trials, study.spec.objectives, study.spec.constraints)[:20]:
        cells = "".join(f"<td>{_fmt(t.metrics.get(m))}</td>" for m in metrics)
        rows.append(f"<tr><td>{t.number}</td><td class=l>"
                    f"{html.escape(study.parts.space.format(t.arch))}</td>{cells}</tr>")
    parts.append(f"<h2>Top trials</h2><table><tr><th>#</th><th class=l>architecture</th>{header}"
                 f"</tr>{''.join(rows)}</table>")
    if len(study.spec.objectives) > 1:
        parts.append(_front_section(study, trials))
    bad = [t for t in trials if t.state is not TrialState.COMPLETE or t.violation is not None]
    if bad:
        failures = "".join(
            f"<tr><td>{t.number}</td><td class=l>"
            f"{'INFEASIBLE (trained)' if t.state is TrialState.COMPLETE else t.state.value}"
            f"</td><td class='l bad'>{html.escape(_why(t))}</td></tr>" for t in bad)
        parts.append(f"<h2>Not completed</h2><table><tr><th>#</th><th class=l>state</th>"
                     f"<th class=l>reason</th></tr>{failures}</table>")
    path.write_text("\n".join(parts))
    return path
