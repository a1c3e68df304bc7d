"""The report's interactive figures, built with plotly from :mod:`nasforge.report.data` rows.

Each builder takes plain rows (no store, no study) and returns a ``plotly.graph_objects.Figure``;
:mod:`nasforge.report.html` embeds them, with plotly's JavaScript once in the page, so the file
needs no network. Needs the ``plot`` extra (:func:`plotly_go` says what to install).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.imports import try_import
from nasforge.report.data import HistoryPoint
from nasforge.report.importance import Importance, MarginalEffect

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
"""One colour per study when several are overlaid."""

_LAYOUT: dict[str, Any] = {"template": "plotly_white", "height": 380,
                           "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
                           "legend": {"orientation": "h", "y": -0.2}}


def plotly_text(text: object) -> str:
    """``text`` as plotly shows it literally: plotly reads ``<b>``, ``<a href>``, ``<br>`` and
    the like in trace names, titles, category labels and hover labels as its own markup (a
    stored ``<a href=...>x</a>`` showed as a link ``x``), and decodes ``&lt;``/``&gt;``/``&amp;``,
    so those three are written as entities. (Parallel-coordinate tick labels are plain text and
    must not be passed through this.)

    Example:
        >>> plotly_text("<b>a & b</b>")
        '&lt;b&gt;a &amp; b&lt;/b&gt;'
    """
    return html.escape(str(text), quote=False)


def plotly_go() -> Any:
    """``plotly.graph_objects``; :class:`MissingDependencyError` naming the ``plot`` extra."""
    with try_import("plot", "The report's interactive plots") as imports:
        import plotly.graph_objects as go
    imports.check()
    return go


def _figure(title: str, x: str, y: str, **layout: Any) -> Any:
    go = plotly_go()
    fig = go.Figure()
    fig.update_layout(title=plotly_text(title), xaxis_title=plotly_text(x),
                      yaxis_title=plotly_text(y), **{**_LAYOUT, **layout})
    return fig


def history_figure(series: Mapping[str, Sequence[HistoryPoint]], metric: str, *,
                   by_time: bool = False) -> Any:
    """Each trial's value (dots) and the best so far (a step line), one colour per study, against
    trial number or, with ``by_time``, against seconds since the study started."""
    go = plotly_go()
    axis = "seconds since start" if by_time else "trial"
    fig = _figure(f"best {metric} so far against {'time' if by_time else 'trials'}", axis, metric)
    values = [p.value for pts in series.values() for p in pts if p.value is not None]
    for k, (name, points) in enumerate(series.items()):
        colour = _COLOURS[k % len(_COLOURS)]

        def x(p: HistoryPoint) -> float | None:
            return p.elapsed_s if by_time else p.number

        ok = [p for p in points if p.value is not None]
        prefix = f"{plotly_text(name)}: " if len(series) > 1 else ""
        fig.add_trace(go.Scatter(
            x=[x(p) for p in ok], y=[p.value for p in ok], mode="markers", name=f"{prefix}trial",
            marker={"size": 5, "opacity": 0.5, "color": colour},
            text=[f"#{p.number}" for p in ok], hovertemplate="%{text}: %{y}<extra></extra>"))
        best = [p for p in points if p.best_so_far is not None]
        fig.add_trace(go.Scatter(
            x=[x(p) for p in best], y=[p.best_so_far for p in best], mode="lines",
            line={"shape": "hv", "color": colour, "width": 2}, name=f"{prefix}best so far"))
    if len(values) >= 20:  # a few outliers would flatten the curve that matters: clip them
        low, high = float(np.percentile(values, 5)), max(values)
        if min(values) < low - (high - low):
            span = high - low or 1.0
            fig.update_yaxes(range=[low - 0.15 * span, high + 0.05 * span])
            fig.add_annotation(text="y axis clipped at the 5th percentile", showarrow=False,
                               xref="paper", yref="paper", x=1, y=1.08, font={"size": 10})
    return fig


def distribution_figure(values: Mapping[str, Sequence[float]], metric: str) -> Any:
    """A histogram of the completed trials' ``metric``, one overlaid per study."""
    go = plotly_go()
    fig = _figure(f"distribution of {metric}", metric, "trials", barmode="overlay")
    for name, vals in values.items():
        fig.add_trace(go.Histogram(x=list(vals), name=plotly_text(name),
                                   opacity=0.6 if len(values) > 1 else 1, nbinsx=30))
    return fig


def curves_figure(curves: Mapping[int, Sequence[tuple[int, float]]], metric: str,
                  pruned: set[int]) -> Any:
    """One line per trial of ``metric`` against step; pruned trials grey, ending in a cross."""
    go = plotly_go()
    fig = _figure("learning curves (grey: pruned)", "step", metric, showlegend=False)
    for number, points in sorted(curves.items()):
        is_pruned = number in pruned
        fig.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1] for p in points], name=f"#{number}",
            mode="lines+markers" if len(points) < 3 else "lines",
            line={"color": "#aaa" if is_pruned else None, "width": 1},
            marker={"symbol": "x" if is_pruned else "circle", "size": 4},
            hovertemplate=f"#{number} step %{{x}}: %{{y}}<extra></extra>"))
    return fig


