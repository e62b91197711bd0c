"""Evaluate the portrait operations on real photos with synthetic defects of known extent.

    .venv/bin/python bench/eval_portrait.py

Scenes (all offline: scikit-image's bundled public-domain photos):

* ``astronaut``: red pupils painted over the detected irises (with a white catch-light), a
  red patch painted on the shirt, and the teeth yellowed (+18 b*, -3 L* inside the teeth).
* ``collage``: copies of the astronaut's face at 40 to 250 px wide on a plain background,
  each with red pupils.
* ``astronaut 12 MP``: the astronaut upscaled to 4000x3000, same defects, for timings.
* ``coffee``: no faces; both operations must leave it unchanged.

Printed: red eyes fixed / painted, teeth yellowness (mean b* in the teeth mask) before and
after and the share removed, PSNR outside the touched regions, faces found / placed, and
timings on one core. The helpers that paint the defects are also used by
``tests/unit/test_portrait.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from skimage import data

from retouch.ops import faces as face_analysis
from retouch.ops import portrait
from retouch.ops.faces import Face

RED_PUPIL = (190, 25, 30)
PUPIL_FRACTION = 0.75  # painted pupil radius / iris radius
EYE_FIXED_REDNESS = 0.25  # mean redness inside a painted pupil below which the eye counts as fixed
ASTRONAUT_FACE_CROP = (150, 30, 150, 185)  # x, y, w, h around the astronaut's face (86 px wide)

# --------------------------------------------------------------------------- scenes


def astronaut_12mp() -> np.ndarray:
    """The astronaut's top 512x384 upscaled 7.8x to 4000x3000 (12 MP, aspect kept)."""
    return cv2.resize(data.astronaut()[:384], (4000, 3000), interpolation=cv2.INTER_CUBIC)


def paint_red_eyes(image: np.ndarray, faces: list[Face]) -> tuple[np.ndarray, list[tuple[float, float, float]]]:
    """Paint a red pupil (``PUPIL_FRACTION`` of the iris radius) with a small white catch-light
    over every detected iris. Returns the image and the painted discs ``(x, y, r)``."""
    out = image.copy()
    discs = []
    for face in faces:
        for eye in face.eyes:
            x, y = eye.center
            r = eye.iris_radius * PUPIL_FRACTION
            cv2.circle(out, (round(x * 16), round(y * 16)), round(r * 16), RED_PUPIL, -1, cv2.LINE_AA, 4)
            glint = max(0.6, 0.25 * r)
            cv2.circle(
                out,
                (round((x + 0.35 * r) * 16), round((y - 0.35 * r) * 16)),
                round(glint * 16),
                (250, 250, 245),
                -1,
                cv2.LINE_AA,
                4,
            )
            discs.append((x, y, r))
    return out, discs


def disc_mask(shape: tuple[int, ...], discs: list[tuple[float, float, float]], scale: float = 1.0) -> np.ndarray:
    """Bool mask of discs ``(x, y, r)`` with their radius multiplied by ``scale``."""
    mask = np.zeros(shape[:2], np.uint8)
    for x, y, r in discs:
        cv2.circle(mask, (round(x * 16), round(y * 16)), round(r * scale * 16), 1, -1, cv2.LINE_8, 4)
    return mask.astype(bool)


def eyes_fixed(image: np.ndarray, discs: list[tuple[float, float, float]]) -> int:
    """How many painted pupils have mean redness below ``EYE_FIXED_REDNESS`` (core of the disc)."""
    red = portrait.redness(image)
    return sum(float(red[disc_mask(image.shape, [d], 0.7)].mean()) < EYE_FIXED_REDNESS for d in discs)


