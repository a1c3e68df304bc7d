"""Headless Chromium for tests of the HTML report and the dashboard, driven by Playwright.

The browser is Debian's ``chromium`` package (``/usr/bin/chromium``, or ``$NASFORGE_CHROMIUM``),
never one Playwright downloads: ``playwright install`` fetches a browser from the internet, which
CI machines cannot reach. Playwright (the ``dev`` extra) only drives it.

:func:`chromium_page` opens one page and records what went wrong in it: console errors, uncaught
page errors, and every request that tried to leave the machine (blocked when ``offline=True``,
so a page that needs a CDN shows up as a broken page plus a blocked request). Tests call
:func:`require_chromium` first; it skips with the reason (which package is missing) when the
browser or Playwright is absent locally.

Example:
    >>> with chromium_page() as (page, log):      # doctest: +SKIP
    ...     page.goto(path.as_uri())
    ...     assert not log.errors and not log.blocked
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
"""Flags that keep Chromium quiet and local: no sandbox (root in CI), no updates or sync."""

_LOCAL = ("file:", "data:", "blob:", "about:", "http://127.0.0.1", "http://localhost",
          "ws://127.0.0.1", "ws://localhost")


def chromium_path() -> str | None:
    """The Chromium executable: ``$NASFORGE_CHROMIUM``, ``/usr/bin/chromium`` or one on PATH."""
    for candidate in (os.environ.get("NASFORGE_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_browser() -> str | None:
    """Why a browser test cannot run here (``None`` when it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'nasforge[dev]')"
    if chromium_path() is None:
        return "chromium is not installed (apt-get install -y chromium; .ci/run does it)"
    return None


def require_chromium() -> None:
    """Skip the calling pytest test, saying what is missing, when no browser can run."""
    import pytest

    reason = missing_browser()
    if reason is not None:
        pytest.skip(reason)


@dataclass
class PageLog:
    """What a page did wrong: console errors, uncaught exceptions, requests that left the
    machine (``blocked``), in the order they happened."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@contextmanager
def chromium_page(
    *, offline: bool = True, width: int = 1280, height: int = 900
) -> Iterator[tuple[Any, PageLog]]:
    """A Playwright ``Page`` in headless Chromium and the :class:`PageLog` it fills.

    Args:
        offline: abort every request that is not to a local file or to 127.0.0.1/localhost,
            and record its URL in ``log.blocked``.
        width, height: the viewport in CSS pixels (1,280 wide: the report's target width).

    Raises:
        RuntimeError: Playwright or Chromium is missing (say which); tests call
            :func:`require_chromium` first to skip instead.
    """
    reason = missing_browser()
    if reason is not None:
        raise RuntimeError(f"no headless browser: {reason}")
    from playwright.sync_api import sync_playwright

    log = PageLog()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: log.errors.append(f"console: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: log.errors.append(f"page error: {e}"))
            if offline:
                def route(r: Any) -> None:
                    if r.request.url.startswith(_LOCAL):
                        r.continue_()
                    else:
                        log.blocked.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
            yield page, log
        finally:
            browser.close()
