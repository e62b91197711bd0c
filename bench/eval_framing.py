"""Evaluation of face-aware framing: faces placed off-centre, and groups of faces that cannot
all fit, cropped to several aspect ratios with gravity=face / smart / center; reports how many
faces stay entirely in frame ("faces kept"), how many the best window could keep, and whether
the outcome's ``faces_outside`` says how many were cut.

    .venv/bin/python -m bench.eval_framing
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from retouch import ops
from retouch.ops.context import ChainContext
from retouch.ops.faces import detect_faces
from retouch.ops.framing import largest_group

ASPECTS = ("1:1", "4:5", "9:16")
GROUP_ASPECTS = ("1:1", "4:5", "9:16", "16:9")
GRAVITIES = ("center", "face", "smart")
HEIGHT = 512

Box = tuple[int, int, int, int]

GROUPS: dict[str, list[tuple[int, int, int]]] = {
    # name: astronaut portraits as (x, y, side) on a 1800 x 512 canvas
    "three in a row": [(100, 128, 256), (356, 0, 256), (612, 200, 256)],
    "two close, one far": [(40, 100, 256), (300, 160, 256), (1500, 60, 256)],
    "four spread": [(0, 0, 256), (500, 250, 256), (1000, 40, 256), (1540, 180, 256)],
    "one large, two small": [(1288, 0, 512), (60, 40, 200), (300, 260, 200)],
    "five, a group of three": [(0, 250, 180), (420, 20, 180), (600, 300, 180), (780, 60, 180), (1600, 150, 180)],
}


def portrait(side: int) -> np.ndarray:
    return cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)


def scene(offset: float, width: int = 1800) -> tuple[np.ndarray, list[Box]]:
    """The astronaut at horizontal position ``offset`` (0..1) of a wide canvas, and the face boxes."""
    canvas = np.full((HEIGHT, width, 3), 100, dtype=np.uint8)
    x = int(offset * (width - 512))
    canvas[:, x : x + 512] = data.astronaut()
    return canvas, [f.box for f in detect_faces(canvas)]


def group_scene(tiles: list[tuple[int, int, int]], width: int = 1800) -> tuple[np.ndarray, list[Box]]:
    canvas = np.full((HEIGHT, width, 3), 100, dtype=np.uint8)
    for x, y, side in tiles:
        canvas[y : y + side, x : x + side] = portrait(side)
    return canvas, [f.box for f in detect_faces(canvas)]


def kept(box: Box, window: Box) -> bool:
    bx, by, bw, bh = box
    x, y, w, h = window
    return bx >= x and by >= y and bx + bw <= x + w and by + bh <= y + h


def window_of(image: np.ndarray, out: np.ndarray) -> Box:
    """Where ``out`` (a crop) sits in ``image`` (exact match search along the free axis)."""
    h, w = out.shape[:2]
    for y in range(image.shape[0] - h + 1):
        for x in range(image.shape[1] - w + 1):
            if np.array_equal(image[y, x : x + w], out[0]) and np.array_equal(image[y : y + h, x : x + w], out):
                return x, y, w, h
    raise AssertionError("crop not found in source")


def crop(image: np.ndarray, aspect: str, gravity: str) -> tuple[Box, ChainContext]:
    context = ChainContext()
    chain = ops.bind([{"op": "crop", "params": {"aspect": aspect, "gravity": gravity}}])
    return window_of(image, ops.apply_operations(image, chain, context)), context


def clipped(boxes: list[Box], width: int, height: int) -> list[Box]:
    out = []
    for x, y, w, h in boxes:
        left, top = max(0, x), max(0, y)
        out.append((left, top, min(width, x + w) - left, min(height, y + h) - top))
    return out


def single_faces() -> None:
    totals = {g: [0, 0] for g in GRAVITIES}
    for offset in (0.0, 0.15, 0.85, 1.0):
        image, boxes = scene(offset)
        for aspect in ASPECTS:
            for gravity in GRAVITIES:
                window, _ = crop(image, aspect, gravity)
                totals[gravity][0] += sum(kept(b, window) for b in boxes)
                totals[gravity][1] += len(boxes)
    print("faces kept in frame by aspect crops (4 off-centre placements x 3 aspect ratios)")
    print(f"{'gravity':<8} {'kept':>5} / {'placed':<6}")
    for gravity, (k, n) in totals.items():
        print(f"{gravity:<8} {k:>5} / {n:<6} ({100 * k / n:.0f} %)")


def groups() -> None:
    """Groups of faces that often cannot all fit: faces kept, against the best window's count."""
    totals = {g: {"kept": 0, "best": 0, "faces": 0, "reported": 0, "cut": 0} for g in GRAVITIES}
    rows = []
    for name, tiles in GROUPS.items():
        image, boxes = group_scene(tiles)
        boxes = clipped(boxes, image.shape[1], HEIGHT)
        for aspect in GROUP_ASPECTS:
            cells = []
            for gravity in GRAVITIES:
                window, context = crop(image, aspect, gravity)
                k = sum(kept(b, window) for b in boxes)
                best = len(largest_group(boxes, window[2], window[3]))
                t = totals[gravity]
                t["kept"], t["best"], t["faces"] = t["kept"] + k, t["best"] + best, t["faces"] + len(boxes)
                t["cut"] += len(boxes) - k
                t["reported"] += context.outcome.faces_outside or 0
                cells.append(f"{k}/{best}")
            rows.append((name, aspect, len(boxes), cells))
    print()
    print(f"groups of faces ({len(GROUPS)} scenes x {len(GROUP_ASPECTS)} aspect ratios): faces kept / the most any window keeps")
    print(f"{'scene':<24} {'aspect':<6} {'faces':>5}  " + "  ".join(f"{g:>6}" for g in GRAVITIES))
    for name, aspect, n, cells in rows:
        print(f"{name:<24} {aspect:<6} {n:>5}  " + "  ".join(f"{c:>6}" for c in cells))
    print(f"{'gravity':<8} {'kept':>5} / {'best':<5} / {'faces':<5}  faces_outside reported / faces cut")
    for gravity, t in totals.items():
        print(f"{gravity:<8} {t['kept']:>5} / {t['best']:<5} / {t['faces']:<5}  {t['reported']:>6} / {t['cut']}")


def main() -> None:
    single_faces()
    groups()


if __name__ == "__main__":
    main()
