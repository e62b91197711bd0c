"""Evaluation of face-aware crops: faces placed off-centre, cropped to several aspect ratios
with gravity=face / smart / center; reports how many faces stay entirely in frame.

    .venv/bin/python -m bench.eval_framing
"""

from __future__ import annotations

import numpy as np
from skimage import data

from retouch import ops
from retouch.ops.faces import detect_faces

ASPECTS = ("1:1", "4:5", "9:16")
GRAVITIES = ("center", "face", "smart")


def scene(offset: float, width: int = 1800) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The astronaut at horizontal position ``offset`` (0..1) of a wide canvas, and the face boxes."""
    face = data.astronaut()
    canvas = np.full((512, width, 3), 100, dtype=np.uint8)
    x = int(offset * (width - 512))
    canvas[:, x : x + 512] = face
    return canvas, [f.box for f in detect_faces(canvas)]


def kept(box: tuple[int, int, int, int], window: tuple[int, int, int, int]) -> bool:
    bx, by, bw, bh = box
    x, y, w, h = window
    return bx >= x and by >= y and bx + bw <= x + w and by + bh <= y + h


def window_of(image: np.ndarray, out: np.ndarray) -> tuple[int, int, int, int]:
    """Where ``out`` (a crop) sits in ``image`` (exact match search along the free axis)."""
    h, w = out.shape[:2]
    for y in range(image.shape[0] - h + 1):
        for x in range(image.shape[1] - w + 1):
            if np.array_equal(image[y, x : x + w], out[0]) and np.array_equal(image[y : y + h, x : x + w], out):
                return x, y, w, h
    raise AssertionError("crop not found in source")


def main() -> None:
    totals = {g: [0, 0] for g in GRAVITIES}
    for offset in (0.0, 0.15, 0.85, 1.0):
        image, boxes = scene(offset)
        for aspect in ASPECTS:
            for gravity in GRAVITIES:
                out = ops.apply_operations(
                    image, ops.validate_operations([{"op": "crop", "params": {"aspect": aspect, "gravity": gravity}}])
                )
                window = window_of(image, out)
                totals[gravity][0] += sum(kept(b, window) for b in boxes)
                totals[gravity][1] += len(boxes)
    print("faces kept in frame by aspect crops (4 off-centre placements x 3 aspect ratios)")
    print(f"{'gravity':<8} {'kept':>5} / {'placed':<6}")
    for gravity, (k, n) in totals.items():
        print(f"{gravity:<8} {k:>5} / {n:<6} ({100 * k / n:.0f} %)")


if __name__ == "__main__":
    main()
