"""The web page in real headless Chromium against the embedded stack, as a person uses it.

Task first: add photos (bad ones are refused at once, before a byte is uploaded, saying why),
choose what to do in plain words, see errors next to the control that caused them, skip a photo,
start, follow the job from the address after a reload or in a second tab, read each photo's
outcome, download a ZIP that waits for the job. On a phone, Start and the errors stay where the
person is looking. axe-core checks each state the person sees. The page's accessible names are
a public contract (README): the tests find every control by them.

The stack runs with a small upload limit and pixel limit, which GET /operations publishes and the
page checks files against. Screenshots for the README are taken only when RETOUCH_SCREENSHOTS
names a folder (``make screenshots`` sets it to ``docs``), so a test run leaves the checkout as it was.

Chromium is Debian's (``make setup`` installs it), driven by Playwright's Python package; axe-core
comes with the ``axe-playwright-python`` package. Every wait is on a condition, with generous
timeouts for a loaded two-core machine.
"""

from __future__ import annotations

import base64
import io
import os
import re
import struct
import zipfile
import zlib
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
axe_package = pytest.importorskip("axe_playwright_python", reason="installed by `make setup` (dev extras)")
expect = sync_api.expect

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "layers" / "retouch" / "retouch" / "web"
SCREENSHOTS = os.environ.get("RETOUCH_SCREENSHOTS", "")
"""Where to write the README's screenshots (a folder, relative to the repository), or "" for nowhere."""
SLOW = 300_000  # ms: a whole job on a loaded two-core machine
UI = 60_000
LIMIT = 400_000  # bytes: the stack's upload limit here (MaxUploadBytes), published by GET /operations
PIXELS = 40_000_000  # the stack's pixel limit here (MaxPixels)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
expect.set_options(timeout=UI)
TASKS = (
    "Fix red eyes",
    "Whiten teeth",
    "Colour an old photo",
    "Brighten and add contrast",
    "Crop for social media",
    "Make thumbnails",
)
LEAVING = "() => { const e = new Event('beforeunload', { cancelable: true }); dispatchEvent(e); return e.defaultPrevented; }"
AXE = (Path(axe_package.__file__).parent / "axe.min.js").read_text()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """The module's stack, with smaller limits than the defaults (the page must use the published ones)."""
    limits = {"MaxUploadBytes": str(LIMIT), "MaxPixels": str(PIXELS)}
    with EmbeddedStack(workdir=tmp_path_factory.mktemp("stack"), overrides=limits) as s:
        yield s


# --- helpers shared with test_web_fullsize.py ------------------------------------------------------


def screenshot(page: Any, name: str, **options: Any) -> bool:
    """Save the page as ``name`` in the RETOUCH_SCREENSHOTS folder, when it is set (``make
    screenshots``); whether it was (a test may set the page up for the picture first)."""
    if not SCREENSHOTS:
        return False
    folder = ROOT / SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), **options)
    return True


def screenshots_wanted() -> bool:
    return bool(SCREENSHOTS)