def paint_red_patch(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A saturated red rectangle (a red shirt, lipstick...)."""
    out = image.copy()
    x, y, w, h = box
    out[y : y + h, x : x + w] = (200, 30, 35)
    return out


def lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image[..., :3].astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def teeth_region(image: np.ndarray, face: Face) -> np.ndarray:
    """Bool mask of the teeth (``portrait.teeth_mask`` above 0.5 inside the inner lips)."""
    assert face.inner_lips is not None
    inside = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(face.inner_lips * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
    return portrait.teeth_mask(lab(image), inside.astype(bool)) > 0.5


def yellow_teeth(image: np.ndarray, mask: np.ndarray, db: float = 18.0, dl: float = -3.0) -> np.ndarray:
    """Add ``db`` to b* (yellower) and ``dl`` to L* inside ``mask``."""
    lab_img = lab(image)
    lab_img[..., 2] += db * mask
    lab_img[..., 0] += dl * mask
    out = image.copy()
    out[..., :3] = np.clip(np.round(cv2.cvtColor(lab_img, cv2.COLOR_Lab2RGB) * 255), 0, 255).astype(np.uint8)
    return out


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB over ``mask`` (everything by default); ``inf`` when identical."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        diff = diff[mask]
    mse = float(np.mean(diff**2)) if diff.size else 0.0
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def eye_windows(shape: tuple[int, ...], faces: list[Face], scale: float = 2.0) -> np.ndarray:
    """Bool mask of discs of ``scale`` iris radii (+3 px) around every eye."""
    return disc_mask(shape, [(*e.center, e.iris_radius * scale + 3 / scale) for f in faces for e in f.eyes])


def collage(
    widths: tuple[int, ...] = (250, 150, 100, 75, 60, 48, 40), seed: int = 0
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Copies of the astronaut's face, ``widths`` px wide (face box), on a 1024x768 grey
    gradient with mild noise. Returns the image and the placed face boxes ``x, y, w, h``."""
    rng = np.random.default_rng(seed)
    canvas = np.empty((768, 1024, 3), np.float32)
    canvas[:] = np.linspace(90, 170, 1024, dtype=np.float32)[None, :, None]
    canvas += rng.normal(0, 3, canvas.shape).astype(np.float32)
    img = np.clip(canvas, 0, 255).astype(np.uint8)
    source = data.astronaut()
    cx, cy, cw, ch = ASTRONAUT_FACE_CROP
    crop = source[cy : cy + ch, cx : cx + cw]
    fx, fy, fw, fh = (182, 64, 86, 110)  # the astronaut's face box (MTCNN)
    placed = []
    x, y, row_h = 10, 10, 0
    for width in widths:
        s = width / fw
        tile = cv2.resize(crop, (round(cw * s), round(ch * s)), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        th, tw = tile.shape[:2]
        if x + tw > img.shape[1] - 10:
            x, y, row_h = 10, y + row_h + 10, 0
        img[y : y + th, x : x + tw] = tile
        placed.append((round(x + (fx - cx) * s), round(y + (fy - cy) * s), round(fw * s), round(fh * s)))
        x, row_h = x + tw + 10, max(row_h, th)
    return img, placed


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / float(aw * ah + bw * bh - inter)


def matched(placed: list[tuple[int, int, int, int]], faces: list[Face], min_iou: float = 0.4) -> int:
    """Placed boxes with a detected face overlapping them by at least ``min_iou``."""
    return sum(any(iou(p, f.box) >= min_iou for f in faces) for p in placed)


# --------------------------------------------------------------------------- evaluation


@dataclass
class Row:
    scene: str
    faces: str = "-"
    eyes: str = "-"
    teeth_b: str = "-"
    removed: str = "-"
    psnr_red_eye: str = "-"
    psnr_teeth: str = "-"
    red_patch: str = "-"
    seconds: str = "-"


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def evaluate_face_photo(name: str, image: np.ndarray, patch_box: tuple[int, int, int, int]) -> Row:
    faces = face_analysis.detect_faces(image, use_cache=False)
    row = Row(name, faces=f"{len(faces)}/1")
    painted, discs = paint_red_eyes(image, faces)
    painted = paint_red_patch(painted, patch_box)
    face_analysis.clear_cache()
    fixed, t_red = _timed(portrait.red_eye, painted)
    outside = ~eye_windows(image.shape, faces)
    x, y, w, h = patch_box
    patch_red = float(portrait.redness(fixed[y : y + h, x : x + w]).mean())
    row.eyes = f"{eyes_fixed(fixed, discs)}/{len(discs)}"
    row.psnr_red_eye = f"{psnr(painted, fixed, outside):.1f}"
    row.red_patch = f"{patch_red:.2f}"

    mask = teeth_region(image, faces[0])
    yellowed = yellow_teeth(image, mask)
    face_analysis.clear_cache()
    whitened, t_teeth = _timed(portrait.teeth_whitening, yellowed)
    b_before = float(lab(yellowed)[..., 2][mask].mean())
    b_after = float(lab(whitened)[..., 2][mask].mean())
    lips = np.zeros(image.shape[:2], np.uint8)
    assert faces[0].inner_lips is not None
    cv2.fillPoly(lips, [np.round(faces[0].inner_lips * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
    row.teeth_b = f"{b_before:.1f} -> {b_after:.1f}"
    row.removed = f"{100 * (b_before - b_after) / b_before:.0f}%"
    row.psnr_teeth = f"{psnr(yellowed, whitened, ~lips.astype(bool)):.1f}"
    row.seconds = f"red_eye {t_red:.2f}, teeth {t_teeth:.2f}"
    return row


def evaluate_collage() -> Row:
    img, placed = collage()
    faces = face_analysis.detect_faces(img, use_cache=False)
    painted, discs = paint_red_eyes(img, faces)
    face_analysis.clear_cache()
    fixed, t_red = _timed(portrait.red_eye, painted)
    outside = ~eye_windows(img.shape, faces)
    return Row(
        "collage 1024x768, faces 40-250 px",
        faces=f"{matched(placed, faces)}/{len(placed)}",
        eyes=f"{eyes_fixed(fixed, discs)}/{len(discs)}",
        psnr_red_eye=f"{psnr(painted, fixed, outside):.1f}",
        seconds=f"red_eye {t_red:.2f}",
    )


def evaluate_no_faces() -> Row:
    img = data.coffee()
    face_analysis.clear_cache()
    faces = face_analysis.detect_faces(img, use_cache=False)
    a = portrait.red_eye(img)
    b = portrait.teeth_whitening(img)
    return Row("coffee (no face)", faces=f"{len(faces)}/0", psnr_red_eye=f"{psnr(img, a):.1f}", psnr_teeth=f"{psnr(img, b):.1f}")


def main() -> None:
    cv2.setNumThreads(1)
    print("Evaluating red_eye and teeth_whitening on scikit-image photos (one core)...", flush=True)
    rows = [
        evaluate_face_photo("astronaut 512x512", data.astronaut(), (140, 420, 60, 50)),
        evaluate_face_photo("astronaut 12 MP (4000x3000)", astronaut_12mp(), (1100, 2600, 470, 390)),
        evaluate_collage(),
        evaluate_no_faces(),
    ]
    headers = (
        "scene",
        "faces found/placed",
        "eyes fixed/painted",
        "teeth b* before -> after",
        "b* removed",
        "PSNR outside eyes (dB)",
        "PSNR outside mouth (dB)",
        "red patch redness after",
        "time (s)",
    )
    cells = [headers] + [
        (r.scene, r.faces, r.eyes, r.teeth_b, r.removed, r.psnr_red_eye, r.psnr_teeth, r.red_patch, r.seconds) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    for n, c in enumerate(cells):
        print(" | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))
        if n == 0:
            print("-+-".join("-" * w for w in widths))
    print("inf = unchanged. Red patch: redness (R - max(G, B)) / R of a red patch painted on the shirt (0.825 before).")
    print("Thresholds: an eye is fixed when the mean redness in its painted pupil is below", EYE_FIXED_REDNESS)


if __name__ == "__main__":
    main()
