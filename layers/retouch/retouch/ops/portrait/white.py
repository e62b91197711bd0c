"""The photo's own white: what a white surface looks like under the light of this picture.

``teeth_whitening`` judges teeth against it rather than against absolute neutral: on a blue
stage or on a cool evening whites are bluish, and teeth whitened to absolute "natural white"
would stay yellow next to them (or, under warm light, come out bluer than everything else).

Two cues, both in CIE L*a*b* (the photo's white is given by its a* and b* at L* 75):

* **sclera**: the whites of the eyes of every detected face, lit like the teeth next to them:
  inside the eyelid contour, outside the iris disc, the brighter half (not lashes or lid
  shadow). A healthy sclera is not pure white: :data:`SCLERA_OFFSET` is taken off. Needs
  :data:`MIN_SCLERA_PIXELS` pixels over all faces (eyes of faces below ~70 px have too few).
* **highlights**: the brightest tenth of the photo (on a copy of at most :data:`SAMPLE_SIDE`
  px; clipped pixels left out), restricted to near-neutral hues, a* in
  :data:`HIGHLIGHT_A` (skin, lips and most coloured objects have a* above 10, casts from
  daylight, tungsten, shade or a blue stage lie mostly along b*), with ``|b*|`` below 40;
  the median. At least :data:`MIN_HIGHLIGHT_SHARE` of the sample.

The estimate is the mean of the cues found (their gains' geometric mean), the sclera weighted
by its pixels up to :data:`FULL_SCLERA_PIXELS`; when the two disagree by more than
:data:`CUES_AGREE` neither is trusted (a blue sky among the highlights, lines drawn over the
eyes) and the photo is judged against neutral. Casts below :data:`DEAD_ZONE` (a neutral photo,
near-white highlights that are slightly warm or cool) count as none - the photo is then judged
as before, against absolute neutral - casts above twice that are taken whole (eased in between),
capped at :data:`MAX_CAST`. An estimate that would leave the faces' skin outside the range of
skin in neutral light (:data:`SKIN_B`) is not the light's (a blue sky taken for white), and
dropped.

The white is applied as a von Kries adaptation in linear sRGB (:func:`to_balanced`,
:func:`from_balanced`): channel gains that map the photo's white to neutral grey.
"""

from __future__ import annotations

import cv2
import numpy as np

from retouch.ops.faces import Face
from retouch.ops.portrait.patches import polygon_mask, window
from retouch.ops.registry import Image

SCLERA_OFFSET = (3.0, 8.0)
"""a*, b* of a healthy sclera in neutral light: slightly warm, not pure white (measured sclerae
lie about a* 2-5, b* 6-12; the astronaut's measure 3.8, 7.9). Taken off as a colour (von Kries),
not subtracted in a*, b*."""
MIN_SCLERA_PIXELS = 24
FULL_SCLERA_PIXELS = 150
"""The sclera's weight against the highlights' grows with its pixels up to this many (its
estimate is loose on faces below ~100 px, whose eyes are a few pixels high)."""
SAMPLE_SIDE = 384
HIGHLIGHT_A = (-12.0, 8.0)
MIN_HIGHLIGHT_SHARE = 0.01
DEAD_ZONE = 4.0
"""Casts (length of a*, b*) below this are none; from twice this they are taken whole."""
MAX_CAST = 35.0
REFERENCE_L = 75.0
CUES_AGREE = 10.0
"""When the two cues differ by more than this (a*, b*), neither is trusted: no correction."""
SKIN_B = (4.0, 38.0)
"""b* of skin under neutral light, from pale to dark skin with some margin: an estimate that
would put the faces' skin outside it is not the light's (a blue sky taken for white light)."""


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def sclera_white(image: Image, faces: list[Face]) -> tuple[np.ndarray, int] | None:
    """a*, b* of the photo's white from the sclera of ``faces`` (see the module docstring) and
    how many pixels it was measured on, or None when the eyes show too little of it."""
    h, w = image.shape[:2]
    samples = []
    for face in faces:
        for eye in face.eyes:
            if eye.contour is None:
                continue
            half = float(np.max(np.abs(eye.contour - np.array(eye.center)))) + 1.0
            x0, y0, x1, y1 = window(eye.center, half, w, h)
            if x1 - x0 < 3 or y1 - y0 < 3:
                continue
            rgb = image[y0:y1, x0:x1, :3]
            opening = polygon_mask(eye.contour, x0, y0, rgb.shape[:2]).astype(bool)
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            outside_iris = np.hypot(xx + 0.5 - eye.center[0], yy + 0.5 - eye.center[1]) > 1.15 * eye.iris_radius + 0.5
            lab = _lab(rgb)
            # not the pink corner, the lids, or anything coloured drawn over the eye
            sclera = opening & outside_iris & (lab[..., 1] < 12.0) & (lab[..., 1] > -10.0) & (np.abs(lab[..., 2]) < 40.0)
            if int(sclera.sum()) < 2:
                continue
            light = lab[..., 0] >= float(np.median(lab[..., 0][sclera]))
            samples.append(lab[sclera & light][:, 1:])
    if not samples:
        return None
    ab = np.concatenate(samples)
    if len(ab) < MIN_SCLERA_PIXELS:
        return None
    a, b = np.median(ab, axis=0)
    return _cast_of(white_gains(float(a), float(b)) / white_gains(*SCLERA_OFFSET)), len(ab)