def pareto_figure(points: Sequence[tuple[int, float, float, bool]], x: str, y: str) -> Any:
    """Feasible trials as ``(number, x, y, on_front)``; the front is joined up in red."""
    go = plotly_go()
    fig = _figure(f"Pareto front: {y} against {x}", x, y)
    rest = [p for p in points if not p[3]]
    front = sorted((p for p in points if p[3]), key=lambda p: p[1])
    fig.add_trace(go.Scatter(x=[p[1] for p in rest], y=[p[2] for p in rest], mode="markers",
                             name="feasible trial", marker={"color": "#7aa6d6", "size": 6},
                             text=[f"#{p[0]}" for p in rest]))
    fig.add_trace(go.Scatter(x=[p[1] for p in front], y=[p[2] for p in front],
                             mode="lines+markers", name="Pareto front",
                             line={"shape": "linear", "color": "#d62728"},
                             text=[f"#{p[0]}" for p in front]))
    return fig


def parallel_figure(rows: Sequence[Mapping[str, object]], options: Mapping[str, Sequence[object]],
                    metric: str) -> Any:
    """Parallel coordinates: one axis per decision (its options as ticks) and the objective
    last, each completed trial a line coloured by the objective."""
    go = plotly_go()
    dims = []
    for decision, opts in options.items():
        labels = [str(o) for o in opts]
        index = {label: i for i, label in enumerate(labels)}
        dims.append({"label": decision.removeprefix("cell."), "range": [0, max(len(labels) - 1, 1)],
                     "tickvals": list(range(len(labels))), "ticktext": labels,
                     "values": [index.get(str(r.get(decision)), -1) for r in rows]})
    values = [float(r[metric]) for r in rows]  # type: ignore[arg-type]
    dims.append({"label": metric, "values": values})
    fig = go.Figure(go.Parcoords(line={"color": values, "colorscale": "Viridis",
                                       "showscale": True}, dimensions=dims))
    title = f"decisions of the completed trials, coloured by {metric}"
    fig.update_layout(title=plotly_text(title),
                      **{**_LAYOUT, "height": 420, "margin": {"l": 80, "r": 60, "t": 90, "b": 40}})
    return fig


def importance_figure(found: Sequence[Importance], metric: str) -> Any:
    """fANOVA importance per decision as horizontal bars, the most important on top."""
    go = plotly_go()
    ordered = list(reversed(found))
    fig = _figure(f"which decisions matter for {metric} (fANOVA)", "share of variance", "",
                  height=max(220, 40 + 28 * len(found)), showlegend=False)
    fig.add_trace(go.Bar(x=[i.importance for i in ordered],
                         y=[plotly_text(i.decision) for i in ordered], orientation="h",
                         marker={"color": "#4a6fa5"}))
    return fig


def marginal_figure(effects: Sequence[MarginalEffect], metric: str) -> Any:
    """Each option's mean ``metric`` with its 95 % interval, grouped by decision."""
    go = plotly_go()
    fig = _figure(f"mean {metric} by choice (95 % interval)", "", metric, height=420)
    decisions = list(dict.fromkeys(e.decision for e in effects))
    for decision in decisions:
        mine = [e for e in effects if e.decision == decision]
        fig.add_trace(go.Scatter(
            x=[[plotly_text(decision.removeprefix("cell."))] * len(mine),
               [plotly_text(e.option) for e in mine]],
            y=[e.mean for e in mine], mode="markers", name=plotly_text(decision),
            error_y={"type": "data", "array": [e.high - e.mean for e in mine]},
            text=[f"n={e.n}" for e in mine],
            hovertemplate="%{x}: %{y:.4g} (%{text})<extra></extra>"))
    fig.update_layout(showlegend=False)
    return fig


def weights_figure(series: Mapping[str, Sequence[tuple[int, float]]]) -> Any:
    """One-shot architecture weights (curves named ``alpha.<decision>.<option>``) against
    step: one panel per decision, one line per option (same colour for an option throughout)."""
    go = plotly_go()  # first: says what to install when plotly is missing
    from plotly.subplots import make_subplots

    by_decision: dict[str, dict[str, Sequence[tuple[int, float]]]] = {}
    for name, points in series.items():
        decision, _, option = name.removeprefix("alpha.").rpartition(".")
        by_decision.setdefault(decision or name, {})[option] = points
    decisions = sorted(by_decision)
    cols = min(3, len(decisions))
    rows = -(-len(decisions) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[plotly_text(d) for d in decisions],
                        shared_yaxes=True)
    options = sorted({o for d in by_decision.values() for o in d})
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"]
    for k, decision in enumerate(decisions):
        for option, points in sorted(by_decision[decision].items()):
            i = options.index(option)
            fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points],
                                     mode="lines", name=plotly_text(option), legendgroup=option,
                                     showlegend=k == 0,
                                     line={"color": palette[i % len(palette)]}),
                          row=k // cols + 1, col=k % cols + 1)
    fig.update_layout(title="one-shot architecture weights over training (softmax per decision)",
                      **{**_LAYOUT, "height": 120 + 220 * rows})
    return fig