def write_photos(folder: Path) -> dict[str, Any]:
    """Three real photos, and five files the page must refuse before uploading: a JPEG cut short,
    text named .jpg, a PNG whose header says 63 megapixels, a PNG cut short, a photo over a
    400 KB limit)."""
    folder.mkdir(parents=True, exist_ok=True)
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
    good = io.BytesIO()
    Image.fromarray(np.asarray(photo("rocket"))).convert("RGB").save(good, "JPEG", quality=90)
    truncated = folder / "damaged.jpg"
    truncated.write_bytes(good.getvalue()[: len(good.getvalue()) * 2 // 3])
    text = folder / "notes.jpg"
    text.write_text("Holiday notes: remember the red-eye photos from the beach.\n" * 20)
    huge = folder / "panorama.png"  # 9,700 x 6,500: only the header, as big as it claims
    huge.write_bytes(png_header(9700, 6500))
    cut_png = folder / "cut.png"
    cut_png.write_bytes((folder / "chelsea.png").read_bytes()[:5000])
    big = folder / "big.jpg"
    noise = np.random.default_rng(1).integers(0, 255, (700, 700, 3), dtype=np.uint8)
    Image.fromarray(noise).save(big, "JPEG", quality=95)
    assert big.stat().st_size > LIMIT
    return {"good": files, "bad": [truncated, text, huge, cut_png, big]}


def png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists(), "Chromium is missing: `make setup` installs Debian's chromium package"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def new_page(browser: Any, viewport: dict[str, int] = DESKTOP) -> tuple[Any, Any, Any]:
    """A fresh context (its own storage) and page."""
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    context.set_default_timeout(UI)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def open_page(page: Any, stack: EmbeddedStack, fragment: str = "") -> None:
    page.goto(f"{stack.api_url}/#token={stack.token}{'&' + fragment if fragment else ''}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


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


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page as it is now (WCAG A/AA and best practices)."""
    page.evaluate(AXE)
    result = page.evaluate("async () => (await axe.run(document, { resultTypes: ['violations'] })).violations")
    return [f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})" for v in result]


def results(page: Any) -> Any:
    return page.get_by_role("list", name="Photos and results").get_by_role("listitem")


def in_viewport(locator: Any) -> bool:
    return bool(
        locator.evaluate(
            """(n) => { const r = n.getBoundingClientRect();
                return r.width > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth; }"""
        )
    )


def focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement?.id || ''"))


# --- the tests ---------------------------------------------------------------------------------------


def test_task_first_checks_errors_skip_address_outcomes_and_zip(stack: EmbeddedStack, browser: Any, tmp_path: Path) -> None:
    from retouch.cli.client import RetouchClient

    photos = write_photos(tmp_path / "photos")
    context, page, errors = new_page(browser)
    try:
        # the token comes in the fragment and leaves the address (and the history) at once
        page.goto("about:blank")
        open_page(page, stack)
        assert "token" not in page.url
        page.go_back()
        expect(page).to_have_url("about:blank")
        page.go_forward()
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        assert "token" not in page.url

        # signed in: no sign-in card or button anywhere ([hidden] is honoured)
        expect(page.get_by_role("button", name="Sign in")).to_be_hidden()
        expect(page.locator("#signin")).to_be_hidden()
        expect(page.locator("#account")).to_contain_text("Signed in")
        assert axe_violations(page) == []

        # Start with nothing: the error is next to the photos, focus moves there
        start = page.get_by_role("button", name="Start")
        start.click()
        photos_error = page.locator("#photos-error")
        expect(photos_error).to_contain_text("Add photos first")
        assert focused_id(page) == "file-input"
        assert in_viewport(photos_error)

        # every bad file is refused at once, saying why; nothing of them is uploaded
        drop_files(page, photos["good"] + photos["bad"])
        expect(photos_error).to_be_hidden()  # fixed: the message goes
        items = results(page)
        expect(items).to_have_count(8)
        for name, reason in (
            ("damaged.jpg", "incomplete"),
            ("notes.jpg", "not an image"),
            ("panorama.png", "9700 × 6500 is 63 megapixels"),
            ("cut.png", "incomplete"),
            ("big.jpg", "too large to upload"),
        ):
            item = items.filter(has_text=name)
            expect(item).to_contain_text(reason)
            expect(item).to_contain_text("Not uploaded")
            expect(item).not_to_contain_text("Ready")
        for path in photos["good"]:
            expect(items.filter(has_text=path.name)).to_contain_text("Ready")
        # the limits are the stack's, as GET /operations publishes them
        expect(page.locator("#limits")).to_contain_text(
            f"up to {round(LIMIT / 1024)} KB and {PIXELS // 1_000_000} megapixels each"
        )
        expect(items.filter(has_text="panorama.png")).to_contain_text(f"the service takes up to {PIXELS // 1_000_000} megapixels")

        # Start without a task: the error is next to the task choice, focus on the first one
        start.click()
        expect(page.locator("#task-error")).to_contain_text("Choose what to do")
        assert focused_id(page) == "task-red_eye"

        # the task in plain words; its settings under Adjust, in plain words, with their ranges
        for task in TASKS:
            expect(page.get_by_role("checkbox", name=task)).to_be_visible()
        page.get_by_role("checkbox", name="Fix red eyes").check()
        expect(page.locator("#task-error")).to_be_hidden()
        page.get_by_role("checkbox", name="Brighten and add contrast").check()
        page.get_by_text("Adjust", exact=True).click()
        adjust = page.locator("#adjust")
        text = adjust.inner_text()
        for jargon in ("R - max", "Lab b*", "percentile", "CLAHE", "chroma", "0 to 1 0 to 1", "Default false"):
            assert jargon not in text, jargon
        strength = page.get_by_label("How much to fix")
        expect(strength).to_have_accessible_description(re.compile(r"From 0 to 1\. Usually 1\."))
        assert axe_violations(page) == []
        screenshot(page, "web-task.png")

        # a value out of range is marked at once, Start moves focus to it, fixing it clears it
        strength.fill("5")
        strength.press("Tab")
        expect(strength).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#op-red_eye-strength-error")).to_contain_text("from 0 to 1")
        page.get_by_text("Adjust", exact=True).click()  # closed again: Start reopens it
        start.click()
        expect(strength).to_be_focused()
        strength.fill("1")
        strength.press("Tab")
        expect(page.locator("#op-red_eye-strength-error")).to_be_hidden()
        expect(strength).not_to_have_attribute("aria-invalid", "true")

        # skip a photo before starting
        items.filter(has_text="chelsea.png").get_by_role("button", name="Skip chelsea.png").click()
        expect(items.filter(has_text="chelsea.png")).to_contain_text("Skipped")

        # hold coffee.jpg's upload, to see the page while the job runs
        held: list[Any] = []

        def hold(route: Any) -> None:
            body = route.request.post_data_buffer or b""
            if route.request.method == "POST" and b'filename="coffee.jpg"' in body:
                held.append(route)
            else:
                route.continue_()

        page.route("**/*", hold)
        start.click()
        expect(page).to_have_url(re.compile(r"#job=[\w-]+"))
        job_id = re.search(r"#job=([\w-]+)", page.url).group(1)  # type: ignore[union-attr]
        coffee = items.filter(has_text="coffee.jpg")
        expect(coffee).to_contain_text("Uploading")
        # leaving now would lose the upload: the page asks first
        assert page.evaluate(LEAVING)
        # Download all, with one photo done and one still uploading: it waits, and says so
        expect(items.filter(has_text="astronaut.jpg")).to_have_class(re.compile(r"\bdone\b"), timeout=SLOW)
        download_all = page.get_by_role("button", name="Download all")
        with page.expect_download(timeout=SLOW) as download:
            download_all.click()
            waiting = "will be saved when the 1 photo still in progress is finished"
            expect(page.locator("#download-status")).to_contain_text(waiting)
            expect(page.locator("#job-summary")).to_contain_text("1 done, 5 not accepted, 1 in progress, 1 skipped")
            assert len(held) == 1
            held[0].continue_()
            page.unroute("**/*", hold)
            expect(page.locator("#job-summary")).to_contain_text("2 done", timeout=SLOW)
        with zipfile.ZipFile(Path(download.value.path())) as archive:
            assert sorted(archive.namelist()) == ["astronaut.jpg", "coffee.jpg"]
        expect(page.locator("#download-status")).to_contain_text("Saved all 2 results")
        assert not page.evaluate(LEAVING)

        # each photo says what was done to it: the outcome's sentence, as GET /jobs/{id} has it
        job = RetouchClient(stack.api_url, stack.token).job(job_id)
        for image in job["images"]:
            sentence = (image.get("outcome") or {}).get("summary") or "Done."
            expect(items.filter(has_text=image["name"]).locator(".status")).to_have_text(sentence)
        expect(items.filter(has_text="chelsea.png")).to_contain_text("Skipped")
        assert axe_violations(page) == []
        screenshot(page, "web-results.png", full_page=True)

        # the job is findable among the earlier ones by its photos' names
        page.get_by_role("button", name="Show earlier jobs").click()
        earlier = page.get_by_role("list", name="Earlier jobs").get_by_role("listitem")
        expect(earlier.filter(has_text="astronaut.jpg, coffee.jpg (shown above)")).to_have_count(1)

        # a reload, and a second tab on the same address, come back to the same job, with comparisons
        for view in (page, context.new_page()):
            if view is page:
                view.reload()
            else:
                view.goto(page.url)
            expect(view.locator("body")).to_have_attribute("data-ready", "true")
            again = results(view)
            for name in ("astronaut.jpg", "coffee.jpg"):
                card = again.filter(has_text=name)
                expect(card.get_by_role("slider", name=f"Compare before and after: {name}")).to_be_visible()
                expect(card.get_by_role("button", name=f"Open {name} full size")).to_be_visible()
        assert errors == []
    finally:
        context.close()


def test_a_reload_during_the_uploads_warns_first_and_loses_nothing(stack: EmbeddedStack, browser: Any, tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos")
    context, page, errors = new_page(browser)
    try:
        open_page(page, stack)
        drop_files(page, photos["good"][:2])
        items = results(page)
        expect(items.filter(has_text="coffee.jpg")).to_contain_text("Ready")
        page.get_by_role("checkbox", name="Brighten and add contrast").check()
        held: list[Any] = []

        def hold(route: Any) -> None:
            if route.request.method == "POST" and b'filename="coffee.jpg"' in (route.request.post_data_buffer or b""):
                held.append(route)
            else:
                route.continue_()

        page.route("**/*", hold)
        page.get_by_role("button", name="Start").click()
        expect(items.filter(has_text="astronaut.jpg")).to_have_class(re.compile(r"\bdone\b"), timeout=SLOW)
        expect(items.filter(has_text="coffee.jpg")).to_contain_text("Uploading")
        address = page.url
        assert "#job=" in address
        page.unroute("**/*", hold)

        assert page.evaluate(LEAVING)  # the browser asks before leaving (whether it shows it is its choice)
        page.on("dialog", lambda dialog: dialog.accept())  # "leave the page": the person reloads anyway
        page.reload()
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        assert page.url == address
        # the same job, and the interrupted upload is sent again from the kept original
        for name in ("astronaut.jpg", "coffee.jpg"):
            card = results(page).filter(has_text=name)
            expect(card).to_have_class(re.compile(r"\bdone\b"), timeout=SLOW)
            expect(card.get_by_role("slider", name=f"Compare before and after: {name}")).to_be_visible()
        expect(page.locator("#job-summary")).to_have_text("2 done.")
        assert errors == []
    finally:
        context.close()


def test_a_service_error_about_a_setting_shows_next_to_it(stack: EmbeddedStack, browser: Any, tmp_path: Path) -> None:
    """What only the service checks ("crop: parameter 'box' must be 4 numbers, got [...]") lands
    next to the setting, in the page's words, with the focus; correcting it clears it."""
    photos = write_photos(tmp_path / "photos")
    context, page, errors = new_page(browser)
    try:
        open_page(page, stack)
        drop_files(page, photos["good"][:1])
        expect(results(page).first).to_contain_text("Ready")
        page.get_by_role("checkbox", name="Crop for social media").check()
        page.get_by_text("Adjust", exact=True).click()
        area = page.get_by_label("Area to keep")
        area.fill("1, 2, 3")
        page.get_by_label("Keep in the frame").focus()
        page.get_by_role("button", name="Start").click()
        error = page.locator("#op-crop-box-error")
        expect(error).to_contain_text("Must be 4 numbers")
        assert "parameter" not in error.inner_text() and "crop:" not in error.inner_text()
        expect(area).to_be_focused()
        expect(area).to_have_attribute("aria-invalid", "true")
        area.fill("")
        page.get_by_label("Keep in the frame").focus()
        expect(error).to_be_hidden()
        assert errors == []
    finally:
        context.close()


def test_on_a_phone_start_and_errors_stay_where_the_person_looks(stack: EmbeddedStack, browser: Any, tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos")
    context, page, errors = new_page(browser, viewport=PHONE)
    try:
        open_page(page, stack)
        start = page.get_by_role("button", name="Start")
        download = page.get_by_role("button", name="Download all")
        for where in ("0", "document.body.scrollHeight / 2", "document.body.scrollHeight"):
            page.evaluate(f"window.scrollTo(0, {where})")
            assert in_viewport(start) and in_viewport(download), where
        drop_files(page, photos["good"])
        expect(results(page)).to_have_count(3)
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        assert in_viewport(start)
        start.click()  # no task chosen: the message and the focus go to the task choice, on screen
        error = page.locator("#task-error")
        expect(error).to_be_visible()
        assert in_viewport(error) and focused_id(page) == "task-red_eye"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert axe_violations(page) == []
        page.get_by_role("checkbox", name="Fix red eyes").check()
        if screenshots_wanted():
            page.evaluate("window.scrollTo(0, 0)")
            screenshot(page, "web-phone.png")

        # the results and the full-size view fit a phone, and the action bar stays in reach
        start.click()
        items = results(page)
        for path in photos["good"]:
            expect(items.filter(has_text=path.name)).to_have_class(re.compile(r"\bdone\b"), timeout=SLOW)
        assert in_viewport(start) and in_viewport(download)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        coffee = items.filter(has_text="coffee.jpg")
        coffee.scroll_into_view_if_needed()
        screenshot(page, "web-phone-results.png")
        coffee.get_by_role("button", name="Open coffee.jpg full size").click()
        viewer = page.get_by_role("dialog", name="coffee.jpg, full size")
        expect(viewer).to_be_visible()
        viewer.get_by_role("radio", name="fix an eye").check()
        page.locator("#viewer-canvas").click(position={"x": 150, "y": 100})
        expect(viewer.get_by_role("list", name="Points placed")).to_contain_text("Eye at")
        assert in_viewport(viewer.get_by_role("button", name="Re-run this photo with these points"))
        assert axe_violations(page) == []
        screenshot(page, "web-phone-fullsize.png")
        assert errors == []
    finally:
        context.close()


def test_sign_in_reads_consistently_on_the_local_stack(stack: EmbeddedStack, browser: Any) -> None:
    context, page, _ = new_page(browser)
    try:
        page.goto(f"{stack.api_url}/")
        card = page.locator("#signin")
        expect(card).to_be_visible()
        expect(card.locator("code").first).to_have_text("retouch local")
        assert "`" not in card.inner_text()
        expect(page.get_by_role("button", name="Sign in")).to_be_hidden()  # nothing to sign in to locally
        expect(page.locator("#account")).to_have_text("")
        page.goto(f"{stack.api_url}/#token=not-a-token")
        expect(card).to_contain_text("not valid")
        expect(page.locator("#account")).to_have_text("")
        assert "token" not in page.url
        assert axe_violations(page) == []
    finally:
        context.close()


def test_the_page_is_small_and_needs_no_other_origin(stack: EmbeddedStack, browser: Any) -> None:
    """Before the first photo: under 150 KB transferred, nothing from a CDN (bench.web_drop
    measures the time to ready against its 1 s budget; here only a loose bound)."""
    from retouch_testkit.web import BYTES, cold_load

    cold_load(browser, stack)
    ready_ms, transferred, foreign = cold_load(browser, stack)
    assert transferred < BYTES, transferred
    assert foreign == []
    assert 0 < ready_ms < 10_000


def test_zip_and_download_names_are_safe_on_every_system(stack: EmbeddedStack, browser: Any) -> None:
    context, page, _ = new_page(browser)
    try:
        open_page(page, stack)
        names = [
            "..\\..\\evil.jpg",
            "C:\\Windows\\win.ini.jpg",
            "../../etc/passwd.jpg",
            "C:evil.jpg",
            "CON.jpg",
            "nul",
            "com1.tar.jpg",
            'a<b>:c"d|e?f*.jpg',
            "trailing. ",
            "..",
            ".hidden.jpg",
            "x" * 300 + ".jpg",
            "photo.jpg",
            "PHOTO.jpg",
        ]
        safe = page.evaluate(
            """async (names) => {
                const { safeName, uniqueName } = await import('./checks.js');
                const taken = new Set();
                return names.map((n) => uniqueName(safeName(n), taken));
            }""",
            names,
        )
        assert safe[:5] == ["evil.jpg", "win.ini.jpg", "passwd.jpg", "evil-2.jpg", "_CON.jpg"], safe
        assert safe[5:11] == ["_nul", "_com1.tar.jpg", "a_b__c_d_e_f_.jpg", "trailing", "photo", "_hidden.jpg"], safe
        assert len(safe[11]) <= 180 and safe[11].endswith(".jpg")
        assert safe[12:] == ["photo.jpg", "PHOTO-2.jpg"], safe
        for name in safe:
            assert not re.search(r'[\\/:*?"<>|\x00-\x1f]', name) and name not in ("", ".", "..") and not name.endswith((".", " "))
    finally:
        context.close()


def test_the_browser_keeps_the_originals_of_recent_jobs_only(stack: EmbeddedStack, browser: Any) -> None:
    """The originals kept for reloads (IndexedDB) are the last 20 jobs', not every job's ever."""
    context, page, _ = new_page(browser)
    try:
        open_page(page, stack)
        kept = page.evaluate(
            """async () => {
                const { keepJob, keptJob } = await import('./keep.js');
                for (let n = 0; n < 22; n++) {
                    const file = new File([new Uint8Array(10)], `p${n}.jpg`, { type: 'image/jpeg' });
                    await keepJob(`job-${n}`, { images: { i: { file, name: file.name } } });
                }
                const found = [];
                for (let n = 0; n < 22; n++) if (await keptJob(`job-${n}`)) found.push(n);
                const last = await keptJob('job-21');
                return { found, name: last.images.i.file.name, size: last.images.i.file.size };
            }"""
        )
        assert kept == {"found": list(range(2, 22)), "name": "p21.jpg", "size": 10}
    finally:
        context.close()


def test_the_page_stops_and_deletes_a_job(stack: EmbeddedStack, browser: Any) -> None:
    from retouch.cli.client import ApiError, RetouchClient

    client = RetouchClient(stack.api_url, stack.token)
    job = client.create_job(
        [{"name": "never-uploaded.jpg", "content_type": "image/jpeg", "size": 1000}], [{"op": "contrast"}], {}
    )
    context, page, _ = new_page(browser)
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete the job of …? … for good"
    try:
        open_page(page, stack)
        page.get_by_role("button", name="Show earlier jobs").click()
        recent = page.get_by_role("list", name="Earlier jobs").get_by_role("listitem")
        row = recent.filter(has_text="1 photo, 0 done")
        expect(row).to_contain_text("still running")
        row.get_by_role("button", name="Stop the job").click()
        expect(page.locator("#recent-status")).to_contain_text("Stopped")
        assert client.job(job["job_id"])["cancelled_at"]
        row = recent.filter(has_text="1 photo, 0 done, 1 failed (finished)")
        row.get_by_role("button", name="Delete the job").click()
        expect(page.locator("#recent-status")).to_contain_text("gone from the service")
        with pytest.raises(ApiError) as gone:
            client.job(job["job_id"])
        assert gone.value.status == 404
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


def test_the_page_preloads_every_module_it_imports() -> None:
    """index.html names each module for preloading (one round trip instead of one per import
    level); a module added to the page and not to that list would load late."""
    page = (WEB / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', page))
    modules = {p.name for p in WEB.glob("*.js")} - {"app.js"}
    assert preloaded == modules | {"vendor/client-zip/index.js"}
