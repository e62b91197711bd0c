"""How fast the web page is on the embedded stack: ready, bytes, and a drop of photos to the last result.

    python -m bench.web_drop [--loads 5] [--photos 40] [--tasks "Fix red eyes,Whiten teeth"]

Starts the embedded stack and opens the page in headless Chromium (Debian's, driven by
Playwright). First ``--loads`` cold loads, each in a fresh browser context (no cache, no
storage): the milliseconds from navigation to the page being ready (signed in, GET /operations
answered, the tasks on screen: ``data-ready-at``) and the bytes transferred before a photo is
added (the document, its scripts and styles, config.json and GET /operations, headers included),
and whether anything came from another origin (a CDN). Then, unless ``--photos 0``, drops the
sample photos (`retouch samples`: 640-2400 px), chooses the tasks by their labels, presses Start
and prints the seconds from the drop to the last photo done or failed, with the page's counts.
"""

from __future__ import annotations

import argparse
import base64
import re
import statistics
import tempfile
import time
from pathlib import Path

from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from retouch_testkit.web import BYTES, READY_MS, cold_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--tasks", default="Fix red eyes,Whiten teeth,Brighten and add contrast")
    args = parser.parse_args()

    from playwright.sync_api import expect, sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="retouch-web-drop-") as tmp,
        EmbeddedStack(workdir=Path(tmp) / "stack") as stack,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        cold_load(browser, stack)  # the stack's first answers (process pools warming) are not the page's
        loads = [cold_load(browser, stack) for _ in range(args.loads)]
        ready = [r for r, _, _ in loads]
        sizes = [b for _, b, _ in loads]
        foreign = sorted({u for _, _, f in loads for u in f})
        print(
            f"page ready: median {statistics.median(ready):.0f} ms, max {max(ready)} ms (budget {READY_MS} ms); "
            f"transferred before the first photo: {max(sizes) / 1024:.1f} KB (budget {BYTES // 1024} KB); "
            f"from other origins: {foreign or 'nothing'}",
            flush=True,
        )
        if args.photos:
            paths = write_samples(Path(tmp) / "photos", args.photos)
            megabytes = sum(p.stat().st_size for p in paths) / 1e6
            print(f"{len(paths)} sample photos ({megabytes:.1f} MB)", flush=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{stack.api_url}/#token={stack.token}")
            expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=60_000)
            for task in args.tasks.split(","):
                page.get_by_role("checkbox", name=task.strip()).check()
            files = [{"name": f.name, "data": base64.b64encode(f.read_bytes()).decode(), "type": "image/jpeg"} for f in paths]
            transfer = page.evaluate_handle(
                """(files) => {
                    const dt = new DataTransfer();
                    for (const f of files) {
                        const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
                        dt.items.add(new File([bytes], f.name, { type: f.type }));
                    }
                    return dt;
                }""",
                files,
            )
            started = time.monotonic()
            page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
            items = page.get_by_role("list", name="Photos and results").get_by_role("listitem")
            expect(items).to_have_count(len(paths), timeout=60_000)
            expect(page.locator("#job-summary")).to_contain_text(f"{len(paths)} ready to start", timeout=120_000)
            page.get_by_role("button", name="Start").click()
            expect(page.locator("body")).to_have_attribute("data-finished-at", re.compile(r"\d"), timeout=1_800_000)
            seconds = time.monotonic() - started
            summary = page.locator("#job-summary").inner_text()
            print(f"drop -> last result: {seconds:.1f} s for {len(paths)} photos ({summary} tasks {args.tasks!r})")
        browser.close()


if __name__ == "__main__":
    main()
