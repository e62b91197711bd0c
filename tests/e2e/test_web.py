"""The web page in real headless Chromium against the embedded stack, as a person uses it.

Drop five files (three photos, a corrupt JPEG, a text file named .jpg), pick the portrait
preset, see the preview, start, watch three finish and two fail with plain reasons, move a
comparison slider with the keyboard, and download everything as one ZIP. The page's accessible
names are a public contract (README): the test finds every control by them.

Chromium is Debian's (``make setup`` installs it), driven by Playwright's Python package; every
wait is on a condition, with generous timeouts for a loaded two-core machine.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from retouch.cli.samples import photo
from retouch.local.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by `make setup` (dev extras)")
expect = sync_api.expect

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "web.png"
SLOW = 300_000  # ms: a whole job on a loaded two-core machine
UI = 60_000
expect.set_options(timeout=UI)


def write_photos(folder: Path) -> dict[str, Any]:
    """Three real photos (sizes and formats known), a corrupt JPEG, and text named .jpg."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, tuple[str, tuple[int, int]]] = {}
    files: list[Path] = []
    for name, source, size, fmt in (
        ("astronaut.jpg", "astronaut", (480, 480), "JPEG"),
        ("coffee.jpg", "coffee", (600, 400), "JPEG"),
        ("chelsea.png", "chelsea", (451, 300), "PNG"),
    ):
        image = Image.fromarray(np.asarray(photo(source))).convert("RGB").resize(size)
        path = folder / name
        image.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        files.append(path)
        expected[name] = (fmt, size)
    good = io.BytesIO()
    Image.fromarray(np.asarray(photo("rocket"))).convert("RGB").save(good, "JPEG", quality=90)
    corrupt = folder / "damaged.jpg"
    corrupt.write_bytes(good.getvalue()[: len(good.getvalue()) // 3])
    text = folder / "notes.jpg"
    text.write_text("Holiday notes: remember the red-eye photos from the beach.\n" * 20)
    return {"files": [*files, corrupt, text], "expected": expected}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists(), "Chromium is missing: `make setup` installs Debian's chromium package"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def drop_files(page: Any, paths: list[Path]) -> None:
    """A real drop event on the page carrying these files (as a file manager's drag does)."""
    payload = [{"name": p.name, "data": base64.b64encode(p.read_bytes()).decode(), "type": _type(p)} for p in paths]
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return dt;
        }""",
        payload,
    )
    page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def _type(path: Path) -> str:
    return {".jpg": "image/jpeg", ".png": "image/png"}.get(path.suffix, "application/octet-stream")


def test_web_page_drop_preview_start_compare_download(stack: EmbeddedStack, browser: Any, tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(UI)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # signed in by ?token=, which the page removes from the address bar
        page.goto(f"{stack.api_url}/?token={stack.token}")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        assert "token=" not in page.url

        # a preset is chosen on load, so dropping photos and pressing Start works at once
        preset = page.get_by_label("Preset")
        expect(preset).to_have_value("portrait")
        expect(page.get_by_label("Photos", exact=True)).to_have_attribute("type", "file")

        drop_files(page, photos["files"])
        images = page.get_by_role("list", name="Photos and results").get_by_role("listitem")
        expect(images).to_have_count(5)
        # not an image: flagged before anything is uploaded
        notes = images.filter(has_text="notes.jpg")
        expect(notes).to_contain_text("not an image")

        preset.select_option(label="Web thumbnails")
        preset.select_option(label="Portrait touch-up")
        expect(page.get_by_role("group", name="1. Red eye")).to_be_visible()
        expect(page.get_by_role("group", name="2. Teeth whitening")).to_be_visible()
        expect(page.get_by_role("group", name="3. Contrast")).to_be_visible()

        # the preview: the first photo, through POST /preview, beside the original
        expect(page.locator("#preview-status")).to_contain_text("Preview of astronaut.jpg ready", timeout=UI * 2)
        after = page.get_by_role("img", name="After: astronaut.jpg")
        expect(after).to_be_visible()
        assert after.evaluate("img => img.naturalWidth") == 480

        page.get_by_role("button", name="Start").click()
        done = images.filter(has=page.get_by_text("done", exact=True))
        try:
            expect(done).to_have_count(3, timeout=SLOW)
        except AssertionError:
            pytest.fail(f"3 photos did not finish; the page shows: {page.locator('main').inner_text()}")
        for name in photos["expected"]:
            expect(images.filter(has_text=name)).to_contain_text("done")
        damaged = images.filter(has_text="damaged.jpg")
        expect(damaged).to_contain_text(re.compile(r"corrupt|truncated|cannot be read"), timeout=SLOW)
        expect(notes).to_contain_text("not an image")
        for item in (damaged, notes):
            expect(item.get_by_text("done", exact=True)).to_have_count(0)
        expect(page.locator("#job-summary")).to_contain_text("3 done, 2 failed", timeout=SLOW)

        # a comparison slider, moved with the keyboard alone
        slider = page.get_by_role("slider", name="Compare before and after: coffee.jpg")
        slider.focus()
        expect(slider).to_have_value("50")
        for _ in range(10):
            page.keyboard.press("ArrowRight")
        expect(slider).to_have_value("60")
        page.keyboard.press("Home")
        expect(slider).to_have_value("0")
        compare = images.filter(has_text="coffee.jpg").locator(".compare")
        assert compare.evaluate("n => n.style.getPropertyValue('--split')").strip() == "0%"
        page.keyboard.press("End")
        expect(slider).to_have_value("100")

        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.keyboard.press("Home")
        for _ in range(55):
            page.keyboard.press("ArrowRight")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        # one ZIP with exactly the three outputs, decodable, of the right sizes
        with page.expect_download(timeout=SLOW) as download:
            page.get_by_role("button", name="Download all").click()
        data = Path(download.value.path()).read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = sorted(archive.namelist())
            assert names == ["astronaut.jpg", "chelsea.png", "coffee.jpg"], names
            for name in names:
                fmt, size = photos["expected"][name]
                with Image.open(io.BytesIO(archive.read(name))) as out:
                    out.load()
                    assert (out.format, out.size) == (fmt, size), name

        # keyboard only: every control has a name, and Start is reachable with Tab
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('button, input, select, a[href]')]
                .filter((n) => !n.closest('[hidden]'))
                .filter((n) => !(n.labels?.length || n.getAttribute('aria-label') || n.textContent.trim()))
                .map((n) => n.outerHTML)"""
        )
        assert unnamed == []
        page.locator("body").focus()
        for _ in range(200):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "start":
                break
        else:
            pytest.fail("Start cannot be reached with the Tab key")

        # reduced motion: no transitions; phone width: nothing wider than the screen
        page.emulate_media(reduced_motion="reduce")
        assert compare.evaluate("n => getComputedStyle(n.querySelector('.after')).transitionDuration") == "0s"
        page.set_viewport_size({"width": 375, "height": 740})
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert errors == []
    finally:
        context.close()


