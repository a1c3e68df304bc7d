"""The shared headless-Chromium helper: it records console errors and blocks remote requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasforge.testing.browser import chromium_page, missing_browser, require_chromium


def test_a_page_logs_errors_and_blocked_requests(tmp_path: Path) -> None:
    require_chromium()
    page_file = tmp_path / "p.html"
    page_file.write_text("<svg width=10 height=10><rect width=5 height=5></rect></svg>"
                         "<img src='https://cdn.example.com/x.png'>"
                         "<script>console.error('boom')</script>")
    with chromium_page() as (page, log):
        page.goto(page_file.as_uri())
        assert page.locator("svg rect").count() == 1
    assert "https://cdn.example.com/x.png" in log.blocked
    assert any("boom" in e for e in log.errors)


def test_a_clean_local_page_has_an_empty_log(tmp_path: Path) -> None:
    require_chromium()
    page_file = tmp_path / "p.html"
    page_file.write_text("<p id=x>hello</p>")
    with chromium_page() as (page, log):
        page.goto(page_file.as_uri())
        assert page.text_content("#x") == "hello"
    assert log.errors == [] and log.blocked == []


def test_without_a_browser_it_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASFORGE_CHROMIUM", "/nonexistent")
    monkeypatch.setattr("nasforge.testing.browser.chromium_path", lambda: None)
    reason = missing_browser()
    if reason is not None and "playwright" in reason:
        pytest.skip(reason)
    assert reason is not None and "apt-get install -y chromium" in reason
    with pytest.raises(RuntimeError, match="chromium is not installed"), chromium_page():
        pass