def highlight_white(image: Image) -> np.ndarray | None:
    """a*, b* of the photo's white from its near-neutral highlights (see the module docstring),
    or None when it has too few."""
    step = max(1, max(image.shape[:2]) // (2 * SAMPLE_SIDE))  # every n-th pixel first: fast on 12 MP+
    rgb = image[::step, ::step, :3]
    h, w = rgb.shape[:2]
    scale = min(1.0, SAMPLE_SIDE / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    lab = _lab(rgb)
    unclipped = (rgb.max(axis=2) < 250) & (lab[..., 0] > 30.0)
    if int(unclipped.sum()) < 20:
        return None
    bright = unclipped & (lab[..., 0] >= float(np.percentile(lab[..., 0][unclipped], 90)))
    a, b = lab[..., 1], lab[..., 2]
    whites = bright & (a >= HIGHLIGHT_A[0]) & (a <= HIGHLIGHT_A[1]) & (np.abs(b) < 40.0)
    if int(whites.sum()) < max(20, MIN_HIGHLIGHT_SHARE * a.size):
        return None
    return np.array([np.median(a[whites]), np.median(b[whites])], np.float32)


def photo_white(image: Image, faces: list[Face]) -> np.ndarray | None:
    """Linear-sRGB gains of the photo's white (relative to neutral grey, green = 1), or None
    when the photo is neutral (a cast below :data:`DEAD_ZONE`) or the estimate is not credible
    (the faces' skin would come out of the range of skin under neutral light)."""
    found, highlights = sclera_white(image, faces), highlight_white(image)
    cues = [] if highlights is None else [(highlights, 1.0)]
    if found is not None:
        sclera, pixels = found
        if highlights is not None and float(np.hypot(*(sclera - highlights))) > CUES_AGREE:
            # bright coloured things (a blue sky, a cream wall), or something drawn over the eyes:
            # no telling which, so no correction (judged against neutral, as without a cast)
            return None
        cues.append((sclera, min(1.0, pixels / FULL_SCLERA_PIXELS)))
    if not cues:
        return None
    logs = [np.log(white_gains(float(ab[0]), float(ab[1]))) for ab, _ in cues]
    cast = _cast_of(np.exp(np.average(logs, axis=0, weights=[wt for _, wt in cues])))
    size = float(np.hypot(*cast))
    if size <= DEAD_ZONE:
        return None
    # taken whole from twice the dead zone, eased in below it; capped
    t = min(1.0, (size - DEAD_ZONE) / DEAD_ZONE)
    cast = cast * (t * t * (3.0 - 2.0 * t)) * min(1.0, MAX_CAST / size)
    gains = white_gains(float(cast[0]), float(cast[1]))
    skin = _skin(image, faces)
    if skin is not None:
        balanced = cv2.cvtColor(to_balanced(skin[None, None], gains), cv2.COLOR_RGB2Lab)[0, 0]
        if not SKIN_B[0] <= float(balanced[2]) <= SKIN_B[1]:
            return None
    return gains


def _skin(image: Image, faces: list[Face]) -> np.ndarray | None:
    """Median sRGB colour (in [0, 1]) of the faces' cheeks and nose: between the eyes' and the
    mouth's height, between the eyes; None without faces."""
    h, w = image.shape[:2]
    samples = []
    for face in faces:
        (lx, ly), (rx, ry) = face.left_eye.center, face.right_eye.center
        mouth_y = 0.5 * (face.mouth_left[1] + face.mouth_right[1])
        eye_y = 0.5 * (ly + ry)
        y0, y1 = int(eye_y + 0.3 * (mouth_y - eye_y)), int(mouth_y - 0.25 * (mouth_y - eye_y))
        x0, x1 = int(min(lx, rx)), int(np.ceil(max(lx, rx)))
        y0, y1, x0, x1 = max(0, y0), min(h, y1), max(0, x0), min(w, x1)
        if y1 > y0 and x1 > x0:
            samples.append(image[y0:y1, x0:x1, :3].reshape(-1, 3))
    if not samples:
        return None
    pixels = np.concatenate(samples).astype(np.float32)
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    lit = pixels[(luma > 40) & (pixels.max(axis=1) < 250)]  # not nostrils, shadows or clipped shine
    if len(lit) < 4:
        return None
    return (np.median(lit, axis=0) / 255.0).astype(np.float32)


def white_gains(a: float, b: float) -> np.ndarray:
    """Linear-sRGB channel gains (green = 1) of the colour a*, b* at L* :data:`REFERENCE_L`
    relative to the grey of that lightness."""
    lab = np.array([[[REFERENCE_L, a, b], [REFERENCE_L, 0.0, 0.0]]], np.float32)
    rgb = np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 1e-4, 1.0)
    lin = _linear(rgb)[0]
    gains = lin[0] / lin[1]
    return (gains / gains[1]).astype(np.float32)


def _cast_of(gains: np.ndarray) -> np.ndarray:
    """a*, b* of the grey of L* :data:`REFERENCE_L` under the light of ``gains``."""
    grey = cv2.cvtColor(np.array([[[REFERENCE_L, 0.0, 0.0]]], np.float32), cv2.COLOR_Lab2RGB)
    lit = _srgb(_linear(grey) * gains)
    return cv2.cvtColor(lit, cv2.COLOR_RGB2Lab)[0, 0, 1:].astype(np.float32)


def _linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055).astype(np.float32)


def to_balanced(rgb: np.ndarray, gains: np.ndarray | None) -> np.ndarray:
    """sRGB in [0, 1] as it would be under neutral light (the photo's white made grey)."""
    if gains is None:
        return rgb
    return _srgb(_linear(rgb) / gains)


def from_balanced(rgb: np.ndarray, gains: np.ndarray | None) -> np.ndarray:
    """The inverse of :func:`to_balanced`: back under the photo's light."""
    if gains is None:
        return rgb
    return _srgb(_linear(rgb) * gains)
