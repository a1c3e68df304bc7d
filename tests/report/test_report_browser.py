"""The report in headless Chromium, offline: every plot renders, no console error.

One browser opens two reports: a completed NB201 study compared with a multi-objective one
(their sections and the comparison), and a study with failures, curves, one-shot weights and a
steering event. Each page holds plotly's 4.6 MB script, so pages are few.
"""

from __future__ import annotations

from pathlib import Path

from nasforge.report import write_report
from nasforge.run.study import Study
from nasforge.testing.browser import chromium_page, require_chromium

# Per plot: how many drawn marks (trace groups, parallel-coordinate canvases) it holds.
_MARKS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(d => ({
    id: d.id,
    marks: d.querySelectorAll('svg .trace, svg .point, svg .bars path').length
        + d.querySelectorAll('canvas').length,
    width: d.getBoundingClientRect().width}))"""


def _render(page: object, path: Path) -> dict[str, object]:
    expected = path.read_text().count("Plotly.newPlot(")
    page.goto(path.as_uri())  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        f"document.querySelectorAll('.js-plotly-plot').length >= {expected}", timeout=30_000)
    return {
        "expected": expected,
        "plots": page.evaluate(_MARKS),  # type: ignore[attr-defined]
        "scroll_width": page.evaluate("document.documentElement.scrollWidth"),  # type: ignore[attr-defined]
        "cells": page.evaluate(  # type: ignore[attr-defined]
            "[...document.querySelectorAll(\"svg[aria-label='cell']\")].map(s => "
            "s.getBoundingClientRect().width)"),
        "first_traces": page.evaluate(  # type: ignore[attr-defined]
            "document.getElementById('fig1').data.map(t => t.name)"),
    }


def test_every_plot_renders_offline(completed_study: Study, multi_study: Study,
                                    failing_study: Study, tmp_path: Path) -> None:
    require_chromium()
    both = write_report([completed_study, multi_study], tmp_path / "both.html")
    fails = write_report(failing_study, tmp_path / "fails.html")
    with chromium_page(offline=True) as (page, log):
        seen = {"both": _render(page, both), "fails": _render(page, fails)}
    assert log.errors == [] and log.blocked == []
    for name, found in seen.items():
        plots = found["plots"]
        assert isinstance(plots, list) and len(plots) == found["expected"] >= 6, name
        assert all(p["marks"] > 0 and p["width"] > 300 for p in plots), (name, plots)
        assert found["scroll_width"] <= 1280, name  # readable at 1,280 px: no sideways scroll
    # The comparison overlays both studies; the NB201 section draws its three best cells.
    assert {"nb: best so far", "mo: best so far"} <= set(seen["both"]["first_traces"])  # type: ignore[arg-type]
    cells = seen["both"]["cells"]
    assert isinstance(cells, list) and len(cells) == 3 and all(w > 100 for w in cells)