def test_api_docs_render_under_their_security_headers(stack: EmbeddedStack, browser: Any) -> None:
    """/docs (Swagger UI, inlined by Powertools) carries a strict content security policy and still
    renders: nothing it needs is refused."""
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    response = page.goto(f"{stack.api_url}/docs")
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "form-action 'none'" in csp and "default-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    page.locator(".swagger-ui .info .title").wait_for(state="visible", timeout=60_000)
    assert "Retouch API" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock-summary-path", has_text="/jobs").first.wait_for(state="visible", timeout=60_000)
    assert refused == []
    page.close()


def test_the_page_stops_and_deletes_a_job(stack: EmbeddedStack, browser: Any) -> None:
    from retouch.cli.client import ApiError, RetouchClient

    client = RetouchClient(stack.api_url, stack.token)
    job = client.create_job(
        [{"name": "never-uploaded.jpg", "content_type": "image/jpeg", "size": 1000}], [{"op": "contrast"}], {}
    )
    page = browser.new_page()
    page.set_default_timeout(UI)
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete the job of …? … for good"
    try:
        page.goto(f"{stack.api_url}/?token={stack.token}")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        page.get_by_role("button", name="Show recent jobs").click()
        recent = page.get_by_role("list", name="Recent jobs").get_by_role("listitem")
        row = recent.filter(has_text="1 photo, 0 done")
        expect(row).to_contain_text("still running")
        row.get_by_role("button", name="Stop the job").click()
        expect(page.get_by_role("alert")).to_contain_text("Stopped")
        assert client.job(job["job_id"])["cancelled_at"]
        row = recent.filter(has_text="1 photo, 0 done, 1 failed (finished)")
        row.get_by_role("button", name="Delete the job").click()
        expect(page.get_by_role("alert")).to_contain_text("gone from the service")
        with pytest.raises(ApiError) as gone:
            client.job(job["job_id"])
        assert gone.value.status == 404
    finally:
        page.close()
