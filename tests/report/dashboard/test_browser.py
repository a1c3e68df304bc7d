"""The dashboard in headless Chromium: a running study updates live, an operation forbidden
through the page (given the master token, it steers with the study's own) is never used by a
later trial, steering without the token, with the master or with another study's token is
refused, and a script in a study name or an error message shows as text."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the dashboard extra is not installed")

from nasforge.report.dashboard import Dashboard
from nasforge.store.base import EventKind
from nasforge.testing.browser import chromium_page, require_chromium
from nasforge.trial import Trial, TrialSource
from tests.report.dashboard.studies import EVIL, evil_study, make_study

POOL = "avg_pool_3x3"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class _Slow:
    """Slows a study down (a pause after each trial) so that the page sees it run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_trial_finished(self, study: Any, trial: Trial) -> None:
        time.sleep(self.seconds)


def _post(url: str, event: dict[str, Any], token: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(event).encode(), headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_watch_and_steer_a_running_study(tmp_path: Path, table: Path) -> None:
    require_chromium()
    evil_study(tmp_path, table)
    live = make_study(tmp_path, table, "live", trials=400, run=False, seed=1,
                      strategy="regularized_evolution")
    runner = threading.Thread(target=live.run, args=([_Slow(0.05)],), daemon=True)
    with Dashboard(tmp_path, port=0) as board:
        runner.start()
        try:
            with chromium_page() as (page, log):
                # (expect, not wait_for_function: the page's CSP forbids the eval it uses)
                from playwright.sync_api import expect

                page.goto(f"{board.url}#token={board.token}")
                page.locator("#study-list li", has_text="live").click()
                expect(page.locator("#study-name")).to_have_text("live")
                status = page.locator("#status")
                expect(status).to_contain_text("trials")
                first = status.text_content() or ""
                expect(status).not_to_have_text(first, timeout=15_000)  # live, no reload
                expect(page.locator("#trajectory circle").first).to_be_attached()
                expect(page.locator("#trials tbody tr").first).to_be_attached()

                page.select_option("#action", "forbid")
                page.fill("#argument", f"op={POOL}")
                page.click("#send")
                expect(page.locator("#message")).to_have_text(re.compile(r"^sent forbid"))
                applied = page.locator("#events tbody tr").first.locator("td").nth(3)
                expect(applied).to_have_text(re.compile(r"^\d+$"), timeout=15_000)

                page.fill("#token", "")  # no token: refused, and the page says why
                page.click("#pause")
                expect(page.locator("#message")).to_have_text(re.compile(r"^401: "))
                assert _post(f"{board.url}api/studies/live/events", {"kind": "pause"},
                             None) == 401
                assert _post(f"{board.url}api/studies/live/events", {"kind": "pause"},
                             "wrong") == 403
                for refused in (board.token, board.token_for(EVIL)):  # master, other study
                    assert _post(f"{board.url}api/studies/live/events", {"kind": "pause"},
                                 refused) == 403

                # the script in the other study's name and error is text, never markup
                page.locator("#study-list li", has_text="window.hacked").click()
                expect(page.locator("#study-name")).to_have_text(EVIL)
                expect(page.locator("#trials tbody")).to_contain_text(f"boom {EVIL}")
                assert page.locator("script").count() == 1  # only the page's own
                assert page.locator("#study-list li", has_text=EVIL).count() == 1

                assert _post(f"{board.url}api/studies/live/events", {"kind": "stop"},
                             board.token_for("live")) == 201
                runner.join(timeout=60)
                # the only console errors are the refused requests' own
                assert all("401" in e or "403" in e for e in log.errors), log.errors
                assert not log.blocked
        finally:
            live.request_stop()
            runner.join(timeout=60)
    assert not runner.is_alive()
    events = [e for e in live.store.events(live.record.id) if e.kind is EventKind.FORBID]
    (forbid,) = events
    assert forbid.applied_at is not None
    trials = live.trials()
    later = [t for t in trials if t.number >= forbid.applied_at]
    assert later, "the study ended before the forbid took effect"
    assert all(POOL not in t.arch.values() for t in later if t.source is TrialSource.STRATEGY)
    assert any(POOL in t.arch.values() for t in trials if t.number < forbid.applied_at)
