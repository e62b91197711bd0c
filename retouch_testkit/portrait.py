"""Faces with defects of known extent: red pupils painted over detected irises, yellowed teeth,
red patches, scikit-image's astronaut at many sizes on one canvas; and how a red-eye fix is
measured (the change outside the pupil in CIEDE2000, the pupil's redness and cast).

Used by ``tests/unit/test_portrait.py``, ``tests/unit/test_red_eye.py``, the CLI's end-to-end
test and the benchmarks :mod:`bench.eval_portrait` and :mod:`bench.eval_red_eye`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage import color, data

from retouch.ops.faces import Eye, Face
from retouch.ops.portrait import teeth
from retouch.ops.portrait.pupils import redness

RED_PUPIL = (190, 25, 30)
PUPIL_FRACTION = 0.75  # painted pupil radius / iris radius
EYE_FIXED_REDNESS = 0.25  # mean redness inside a painted pupil below which the eye counts as fixed
ASTRONAUT_FACE_CROP = (150, 30, 150, 185)  # x, y, w, h around the astronaut's face (86 px wide)

Disc = tuple[float, float, float]  # x, y, pupil radius


def paint_red_eyes(
    image: np.ndarray, faces: list[Face], colour: tuple[int, int, int] = RED_PUPIL
) -> tuple[np.ndarray, list[tuple[float, float, float]]]:
    """Paint a pupil of ``colour`` (``PUPIL_FRACTION`` of the iris radius) with a small white
    catch-light over every detected iris. Returns the image and the painted discs ``(x, y, r)``."""
    out = image.copy()
    discs = []
    for face in faces:
        for eye in face.eyes:
            x, y = eye.center
            r = eye.iris_radius * PUPIL_FRACTION
            cv2.circle(out, (round(x * 16), round(y * 16)), round(r * 16), colour, -1, cv2.LINE_AA, 4)
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
    red = redness(image)
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
    """Bool mask of the teeth (``teeth.teeth_mask`` above 0.5 inside the inner lips)."""
    assert face.inner_lips is not None
    inside = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(face.inner_lips * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
    return teeth.teeth_mask(lab(image), inside.astype(bool)) > 0.5


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
    return disc_mask(shape, [eye_disc(e, scale) for f in faces for e in f.eyes])


def eye_disc(eye: Eye, scale: float = 2.0) -> tuple[float, float, float]:
    """The disc ``(x, y, r)`` of :func:`eye_windows` around one eye."""
    return (*eye.center, eye.iris_radius * scale + 3 / scale)


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


def eyes_darkened(image: np.ndarray, discs: list[tuple[float, float, float]], limit: float = 100.0) -> int:
    """How many painted bright pupils have a mean luma below ``limit`` (core of the disc)."""
    luma = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return sum(float(luma[disc_mask(image.shape, [d], 0.7)].mean()) < limit for d in discs)


# --- measuring a red-eye fix ------------------------------------------------------------------
OUTSIDE_RADII = 2.2
"""The region measured around a pupil, in iris radii."""


PUPIL_MARGIN = 2
"""Pixels around the painted pupil left out of the outside region (its feathered edge)."""


MEAN_BOUND, P95_BOUND = 2.5, 12.0
PAINTED_DE = 10.0
"""CIEDE2000 by which the paint (or, for a pupil the paint did not leave reddish, red_eye)
changed a pixel, at least, for it to count as the pupil's."""
RED_HUE = 0.5
"""A pixel is of a red hue when ``|G - B|`` is at most this share of ``R - max(G, B)`` (within
about 25 degrees of red: a quarter of red mixed with skin or a brown iris still is)."""


def ciede2000(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel CIEDE2000 between two RGB uint8 arrays."""
    return np.asarray(color.deltaE_ciede2000(color.rgb2lab(a[..., :3]), color.rgb2lab(b[..., :3])))


@dataclass
class EyeResult:
    mean: float
    p95: float
    fixed: bool
    a: float
    b: float

    @property
    def within(self) -> bool:
        return self.mean <= MEAN_BOUND and self.p95 <= P95_BOUND


def measure(painted: np.ndarray, fixed: np.ndarray, disc: Disc, iris: float, original: np.ndarray | None = None) -> EyeResult:
    """How a fix of one eye did (``disc``: the painted pupil): the change outside the pupil, in
    CIEDE2000 (mean, 95th percentile), whether it is de-reddened, and its cast (a*, b*); the
    bounds and the reasons are in :mod:`bench.eval_red_eye`. With the ``original`` (before the
    paint), pixels the paint hardly changed (CIEDE2000 below :data:`PAINTED_DE`: an iris or skin
    pixel a sliver of the red disc touched) are not taken for the pupil's cast."""
    x, y, r = disc
    h, w = painted.shape[:2]
    half = int(np.ceil(OUTSIDE_RADII * iris + 2))
    x0, y0, x1, y1 = max(0, int(x) - half), max(0, int(y) - half), min(w, int(x) + half + 1), min(h, int(y) + half + 1)
    before, after = painted[y0:y1, x0:x1, :3], fixed[y0:y1, x0:x1, :3]
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = np.hypot(xx + 0.5 - x, yy + 0.5 - y)
    outside = (d <= OUTSIDE_RADII * iris) & (d > r + PUPIL_MARGIN)
    de = ciede2000(before, after)[outside] if outside.any() else np.zeros(1)
    core = d <= 0.7 * r + 0.5
    red = redness(after)
    lab = color.rgb2lab(after)
    # the cast of what was clearly red (not the catch-light, nor edge pixels mixed with skin);
    # in a pupil of a pixel or two (a 20-40 px face) none may be, and the cast is that of the
    # pixels the paint left reddish and of a red hue (pink, or red mixed with a little of what
    # is around; not orange or brown: mostly skin, iris or a drawn line with a little red), and
    # with the original, that the paint changed; where none is (a pupil of another colour:
    # eye-shine; or one the catch-light covers), of the pixels red_eye changed (by CIEDE2000
    # :data:`PAINTED_DE` or more). Never of pixels
    # that were not red and that red_eye left as they were (skin, a catch-light, lines drawn
    # over the photo such as opencv-doc's landmarks): their colour is the photo's, not a cast
    before_red = redness(before)
    neutral_core = core & (before_red > 0.6)
    if not neutral_core.any():
        f = before.astype(np.int16)
        excess = f[..., 0] - np.maximum(f[..., 1], f[..., 2])
        red_hue = np.abs(f[..., 1] - f[..., 2]) <= RED_HUE * excess
        neutral_core = core & (before_red >= EYE_FIXED_REDNESS) & red_hue
        if original is not None:
            neutral_core &= ciede2000(original[y0:y1, x0:x1, :3], before) >= PAINTED_DE
    if not neutral_core.any():  # what red_eye changed, not by a feather's few levels
        neutral_core = core & (ciede2000(before, after) >= PAINTED_DE)
    a, b = (float(lab[..., i][neutral_core].mean()) for i in (1, 2)) if neutral_core.any() else (0.0, 0.0)
    return EyeResult(
        mean=float(de.mean()),
        p95=float(np.percentile(de, 95)),
        fixed=float(red[core].mean()) < EYE_FIXED_REDNESS,
        a=a,
        b=b,
    )
