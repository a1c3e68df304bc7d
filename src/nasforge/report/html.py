"""The offline HTML report of one or several studies, with PNG figures for papers beside it.

One self-contained file: plotly's JavaScript is embedded once in the page (never a CDN), every
figure is a plotly chart (:mod:`nasforge.report.figures`), architectures are pictures
(:mod:`nasforge.report.archviz`) and tables put the metric columns first and the architecture,
in its space's human form, last where it can wrap, so they read at 1,280 px. For each study:

- the configuration (its run spec), cost (CPU seconds, energy where measured) and environment;
- pictures of the best architectures; the top trials;
- the best so far against trials and against time, and the distribution of results;
- learning curves from the stored intermediate values (pruned trials in grey);
- with several objectives, the Pareto front as a scatter with its hypervolume;
- a parallel-coordinates view of the decisions;
- which choices matter: fANOVA importance and per-choice marginal effects
  (:mod:`nasforge.report.importance`);
- one-shot architecture weights over time, where a trial stored them (curves named
  ``alpha.<decision>.<option>``);
- failed and infeasible trials with their reasons; the steering events, whatever their kind.

Several studies get a comparison first (their curves overlaid). Every stored string (study
names, reasons, architectures) is HTML-escaped. Without the ``plot`` extra the report is still
written, with tables only, and says what to install.
"""

from __future__ import annotations

import html
import json
import math
import platform
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from nasforge.imports import MissingDependencyError, try_import
from nasforge.objective import is_feasible_trial, rank
from nasforge.report.archviz import arch_svg
from nasforge.report.data import (
    curves_by_trial,
    decision_options,
    energy_line,
    event_rows,
    history,
    state_counts,
    trial_source,
)
from nasforge.trial import Trial, TrialState

