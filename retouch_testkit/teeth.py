"""Teeth of known colour for ``teeth_whitening``: the astronaut's natural-white teeth yellowed
or stained at the photo's resolution, the face scaled to any size and the picture lit by a
tinted light (see :mod:`bench.eval_teeth` for the method and the numbers).

Used by ``tests/unit/test_teeth.py`` and :mod:`bench.eval_teeth`.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from skimage import color, data

from retouch.ops.faces import detect_faces
from retouch.ops.portrait import teeth
from retouch.ops.portrait.patches import polygon_mask, smoothstep
from retouch_testkit.portrait import ASTRONAUT_FACE_CROP, lab

LIGHTS: dict[str, tuple[float, float, float] | None] = {
    "neutral": None,
    "blue stage": (0.72, 0.95, 1.45),
    "cool evening": (0.85, 0.97, 1.2),
    "warm tungsten": (1.3, 1.0, 0.7),
}
WIDTHS = (60, 80, 100, 150, 250)
STAINS = {"yellow": (0.0, 18.0, -3.0), "brown-yellow": (9.0, 30.0, -12.0)}
"""a*, b* and L* added to the teeth: a yellow cast, and a darker brown-yellow stain."""
ASTRONAUT_FACE_WIDTH = 86
SKY = (120, 170, 230)


def astronaut_teeth() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut and the soft mask of the teeth of his smile: inside the inner lips found on
    the photo, not red (a* below 10, none above 18) and bright (L* above 0.6-0.75 of the mouth's
    95th percentile). Fixed here, apart from the operation's own :func:`teeth.teeth_mask`, so
    that changing the operation does not move the ground truth."""
    image = data.astronaut()
    [face] = detect_faces(image)
    assert face.inner_lips is not None
    inside = polygon_mask(face.inner_lips, 0, 0, image.shape[:2]).astype(bool)
    L, a = lab(image)[..., 0], lab(image)[..., 1]
    ref = float(np.percentile(L[inside], 95))
    soft = smoothstep(-a, -18.0, -10.0) * smoothstep(L, 0.6 * ref, 0.75 * ref)
    return image, (soft * inside).astype(np.float32)


def yellowed(image: np.ndarray, weight: np.ndarray, db: float = 18.0, dl: float = -3.0, da: float = 0.0) -> np.ndarray:
    """``image`` with ``db`` added to b*, ``dl`` to L* and ``da`` to a*, in proportion to
    ``weight`` (0-1)."""
    out = lab(image)
    out[..., 2] += db * weight
    out[..., 1] += da * weight
    out[..., 0] += dl * weight
    return np.clip(np.round(cv2.cvtColor(out, cv2.COLOR_Lab2RGB) * 255), 0, 255).astype(np.uint8)


def lit(image: np.ndarray, gains: tuple[float, float, float] | None) -> np.ndarray:
    """``image`` under a light: its linear sRGB multiplied by ``gains``."""
    if gains is None:
        return image
    f = image.astype(np.float32) / 255.0
    linear = np.where(f <= 0.04045, f / 12.92, ((f + 0.055) / 1.055) ** 2.4) * np.array(gains, np.float32)
    c = np.clip(linear, 0.0, 1.0)
    srgb = np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)
    return np.clip(np.round(srgb * 255), 0, 255).astype(np.uint8)


