"""Script injected into every stored string runs nowhere: the dashboard page and the static
report, opened in headless Chromium with the payloads of :mod:`tests.report.injection` in the
study's name, its architectures (option names of a ``choices`` space), a failed trial's error
and a steering event's note; every point of every plot is hovered.

Each test checks that ``window.__pwned`` stays undefined, no dialog opens, no element the
payloads would create (``img``, ``[onload]``, ``[onerror]``, ``javascript:`` links, a second
script) exists, and the payloads show as literal text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from nasforge.testing.browser import chromium_page, require_chromium
from tests.report.injection import ALL, FAILING, PAYLOADS, payload_study

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_CREATED = ("img, [onload], [onerror], a[href^='javascript'], a[href^=' javascript'], "
            "iframe, object, embed")
"""What a payload would create if it were parsed as markup."""

_HOVER_ALL = """() => { let n = 0;
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    (gd.data || []).forEach((t, i) => {
      const len = Math.max((t.x || []).length, (t.y || []).length);
      for (let j = 0; j < len; j++) {
        Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: j}]); n++;
      }
    });
  }
  return n; }"""
"""Show plotly's hover label of every point of every trace (what a user's mouse would)."""


@pytest.fixture(scope="module")
def payload_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("injection")
    payload_study(root, "other", trials=4)  # compared with: study names become trace names
    return root, payload_study(root)


def _watch(page: Any) -> list[str]:
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


def _nothing_ran(page: Any, dialogs: list[str], scripts: int) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    assert page.locator(_CREATED).count() == 0
    assert page.locator("script").count() == scripts


def _hover_marks(page: Any, selector: str, limit: int) -> int:
    """Move the mouse over up to ``limit`` drawn marks; return how many were hovered (a mark
    off the page, or one the dashboard redrew meanwhile, is passed over)."""
    from playwright.sync_api import Error

    hovered = 0
    marks = page.locator(selector)
    for i in range(marks.count()):
        if hovered >= limit:
            break
        try:
            marks.nth(i).hover(force=True, timeout=2_000)
        except Error:
            continue
        hovered += 1
    return hovered


def test_the_report_runs_no_stored_script(payload_root: tuple[Path, str],
                                          tmp_path: Path) -> None:
    require_chromium()
    from nasforge.report import write_report
    from nasforge.run.study import Study

    root, name = payload_root
    study, other = Study.open(root / "inj"), Study.open(root / "other")
    try:
        assert study.name == name
        report = write_report([study, other], tmp_path / "report.html")
    finally:
        study.close()
        other.close()
    scripts = report.read_text().count("<script")
    with chromium_page(offline=True) as (page, log):
        dialogs = _watch(page)
        page.goto(report.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 5",
                               timeout=30_000)
        assert page.evaluate(_HOVER_ALL) > 20
        assert _hover_marks(page, ".js-plotly-plot .point", 40) > 10
        assert _hover_marks(page, ".js-plotly-plot .legendtext, .js-plotly-plot .tick text",
                            40) > 5
        _nothing_ran(page, dialogs, scripts)
        assert page.locator("h1").text_content() == f"nasforge report: {name} vs other {ALL}"
        body = page.locator("body").inner_text()
        assert f"RuntimeError: diverged {ALL}" in body  # the failed trials' reason
        assert f"why={ALL}" in body  # the steering event's note
        plotted = page.locator(".js-plotly-plot text").all_text_contents()
        for payload in PAYLOADS:  # option names in the plots' axes and hover labels
            assert payload in plotted, payload
            assert payload in body  # and in the architecture tables
        assert any(FAILING not in t and "(n=" in t for t in plotted)  # a hover label shown
        # plotly's own markup: a stored <a href> in a legend became a link, found here
        assert f"{name}: best so far" in plotted and f"{name}: trial" in plotted
        # and the same <a href> as a category label: two parallel-coordinate axes (plain text
        # there) and at least one marginal-effect axis
        assert plotted.count(PAYLOADS[3]) >= 3, plotted
    assert log.errors == [] and log.blocked == []


def test_the_dashboard_runs_no_stored_script(payload_root: tuple[Path, str]) -> None:
    require_chromium()
    pytest.importorskip("fastapi", reason="the dashboard extra is not installed")
    from playwright.sync_api import expect

    from nasforge.report.dashboard import Dashboard

    root, name = payload_root
    with Dashboard(root, port=0) as board, chromium_page() as (page, log):
        dialogs = _watch(page)
        page.goto(f"{board.url}#token={board.token}")
        item = page.locator("#study-list li", has_text="inj")
        expect(item).to_contain_text(name)
        item.click()
        expect(page.locator("#study-name")).to_have_text(name)
        trials = page.locator("#trials tbody tr")
        expect(trials.first).to_be_attached()
        assert trials.count() == 14
        expect(page.locator("#trials tbody")).to_contain_text(f"RuntimeError: diverged {ALL}")
        expect(page.locator("#events tbody")).to_contain_text(f"why={ALL}")
        expect(page.locator("#best")).to_contain_text("best: Trial#")
        cells = page.locator("#trials tbody").inner_text()
        for payload in PAYLOADS:
            assert payload.replace('"', '\\"') in cells, payload  # the arch strings, as text
        for target in ("#study-list li", "#trials tbody td", "#events tbody td",
                       "#trajectory circle", "#front circle"):
            assert _hover_marks(page, target, 30) > 0, target
            page.locator(target).first.click(force=True)
        # a steering request that echoes a payload back: the refusal shows it as text
        page.select_option("#action", "inject")
        page.fill("#argument", PAYLOADS[1])
        page.click("#send")
        expect(page.locator("#message")).to_have_text(re.compile(r"^422: "))
        expect(page.locator("#message")).to_contain_text("onerror")
        _nothing_ran(page, dialogs, 1)
        assert page.locator("#study-list li", has_text=name).count() == 1
    # the only console errors are the refused request's own
    assert all("422" in e for e in log.errors), log.errors
    assert not log.blocked
