"""The page's first load, measured in a fresh browser context: shared by the web tests (a loose
bound) and :mod:`bench.web_drop` (the numbers against their budgets)."""

from __future__ import annotations

from typing import Any

from retouch.local.stack import EmbeddedStack

READY_MS = 1000
BYTES = 150 * 1024


def cold_load(browser: Any, stack: EmbeddedStack) -> tuple[int, int, list[str]]:
    """One load in a fresh context: (ms to ready, bytes transferred, requests to other origins)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    foreign: list[str] = []
    origin = stack.api_url.rstrip("/")
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith((origin, "data:", "blob:")) else None)
    page.goto(f"{stack.api_url}/#token={stack.token}")
    page.locator("body[data-ready=true]").wait_for(timeout=60_000)
    ready = int(page.locator("body").get_attribute("data-ready-at") or 0)
    transferred = int(
        page.evaluate(
            """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
                .reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0)"""
        )
    )
    context.close()
    return ready, transferred, foreign