if TYPE_CHECKING:
    from nasforge.run.study import Study

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1240px;padding:0 16px;color:#222}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}h3{margin-bottom:.3em}
table{border-collapse:collapse;margin:.6em 0;font-size:13px;max-width:100%}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top}
td.l,th.l,th.arch{text-align:left}td.arch{text-align:left;font-family:monospace;font-size:12px;
word-break:break-all;min-width:260px}
.bad{color:#b00}.note{color:#666;font-size:13px}.plot{min-height:220px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:6px;
padding:8px;max-width:100%;overflow-x:auto}
pre{background:#f6f8fa;padding:8px;font-size:12px;overflow-x:auto;max-height:320px}
nav a{margin-right:.8em}
"""

COLUMNS = ("val_accuracy", "test_accuracy", "val_mse", "test_mse", "val_r2", "test_r2", "params",
           "flops", "latency_ms", "train_seconds", "epochs")
"""Metric columns shown after the objectives, when present."""

N_PICTURES = 3
N_WEIGHTS = 3
N_LINES = 3000
"""At most this many trials are drawn in parallel coordinates (a seeded sample)."""
N_TOP = 20


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _e(text: object) -> str:
    return html.escape(str(text))


class _Page:
    """The figures of one page: each becomes a ``<div>`` plus a script plotting it."""

    def __init__(self) -> None:
        self.n = 0
        self.missing: MissingDependencyError | None = None

    def figure(self, build: Callable[[], Any]) -> str:
        """The HTML of the figure ``build()`` returns, or a note if plotly is missing."""
        if self.missing is not None:
            return ""
        try:
            fig = build()
        except MissingDependencyError as exc:
            self.missing = exc
            return f"<p class=note>No interactive plots: {_e(exc)}.</p>"
        self.n += 1
        return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig{self.n}",
                           config={"displaylogo": False, "responsive": True},
                           default_width="100%")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int] = (),
           arch: int | None = None) -> str:
    """A table of already-escaped cells; ``left`` columns align left, ``arch`` wraps."""
    def cls(i: int) -> str:
        return " class=arch" if i == arch else (" class=l" if i in left else "")

    head = "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _why(trial: Trial) -> str:
    reason = trial.result.reason if trial.result else None
    return trial.violation or reason or "running, or killed while running"


def _metric_columns(study: Study, trials: Sequence[Trial]) -> list[str]:
    wanted = dict.fromkeys([*(o.metric for o in study.spec.objectives), *COLUMNS])
    return [m for m in wanted if any(m in t.metrics for t in trials)]


def _header(study: Study, metric: str) -> str:
    unit = study.units().get(metric)
    return _e(f"{metric} ({unit})" if unit else metric)


def _trial_rows(study: Study, shown: Sequence[Trial], metrics: Sequence[str]) -> str:
    header = ["#", *(_header(study, m) for m in metrics), "architecture"]
    rows = [[str(t.number), *(_fmt(t.metrics.get(m)) for m in metrics),
             _e(study.parts.space.format(t.arch))] for t in shown]
    return _table(header, rows, arch=len(header) - 1)


def _overview(study: Study, trials: Sequence[Trial]) -> str:
    spec = study.spec
    counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(state_counts(trials).items()))
    cpu = sum(t.result.cost_s for t in trials if t.result is not None)
    elapsed = study.record.elapsed_s
    parts = [f"<p>{len(trials)} trials ({_e(counts)}). Objectives: "
             f"{_e(', '.join(map(str, spec.objectives)))}."
             + (f" Constraints: {_e(', '.join(map(str, spec.constraints)))}."
                if spec.constraints else "")
             + f" Task {_e(study.parts.task.name)}, space {_e(spec.space.name)}, strategy "
             f"{_e(spec.strategy.name)}, evaluator {_e(spec.evaluator.name)}, seed {spec.seed}"
             f"; status {_e(study.record.status)}.</p>",
             f"<p>Cost: {_fmt(cpu)} s of evaluation (summed trial cost_s), "
             f"{_fmt(elapsed)} s wall-clock.</p>"]
    energy = energy_line(trials)
    if energy is not None:
        parts.append(f"<p>{_e(energy)}</p>")
    config = yaml.safe_dump(study.spec.to_yaml_dict(), sort_keys=False)
    parts.append(f"<details><summary>configuration (the stored run spec)</summary><pre>"
                 f"{_e(config)}</pre></details>")
    return "".join(parts)


def _pictures(study: Study, ranked: Sequence[Trial]) -> str:
    if not ranked:
        return ""
    metrics = [o.metric for o in study.spec.objectives]
    cards = []
    for t in ranked[:N_PICTURES]:
        values = ", ".join(f"{_e(m)} {_fmt(t.metrics.get(m))}" for m in metrics)
        cards.append(f"<div class=card><b>#{t.number}</b> {values}<br>{arch_svg(t.arch)}</div>")
    return f"<h3>Best architectures</h3><div class=cards>{''.join(cards)}</div>"


def _curves(page: _Page, study: Study, trials: Sequence[Trial], points: Sequence[Any]) -> str:
    metric = study.spec.objectives[0].metric
    curves = curves_by_trial([p for p in points if not p.metric.startswith("alpha.")], metric)
    if not curves:
        return ""
    from nasforge.report.figures import curves_figure

    pruned = {t.number for t in trials if t.state is TrialState.PRUNED}
    return (f"<h3>Learning curves</h3><p>{len(curves)} trials reported {_e(metric)}; "
            f"{len(pruned)} were pruned (pruner {_e(study.spec.pruner.name)}).</p>"
            + page.figure(lambda: curves_figure(curves, metric, pruned)))


def _front(page: _Page, study: Study, trials: Sequence[Trial], metrics: Sequence[str]) -> str:
    from nasforge.report.figures import pareto_figure
    from nasforge.run.finish import front_summary

    spec = study.spec
    front = study.best_trials(trials)
    hv = front_summary(study, trials)["hypervolume"]
    if hv is None:
        line = "No feasible trial yet, so no hypervolume."
    else:
        where = ", ".join(f"{_e(m)} = {_fmt(v)} ({_e(hv['reference_from'][m])})"
                          for m, v in hv["reference"].items())
        value = _e(hv.get("note")) if hv["value"] is None else _fmt(hv["value"])
        line = f"Hypervolume <b class=hv>{value}</b>, against the reference point {where}."
    x, y = spec.objectives[0].metric, spec.objectives[1].metric
    on = {t.number for t in front}
    points = [(t.number, t.metrics[x], t.metrics[y], t.number in on) for t in trials
              if is_feasible_trial(t, spec.objectives, spec.constraints)]
    plural = "" if len(front) == 1 else "s"
    more = (f" The plot shows the first two of {len(spec.objectives)} objectives."
            if len(spec.objectives) > 2 else "")
    return (f"<h3>Pareto front</h3><p>{len(front)} non-dominated feasible trial{plural}. "
            f"{line}{more}</p>"
            + (page.figure(lambda: pareto_figure(points, f"{x} ({spec.objectives[0].direction})",
                                                 f"{y} ({spec.objectives[1].direction})"))
               if points else "")
            + _trial_rows(study, front[:N_TOP], metrics))


def _decisions(page: _Page, study: Study, trials: Sequence[Trial]) -> str:
    """Parallel coordinates, fANOVA importance and marginal effects."""
    from nasforge.report.figures import importance_figure, marginal_figure, parallel_figure
    from nasforge.report.importance import MAX_TRIALS, importances, marginal_effects

    spec = study.spec
    metric = spec.objectives[0].metric
    usable = [t for t in trials if t.is_search
              and is_feasible_trial(t, spec.objectives, spec.constraints)]
    if not usable:
        return ""
    options = decision_options(study.parts.space, usable)
    drawn = usable
    parts = ["<h3>Decisions</h3>"]
    if len(usable) > N_LINES:  # a seeded sample keeps the page light for 50,000 trials
        chosen = np.random.default_rng(spec.seed).choice(len(usable), N_LINES, replace=False)
        drawn = [usable[i] for i in sorted(chosen)]
        parts.append(f"<p class=note>Parallel coordinates of a seeded sample of {N_LINES:,} "
                     f"of the {len(usable):,} feasible trials.</p>")
    rows = [{**dict(t.arch), metric: t.metrics[metric]} for t in drawn]
    if len(options) <= 40:
        parts.append(page.figure(lambda: parallel_figure(rows, options, metric)))
    try:
        found = importances(study, usable, seed=spec.seed)
    except MissingDependencyError as exc:
        found = []
        parts.append(f"<p class=note>No importance ranking: {_e(exc)}.</p>")
    if found:
        if len(usable) > MAX_TRIALS:
            parts.append(f"<p class=note>fANOVA fitted on a seeded sample of {MAX_TRIALS:,} of "
                         f"the {len(usable):,} feasible trials.</p>")
        parts.append(page.figure(lambda: importance_figure(found, metric)))
        parts.append(_table(["decision", "fANOVA importance"],
                            [[_e(i.decision), f"{i.importance:.3f}"] for i in found], left=[0]))
    effects = marginal_effects(study, usable)
    if effects:
        parts.append("<p class=note>Mean of each choice over the feasible trials that made it, "
                     "with a 95 % interval; strategies sample good choices more often, so read "
                     "it beside the importance ranking.</p>")
        parts.append(page.figure(lambda: marginal_figure(effects, metric)))
    return "".join(parts)


def _weights(page: _Page, trials: Sequence[Trial], points: Sequence[Any]) -> str:
    """One-shot architecture weights: ``alpha.*`` curves, one figure per trial storing them
    (the ``oneshot`` trials first, then the latest others; at most :data:`N_WEIGHTS`)."""
    from nasforge.report.figures import weights_figure

    by_trial: dict[int, dict[str, list[tuple[int, float]]]] = {}
    for p in points:
        if p.metric.startswith("alpha."):
            by_trial.setdefault(p.trial, {}).setdefault(p.metric, []).append((p.step, p.value))
    if not by_trial:
        return ""
    source = {t.number: trial_source(t) for t in trials}
    shown = sorted(by_trial, key=lambda n: (source.get(n) != "oneshot", -n))[:N_WEIGHTS]
    parts = ["<h3>One-shot architecture weights</h3>"]
    if len(shown) < len(by_trial):
        parts.append(f"<p class=note>{len(by_trial)} trials stored weights; "
                     f"{len(shown)} shown.</p>")
    for number in sorted(shown):
        series = by_trial[number]
        parts.append(f"<p>Trial #{number} ({_e(source.get(number, '?'))}): "
                     f"{len(series)} weights.</p>")
        parts.append(page.figure(lambda s=series: weights_figure(s)))  # type: ignore[misc]
    return "".join(parts)


def _failures(trials: Sequence[Trial]) -> str:
    bad = [t for t in trials if t.state is not TrialState.COMPLETE or t.violation is not None]
    if not bad:
        return ""
    rows = [[str(t.number), _e("INFEASIBLE (trained)" if t.state is TrialState.COMPLETE
                               else t.state.value), f"<span class=bad>{_e(_why(t))}</span>"]
            for t in bad]
    return ("<h3>Failed and infeasible trials</h3>"
            + _table(["#", "state", "reason"], rows, left=[1, 2]))


def _events(study: Study) -> str:
    """The steering timeline: every stored event of the study, any kind, oldest first."""
    rows = [[_e(datetime.fromtimestamp(r.at, UTC).strftime("%Y-%m-%d %H:%M:%S")), _e(r.kind),
             _e(r.details), _e(r.outcome)] for r in event_rows(study.store.events(study.record.id))]
    if not rows:
        return ""
    return "<h3>Steering events</h3>" + _table(["time (UTC)", "kind", "details", "outcome"], rows,
                                               left=[1, 2, 3])


def _study_section(page: _Page, study: Study, trials: Sequence[Trial], anchor: str) -> str:
    from nasforge.report.figures import distribution_figure, history_figure

    spec = study.spec
    metric = spec.objectives[0].metric
    metrics = _metric_columns(study, trials)
    ranked = [t for t in rank(trials, spec.objectives, spec.constraints)
              if t.is_search]
    points = study.curves()
    parts = [f"<h2 id={anchor}>Study <code>{_e(study.name)}</code></h2>", _overview(study, trials),
             _pictures(study, ranked)]
    if ranked:
        parts.append("<h3>Top trials</h3>" + _trial_rows(study, ranked[:N_TOP], metrics))
    others = [t for t in trials if not t.is_search]
    if others:  # retrained seeds and one-shot proposals: beside the search, never ranked in it
        header = ["#", "source", "state", *(_header(study, m) for m in metrics), "architecture"]
        rows = [[str(t.number), _e(trial_source(t)), _e(t.state.value),
                 *(_fmt(t.metrics.get(m)) for m in metrics), _e(study.parts.space.format(t.arch))]
                for t in others[:200]]
        parts.append("<h3>Other trials</h3>" + _table(header, rows, left=[1, 2],
                                                       arch=len(header) - 1))
    by_number = history(trials, spec.objectives, spec.constraints)
    if any(p.value is not None for p in by_number):
        by_time = history(trials, spec.objectives, spec.constraints, by_time=True)
        parts.append(page.figure(lambda: history_figure({study.name: by_number}, metric)))
        parts.append(page.figure(lambda: history_figure({study.name: by_time}, metric,
                                                        by_time=True)))
        values = [p.value for p in by_number if p.value is not None]
        parts.append(page.figure(lambda: distribution_figure({study.name: values}, metric)))
    parts.append(_curves(page, study, trials, points))
    if len(spec.objectives) > 1:
        parts.append(_front(page, study, trials, metrics))
    parts.append(_decisions(page, study, trials))
    parts.append(_weights(page, trials, points))
    parts.append(_failures(trials))
    parts.append(_events(study))
    return "".join(parts)


def _comparison(page: _Page, studies: Sequence[Study], all_trials: Sequence[Sequence[Trial]]
                ) -> str:
    from nasforge.report.figures import distribution_figure, history_figure

    metric = studies[0].spec.objectives[0].metric
    same = [(s, t) for s, t in zip(studies, all_trials, strict=True)
            if s.spec.objectives[0].metric == metric]
    rows = []
    for s, trials in zip(studies, all_trials, strict=True):
        ranked = rank(trials, s.spec.objectives, s.spec.constraints)
        best = ranked[0] if ranked else None
        m = s.spec.objectives[0].metric
        rows.append([_e(s.name), str(len(trials)), _e(m),
                     _fmt(best.metrics.get(m)) if best else "", _e(s.spec.strategy.name),
                     _e(s.spec.space.name),
                     _e(s.parts.space.format(best.arch)) if best else ""])
    parts = ["<h2 id=compare>Comparison</h2>",
             _table(["study", "trials", "objective", "best", "strategy", "space",
                     "best architecture"], rows, left=[0, 2, 4, 5], arch=6)]
    series = {s.name: history(t, s.spec.objectives, s.spec.constraints) for s, t in same}
    timed = {s.name: history(t, s.spec.objectives, s.spec.constraints, by_time=True)
             for s, t in same}
    values = {n: [p.value for p in pts if p.value is not None] for n, pts in series.items()}
    parts.append(page.figure(lambda: history_figure(series, metric)))
    parts.append(page.figure(lambda: history_figure(timed, metric, by_time=True)))
    parts.append(page.figure(lambda: distribution_figure(values, metric)))
    if len(same) < len(studies):
        parts.append(f"<p class=note>Curves overlay the studies whose first objective is "
                     f"{_e(metric)}.</p>")
    return "".join(parts)


def _plotly_js() -> str | None:
    with try_import("plot", "The report's interactive plots") as imports:
        from plotly.offline import get_plotlyjs
    try:
        imports.check()
    except MissingDependencyError:
        return None
    return get_plotlyjs()


def _environment() -> str:
    import torch

    from nasforge import __version__

    return (f"Report written {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by nasforge "
            f"{_e(__version__)} (Python {_e(platform.python_version())}, torch "
            f"{_e(torch.__version__)}, {_e(platform.platform())}).")


def write_pngs_for(studies: Sequence[Study], all_trials: Sequence[Sequence[Trial]],
                   folder: Path) -> list[Path]:
    """The paper figures of ``studies`` (:func:`nasforge.report.png.write_pngs`) in ``folder``."""
    from nasforge.report.importance import importances
    from nasforge.report.png import write_pngs

    first, trials = studies[0], all_trials[0]
    spec = first.spec
    front: list[tuple[float, float]] = []
    axes = None
    if len(spec.objectives) > 1:
        x, y = spec.objectives[0].metric, spec.objectives[1].metric
        front = [(t.metrics[x], t.metrics[y]) for t in first.best_trials(trials)]
        axes = (x, y)
    try:
        found = importances(first, trials, seed=spec.seed)
    except MissingDependencyError:
        found = []
    return write_pngs(folder, metric=spec.objectives[0].metric,
                      histories={s.name: history(t, s.spec.objectives, s.spec.constraints)
                                 for s, t in zip(studies, all_trials, strict=True)},
                      front=front, front_axes=axes, importance=found)


def write_report(
    study: Study | Sequence[Study],
    path: str | Path,
    *,
    trials: Sequence[Trial] | None = None,
    figures: str | Path | None = None,
) -> Path:
    """Write the report of one study, or of several compared, to ``path``; return the path.

    Args:
        study: a study, or several to compare (curves overlaid, then one section each).
        path: the HTML file to write.
        trials: the (single) study's trials if already read.
        figures: a folder for the PNG figures (``None``: none written). PNGs need matplotlib.

    Without the ``plot`` extra the report has tables only and says what to install.
    """
    path = Path(path)
    studies = [study] if not isinstance(study, Sequence) else list(study)
    if not studies:
        raise ValueError("write_report needs at least one study")
    all_trials = [list(trials) if trials is not None and len(studies) == 1 else s.trials()
                  for s in studies]
    page = _Page()
    js = _plotly_js()
    if js is None:
        page.missing = MissingDependencyError("plotly", "plot", "The report's interactive plots")
    anchors = [f"s{i}" for i in range(len(studies))]
    sections = [_comparison(page, studies, all_trials)] if len(studies) > 1 else []
    sections += [_study_section(page, s, t, a)
                 for s, t, a in zip(studies, all_trials, anchors, strict=True)]
    title = " vs ".join(s.name for s in studies)
    nav = "".join(f"<a href='#{a}'>{_e(s.name)}</a>" for s, a in zip(studies, anchors,
                                                                       strict=True))
    head = (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f"content='width=device-width,initial-scale=1'><title>nasforge · {_e(title)}</title>"
            f"<style>{_STYLE}</style>"
            + (f"<script>{js}</script>" if js is not None else "") + "</head><body>")
    missing = ("" if js is not None else
               f"<p class=note>No interactive plots: {_e(page.missing)}.</p>")
    pngs = ""
    if figures is not None:
        folder = Path(figures)
        try:
            written = write_pngs_for(studies, all_trials, folder)
            rel = [p.relative_to(path.parent) if p.is_relative_to(path.parent) else p
                   for p in written]
            pngs = ("<p class=note>PNG figures for papers: "
                    + ", ".join(f"<a href='{_e(r.as_posix())}'>{_e(r.name)}</a>" for r in rel)
                    + ".</p>")
        except MissingDependencyError as exc:
            pngs = f"<p class=note>No PNG figures: {_e(exc)}.</p>"
    body = (f"<h1>nasforge report: {_e(title)}</h1>"
            + (f"<nav>{nav}</nav>" if len(studies) > 1 else "")
            + missing + "".join(sections) + pngs
            + f"<h2>Environment</h2><p class=note>{_environment()}</p>"
            + "<script type=application/json id=nasforge-data>"
            + json.dumps({"studies": [s.name for s in studies], "figures": page.n}).replace(
                "<", "\\u003c")
            + "</script></body></html>")
    path.write_text(head + body, encoding="utf-8")
    return path
