"""Before/after contact sheet of every retouching operation, for the README.

    .venv/bin/python -m bench.contact_sheet docs/contact-sheet.jpg

Inputs are scikit-image's photographs with synthetic defects (red pupils painted over the real
irises, teeth yellowed inside the real mouth, a colour photo turned grey, a flat exposure, a
face placed off-centre), and for ``colorize`` auto a landscape from ``lomiri-wallpapers-16.04``
(reserved for evaluation: the model never saw it; fetched by :mod:`bench.photos`) turned grey;
the "after" column is the operation's output, run by the same pipeline code as the service.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw
from skimage import data

from bench.photos import LOMIRI_16, load
from retouch import ops
from retouch.ops.context import ChainContext
from retouch.ops.faces import detect_faces
from retouch_testkit.portrait import paint_red_eyes, teeth_region, yellow_teeth

CELL = 360


def run(image: np.ndarray, *operations: dict, reference: np.ndarray | None = None) -> np.ndarray:
    context = ChainContext(resolve_image=lambda _: reference)
    return ops.apply_operations(image, ops.validate_operations(list(operations)), context)


def fit(image: np.ndarray, height: int = CELL) -> Image.Image:
    im = Image.fromarray(image[:, :, :3])
    return im.resize((max(1, round(im.width * height / im.height)), height), Image.Resampling.LANCZOS)


def rows() -> list[tuple[str, np.ndarray, np.ndarray]]:
    astronaut = data.astronaut()
    faces = detect_faces(astronaut)
    red, _ = paint_red_eyes(astronaut, faces)
    (lx, ly), (rx, ry) = faces[0].left_eye.center, faces[0].right_eye.center
    span = abs(rx - lx)
    eyes = (
        slice(int(min(ly, ry) - 0.5 * span), int(max(ly, ry) + 0.5 * span)),
        slice(int(min(lx, rx) - 0.6 * span), int(max(lx, rx) + 0.6 * span)),
    )
    yellow = yellow_teeth(astronaut, teeth_region(astronaut, faces[0]), db=22)
    unseen = load(LOMIRI_16, "usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg", 768)
    unseen_grey = np.repeat(cv2.cvtColor(unseen, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    (mx0, my0), (mx1, my1) = faces[0].mouth_left, faces[0].mouth_right
    width = abs(mx1 - mx0)
    mouth = (
        slice(int(min(my0, my1) - 0.6 * width), int(max(my0, my1) + 0.6 * width)),
        slice(int(min(mx0, mx1) - 0.5 * width), int(max(mx0, mx1) + 0.5 * width)),
    )
    coffee = data.coffee()
    grey = np.repeat(cv2.cvtColor(coffee, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    flat = (data.chelsea().astype(np.float32) * 0.45 + 90).astype(np.uint8)
    wide = np.full((512, 1400, 3), 96, dtype=np.uint8)
    wide[:, 860:1372] = astronaut
    return [
        ("red_eye", red[eyes], run(red, {"op": "red_eye"})[eyes]),
        ("teeth_whitening (default strength)", yellow[mouth], run(yellow, {"op": "teeth_whitening"})[mouth]),
        ("colorize mode=auto (a photo the model never saw)", unseen_grey, run(unseen_grey, {"op": "colorize"})),
        (
            "colorize mode=reference",
            grey,
            run(
                grey,
                {"op": "colorize", "params": {"mode": "reference", "reference": "ref"}},
                reference=np.ascontiguousarray(coffee[:, ::-1]),
            ),
        ),
        ("contrast method=clahe", flat, run(flat, {"op": "contrast", "params": {"method": "clahe", "clip_limit": 2.5}})),
        ("crop aspect=4:5 gravity=face", wide, run(wide, {"op": "crop", "params": {"aspect": "4:5", "gravity": "face"}})),
        (
            "thumbnail 256x256 cover",
            wide,
            run(wide, {"op": "thumbnail", "params": {"width": 256, "height": 256, "fit": "cover"}}),
        ),
    ]


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contact-sheet.jpg")
    tiles = [(label, fit(before), fit(after)) for label, before, after in rows()]
    width = max(b.width + a.width for _, b, a in tiles) + 60
    sheet = Image.new("RGB", (width, len(tiles) * (CELL + 40) + 10), "white")
    draw = ImageDraw.Draw(sheet)
    y = 10
    for label, before, after in tiles:
        draw.text((10, y), f"{label}: before | after", fill="black")
        sheet.paste(before, (10, y + 20))
        sheet.paste(after, (30 + before.width, y + 20))
        y += CELL + 40
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, "JPEG", quality=80, optimize=True)
    print(f"wrote {out} ({sheet.width}x{sheet.height}, {out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
