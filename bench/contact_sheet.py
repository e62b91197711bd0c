"""Before/after contact sheet of the retouching operations at 100 %, for the README.

    .venv/bin/python -m bench.contact_sheet [docs/contact-sheet.png]     (or: make contact-sheet)

Every row is one case a person would judge, cut from the full-size result at 100 % (pixels as
they are; a row whose subject is only a few pixels across is also shown enlarged 4x, nearest
neighbour, and says so), with the outcome sentence the service reports for that photo. Inputs are
openly licensed photos with synthetic defects of known extent, the same cases the evaluations
measure: red pupils painted into scikit-image's astronaut (public domain) as a close-up and into
copies of her face 100 down to 40 px wide; yellowed teeth on a 60 px face under
a blue stage light (:mod:`retouch_testkit.teeth`); a grey and a sepia version of scikit-image's
astronaut and coffee; a group of faces that cannot all fit a 4:5 crop. The "after" column is the
operations' output, run by the same code as the service. Nothing here uses the photos reserved
for evaluation by others (:data:`bench.photos.RESERVED_PACKAGES`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw
from skimage import data

from bench.eval_red_eye import detected_eyes, paint_textured
from retouch import ops
from retouch.ops.context import ChainContext
from retouch_testkit.portrait import collage
from retouch_testkit.teeth import face_scene

Row = tuple[str, np.ndarray, np.ndarray, str]
"""label, before, after (the same region of each, at 100 %), the outcome's sentence."""

ZOOM = 4
MIN_SIDE = 90
"""A crop smaller than this on its longer side is also shown enlarged ``ZOOM`` times."""


def run(image: np.ndarray, *operations: dict) -> tuple[np.ndarray, str]:
    """The operations' output and the outcome's sentence, as the service would report them."""
    context = ChainContext()
    out = ops.apply_operations(image, ops.validate_operations(list(operations)), context)
    return out, context.outcome.sentence()


def window(image: np.ndarray, x: float, y: float, half_w: int, half_h: int) -> tuple[slice, slice]:
    h, w = image.shape[:2]
    return slice(max(0, int(y) - half_h), min(h, int(y) + half_h)), slice(max(0, int(x) - half_w), min(w, int(x) + half_w))


def red_eye_rows() -> list[Row]:
    close = cv2.resize(data.astronaut(), (1536, 1536), interpolation=cv2.INTER_CUBIC)
    eyes = detected_eyes(close)
    painted, _ = paint_textured(close, eyes, (190, 25, 30))
    fixed, said = run(painted, {"op": "red_eye"})
    (x0, y0, r), (x1, y1, _) = eyes[0], eyes[1]
    region = window(painted, (x0 + x1) / 2, (y0 + y1) / 2, int(abs(x1 - x0) / 2 + 3 * r), int(3 * r))
    rows = [(f"red_eye, close-up (iris radius about {round(r)} px)", painted[region], fixed[region], said)]
    group, boxes = collage((100, 75, 60, 48, 40))
    group_eyes = detected_eyes(group)
    painted, _ = paint_textured(group, group_eyes, (160, 55, 50), seed=1)
    fixed, said = run(painted, {"op": "red_eye"})
    region = (slice(0, max(y + h for _, y, _, h in boxes) + 40), slice(0, max(x + w for x, _, w, _ in boxes) + 30))
    rows.append(("red_eye, faces of 100 down to 40 px", painted[region], fixed[region], said))
    return rows


def teeth_row() -> Row:
    _, yellow, mask = face_scene(60, light=(0.8, 0.95, 1.3))
    fixed, said = run(yellow, {"op": "teeth_whitening"})
    ys, xs = np.nonzero(mask)
    region = window(yellow, xs.mean(), ys.mean(), 40, 30)
    return "teeth_whitening, a 60 px face under a blue stage light", yellow[region], fixed[region], said


def colorize_rows() -> list[Row]:
    rows = []
    for name, photo, (x, y) in (("astronaut", data.astronaut(), (260, 150)), ("coffee", data.coffee(), (300, 200))):
        grey = np.repeat(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
        coloured, said = run(grey, {"op": "colorize"})
        region = window(grey, x, y, 200, 150)
        rows.append((f"colorize, a black-and-white {name}", grey[region], coloured[region], said))
    sepia = np.clip(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2GRAY)[:, :, None] * np.array([1.07, 0.95, 0.74]), 0, 255)
    sepia = sepia.astype(np.uint8)
    coloured, said = run(sepia, {"op": "colorize"})
    region = window(sepia, 300, 200, 200, 150)
    rows.append(("colorize, a sepia print (treated as monochrome)", sepia[region], coloured[region], said))
    photo = data.chelsea()
    same, said = run(photo, {"op": "colorize"})
    region = window(photo, 225, 150, 200, 140)
    rows.append(("colorize, a photo already in colour", photo[region], same[region], said))
    return rows


def framing_row() -> Row:
    face = cv2.resize(data.astronaut()[30:215, 150:300], (75, 92), interpolation=cv2.INTER_AREA)
    scene = np.empty((300, 1200, 3), np.uint8)
    scene[:] = np.linspace(80, 200, 1200)[None, :, None].astype(np.uint8)
    for x in (30, 400, 560, 720, 1090):
        scene[100:192, x : x + 75] = face
    cropped, said = run(scene, {"op": "crop", "params": {"aspect": "4:5"}})
    shown = np.full_like(scene, 255)
    shown[:, : cropped.shape[1]] = cropped
    return "crop aspect=4:5 (face gravity by default), five faces in a row", scene, shown[:, : cropped.shape[1]], said


def tile(before: np.ndarray, after: np.ndarray) -> Image.Image:
    pair = [Image.fromarray(np.ascontiguousarray(i[:, :, :3])) for i in (before, after)]
    if max(before.shape[:2]) < MIN_SIDE:
        pair = [i.resize((i.width * ZOOM, i.height * ZOOM), Image.Resampling.NEAREST) for i in pair]
    height = max(i.height for i in pair)
    out = Image.new("RGB", (pair[0].width + pair[1].width + 10, height), "white")
    out.paste(pair[0], (0, 0))
    out.paste(pair[1], (pair[0].width + 10, 0))
    return out


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contact-sheet.png")
    rows = [*red_eye_rows(), teeth_row(), *colorize_rows(), framing_row()]
    tiles = []
    for label, before, after, said in rows:
        zoomed = " (shown 4x, nearest neighbour)" if max(before.shape[:2]) < MIN_SIDE else " (100 %)"
        tiles.append((f"{label}{zoomed}: before | after. Outcome: {said}", tile(before, after)))
    width = max(max(t.width for _, t in tiles), 700) + 20
    sheet = Image.new("RGB", (width, sum(t.height + 34 for _, t in tiles) + 10), "white")
    draw = ImageDraw.Draw(sheet)
    y = 10
    for label, image in tiles:
        draw.text((10, y), label, fill="black")
        sheet.paste(image, (10, y + 18))
        y += image.height + 34
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    print(f"wrote {out} ({sheet.width}x{sheet.height}, {out.stat().st_size // 1024} KB)")
    for label, _, _, said in rows:
        print(f"  {label}: {said}")


if __name__ == "__main__":
    main()
