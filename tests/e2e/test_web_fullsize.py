"""The web page's full-size view in headless Chromium against the embedded stack: open a result,
zoom to 100 %, compare before and after, click a red eye the automatic pass could not find (no
face in a close crop) and see it previewed, re-run the photo with that point (a new one-photo job,
as the service cannot re-run in place, said plainly), place a colour hint with the colour picker,
and re-run a photo with other settings. axe-core checks the view.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import requests
from PIL import Image

from retouch.local.stack import EmbeddedStack
from tests.e2e.test_web import (
    SLOW,
    axe_violations,
    browser,
    drop_files,
    new_page,
    open_page,
    results,
    screenshot,
    screenshots_wanted,
)
from tests.unit.test_red_eye import SKIN, render_eye

pytestmark = pytest.mark.e2e
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by `make setup` (dev extras)")
expect = sync_api.expect

__all__ = ["browser"]  # the module's Chromium, shared with test_web.py's definition

OFFSET = (120, 90)
CENTRE = "(s) => s.scrollTo((s.scrollWidth - s.clientWidth) / 2, (s.scrollHeight - s.clientHeight) / 2)"


def red_eyed_close_up(path: Path) -> tuple[int, int]:
    """A close crop of one red eye (no face to find) on skin, 440 x 320, lossless; its centre."""
    eye, (cx, cy) = render_eye(18, 7)
    canvas = np.empty((320, 440, 3), np.uint8)
    canvas[:] = SKIN
    h, w = eye.shape[:2]
    canvas[OFFSET[1] : OFFSET[1] + h, OFFSET[0] : OFFSET[0] + w] = eye
    Image.fromarray(canvas).save(path, "PNG")
    return round(cx + OFFSET[0]), round(cy + OFFSET[1])


def redness_at(data: bytes, x: int, y: int) -> float:
    with Image.open(io.BytesIO(data)) as im:
        px = np.asarray(im.convert("RGB"), np.float32)[y - 2 : y + 3, x - 2 : x + 3]
    r, g, b = (float(px[..., c].mean()) for c in range(3))
    return (r - max(g, b)) / max(r, 1.0)


def preview_operations(request: Any) -> list[dict[str, Any]]:
    return json.loads(parse_qs(urlsplit(request.url).query)["operations"][0])


def test_full_size_view_zoom_point_at_an_eye_rerun_and_place_a_colour(stack: EmbeddedStack, browser: Any, tmp_path: Path) -> None:
    from retouch.cli.client import RetouchClient

    client = RetouchClient(stack.api_url, stack.token)
    photo = tmp_path / "close-up.png"
    ex, ey = red_eyed_close_up(photo)
    assert redness_at(photo.read_bytes(), ex, ey) > 0.5
    context, page, errors = new_page(browser)
    try:
        open_page(page, stack)
        drop_files(page, [photo])
        items = results(page)
        card = items.filter(has_text="close-up.png")
        expect(card).to_contain_text("Ready")
        page.get_by_role("checkbox", name="Fix red eyes").check()
        page.get_by_role("button", name="Start").click()
        expect(card).to_have_class(re.compile(r"\bdone\b"), timeout=SLOW)
        first_job = re.search(r"#job=([\w-]+)", page.url).group(1)  # type: ignore[union-attr]

        # the full-size view: a modal dialog, zoom to 100 %, before/after
        opener = card.get_by_role("button", name="Open close-up.png full size")
        opener.click()
        viewer = page.get_by_role("dialog", name="close-up.png, full size")
        expect(viewer).to_be_visible()
        expect(viewer.get_by_role("img", name="After: close-up.png")).to_be_visible()
        assert axe_violations(page) == []
        viewer.get_by_label("Zoom").select_option(label="100 %")
        canvas = page.locator("#viewer-canvas")
        expect(canvas).to_have_css("width", "440px")
        slider = viewer.get_by_role("slider", name="Before / after")
        slider.fill("0")
        expect(canvas).to_have_css("--split", "0%")

        # click the eye: the point is listed, marked, previewed through POST /preview
        viewer.get_by_role("radio", name="fix an eye").check()
        with page.expect_request(lambda r: "/preview" in r.url) as previewed:
            canvas.click(position={"x": ex + 0.5, "y": ey + 0.5})  # the middle of pixel (ex, ey)
        expect(viewer.get_by_role("list", name="Points placed")).to_contain_text(f"Eye at {ex}, {ey}")
        points = next(o for o in preview_operations(previewed.value) if o["op"] == "red_eye")["params"]["points"]
        assert points == [[ex, ey]]  # the photo is smaller than the preview's 1024 px: not scaled
        expect(viewer).to_have_attribute("data-preview", "ready", timeout=SLOW)
        expect(page.locator("#viewer-status")).to_contain_text("Preview with your points")
        if screenshots_wanted():
            viewer.get_by_label("Zoom").select_option(label="200 %")
            page.locator("#viewer-stage").evaluate(CENTRE)
            slider.fill("49")  # the divider through the pupil: before on the left, the preview on the right
            screenshot(page, "web-fullsize.png")
            slider.fill("0")
            viewer.get_by_label("Zoom").select_option(label="100 %")

        # re-run the photo with the point: a new one-photo job, said plainly
        viewer.get_by_role("button", name="Re-run this photo with these points").click()
        expect(page.locator("#viewer-status")).to_contain_text("as a new job")
        expect(page.locator("#viewer-status")).to_contain_text("Re-run finished", timeout=SLOW)
        expect(page).to_have_url(re.compile(rf"#job={first_job},[\w-]+"))
        second_job = page.url.rsplit(",", 1)[1]
        job = client.job(second_job)
        assert [o["op"] for o in job["operations"]] == ["red_eye"] and job["operations"][0]["params"]["points"]
        [image] = job["images"]
        assert image["status"] == "succeeded"
        fixed = requests.get(image["download_url"], timeout=60).content
        assert redness_at(fixed, ex, ey) < 0.3
        if (image.get("outcome") or {}).get("summary"):
            expect(card.locator(".status")).to_have_text(image["outcome"]["summary"])

        # a colour hint, with the colour picker: the preview asks colorize for it, in its format
        viewer.get_by_role("button", name="Remove the points").click()
        viewer.get_by_role("radio", name="place a colour").check()
        viewer.get_by_label("Colour", exact=True).fill("#c03020")
        with page.expect_request(lambda r: "/preview" in r.url) as previewed:
            canvas.click(position={"x": 40.5, "y": 30.5})
        expect(viewer.get_by_role("list", name="Points placed")).to_contain_text("Colour #c03020 at 40, 30")
        colorize = next(o for o in preview_operations(previewed.value) if o["op"] == "colorize")["params"]
        assert colorize["mode"] == "hints" and colorize["hints"] == "40,30,#c03020"
        viewer.get_by_role("button", name="Remove: Colour #c03020 at 40, 30").click()
        expect(viewer.get_by_role("list", name="Points placed")).to_have_text("")
        # without a mouse: from the photo, the arrow keys move a cross and Enter places it
        viewer.get_by_role("radio", name="fix an eye").check()
        page.locator("#viewer-stage").focus()
        for key in ("ArrowRight", "ArrowRight", "ArrowRight", "Shift+ArrowDown", "Enter"):
            page.keyboard.press(key)
        expect(viewer.get_by_role("list", name="Points placed")).to_have_text(re.compile(r"Eye at 223, 170"))
        viewer.get_by_role("button", name="Remove: Eye at 223, 170").click()
        page.keyboard.press("Escape")
        expect(viewer).to_be_hidden()
        expect(opener).to_be_focused()

        # re-run with other settings, without choosing the photo again
        page.get_by_role("checkbox", name="Brighten and add contrast").check()
        card.get_by_role("button", name="Re-run close-up.png with the current settings").click()
        expect(page).to_have_url(re.compile(rf"#job={first_job},{second_job},[\w-]+"))
        expect(card).to_have_class(re.compile(r"\bdone\b"), timeout=SLOW)
        expect(card).to_contain_text("Re-run as a new job")
        third = client.job(page.url.rsplit(",", 1)[1])
        assert [o["op"] for o in third["operations"]] == ["red_eye", "contrast"]
        assert errors == []
    finally:
        context.close()
