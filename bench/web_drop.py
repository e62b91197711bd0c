"""How long the web page takes from dropping photos to the last result, on the embedded stack.

    python -m bench.web_drop [--photos 40] [--preset "Portrait touch-up"]

Starts the embedded stack, opens the page in headless Chromium (Debian's, driven by
Playwright), drops the sample photos on it (`retouch samples`: 640-2400 px), presses Start
with the chosen preset and prints the seconds from the drop to the last photo marked done or
failed, with the page's own counts.
"""

from __future__ import annotations

import argparse
import base64
import re
import tempfile
import time
from pathlib import Path

from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--preset", default="Portrait touch-up")
    args = parser.parse_args()

    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory(prefix="retouch-web-drop-") as tmp:
        paths = write_samples(Path(tmp) / "photos", args.photos)
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        print(f"{len(paths)} sample photos ({megabytes:.1f} MB) in {tmp}; starting the embedded stack", flush=True)
        with EmbeddedStack(workdir=Path(tmp) / "stack") as stack, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{stack.api_url}/?token={stack.token}")
            expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=60_000)
            page.get_by_label("Preset").select_option(label=args.preset)
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
            page.get_by_role("button", name="Start").click()
            items = page.get_by_role("list", name="Photos and results").get_by_role("listitem")
            expect(items).to_have_count(len(paths), timeout=60_000)
            expect(page.locator("body")).to_have_attribute("data-finished-at", re.compile(r"\d"), timeout=1_800_000)
            seconds = time.monotonic() - started
            summary = page.locator("#job-summary").inner_text()
            print(f"drop -> last result: {seconds:.1f} s for {len(paths)} photos ({summary}; preset {args.preset!r})")
            browser.close()


if __name__ == "__main__":
    main()