def face_scene(
    width: int,
    stain: tuple[float, float, float] = (0.0, 18.0, -3.0),
    light: tuple[float, float, float] | None = None,
    sky: bool = False,
    jpeg: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(natural, yellowed, teeth)``: the astronaut's face ``width`` px wide on a grey gradient
    (the top half a blue sky if ``sky``) under ``light``, without and with yellowed teeth, and
    the teeth's mask (bool) in the picture (see the module docstring). ``stain``: the a*, b*
    and L* added to the teeth; ``jpeg``: the pictures saved as JPEG of that quality (OpenCV's
    4:2:0 chroma subsampling: on small faces the lips' red bleeds into the teeth)."""
    source, weight = astronaut_teeth()
    cx, cy, cw, ch = ASTRONAUT_FACE_CROP
    s = width / ASTRONAUT_FACE_WIDTH
    size = (round(cw * s), round(ch * s))
    interpolation = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    out = []
    da, db, dl = stain
    for image in (source, yellowed(source, weight, db, dl, da)):
        tile = cv2.resize(image[cy : cy + ch, cx : cx + cw], size, interpolation=interpolation)
        h, w = max(300, tile.shape[0] + 40), max(400, tile.shape[1] + 40)
        canvas = np.empty((h, w, 3), np.uint8)
        canvas[:] = np.linspace(90, 200, w)[None, :, None].astype(np.uint8)
        if sky:
            canvas[: h // 2] = SKY
        canvas[20 : 20 + tile.shape[0], 20 : 20 + tile.shape[1]] = tile
        out.append(_jpeg(lit(canvas, light), jpeg))
    small = cv2.resize(weight[cy : cy + ch, cx : cx + cw], size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    mask = np.zeros(out[0].shape[:2], bool)
    mask[20 : 20 + small.shape[0], 20 : 20 + small.shape[1]] = small > 0.5
    return out[0], out[1], mask


def _jpeg(image: np.ndarray, quality: int | None) -> np.ndarray:
    if quality is None:
        return image
    _, buffer = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    assert decoded is not None
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def change(before: np.ndarray, after: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """Mean and largest CIEDE2000 of the change over ``region`` (bool)."""
    changed = np.any(before != after, axis=2) & region
    if not changed.any():
        return 0.0, 0.0
    de = np.asarray(color.deltaE_ciede2000(color.rgb2lab(before[changed][None]), color.rgb2lab(after[changed][None])))
    return float(de.sum() / max(1, int(region.sum()))), float(de.max())


def measure(
    width: int,
    light: tuple[float, float, float] | None,
    sky: bool = False,
    stain: tuple[float, float, float] = STAINS["yellow"],
    jpeg: int | None = None,
) -> dict[str, float]:
    """The numbers of the module docstring for one scene."""
    natural, yellow, mask = face_scene(width, stain, light, sky, jpeg)
    started = time.perf_counter()
    whitened = teeth.teeth_whitening(yellow)
    seconds = time.perf_counter() - started
    b_natural, b_yellow, b_white = (float(lab(x)[..., 2][mask].mean()) for x in (natural, yellow, whitened))
    [face] = detect_faces(yellow)  # the lips as the operation saw them
    assert face.inner_lips is not None and face.outer_lips is not None
    mouth = polygon_mask(face.inner_lips, 0, 0, mask.shape).astype(bool)
    outer = polygon_mask(face.outer_lips, 0, 0, mask.shape).astype(bool)
    near = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    # lip tissue: between the contours and reddish (a* above 10 relative to the light's grey)
    grey = lab(lit(np.full((1, 1, 3), 190, np.uint8), light))[0, 0, 1]
    lips = outer & ~mouth & ~near & (lab(natural)[..., 1] - grey > 10.0)
    skin_de = change(yellow, whitened, ~outer & ~near)
    lips_de = change(yellow, whitened, lips)
    rim = outer & ~mouth & ~near & ~lips
    mouth_de, _ = change(yellow, whitened, mouth & ~near)
    return {
        "natural": b_natural,
        "yellowed": b_yellow,
        "whitened": b_white,
        "removed": (b_yellow - b_white) / (b_yellow - b_natural),
        "skin_max": skin_de[1],
        "lips_mean": lips_de[0],
        "lips_max": lips_de[1],
        "rim_changed": float(int((np.any(yellow != whitened, axis=2) & rim).sum())),
        "mouth_de": mouth_de,
        "seconds": seconds,
    }
