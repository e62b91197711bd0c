"""Portrait operations: red-eye removal and teeth whitening.

Both find faces with :mod:`retouch.ops.faces` (detected once per photo and cached) and then
touch only small regions at full resolution: the iris discs for ``red_eye``, the opening
between the inner lips for ``teeth_whitening``. Pixels outside those regions are never
written, so a photo without faces, red eyes or visible teeth comes back unchanged.

* ``red_eye`` follows the usual two-cue approach (colour and shape, e.g. Gaubatz and Ulichney,
  "Automatic red-eye detection and correction", ICIP 2002; Schettini et al., "A modular
  procedure for automatic red eye correction in digital photos", 2004): a pixel is red when
  its *redness* ``(R - max(G, B)) / R`` exceeds ``threshold``; the pupil is the red connected
  component nearest the iris centre, inside the iris disc and the eyelid opening, roughly
  round, grown by hysteresis to half the threshold. It is corrected by replacing R with the
  mean of G and B (which keeps the luminance structure carried by G and B) and darkening in
  proportion to the redness, so the white catch-light is kept; the mask edge is feathered.
* ``teeth_whitening`` works in CIE L*a*b*: teeth are the bright (L* relative to the brightest
  part of the mouth), not-red (low a*) pixels inside the inner-lip contour from the face mesh;
  lips, gums and tongue have high a* and are excluded. Yellow is removed relative to natural
  white teeth (b* about 10), not to grey: at the default strength the excess b* above that goes
  entirely, higher strengths go whiter, lower ones subtler (:func:`whitening_targets`); L* is
  lifted by at most ``6 * strength``, with a feathered mask. Faces whose inner lips are closed
  (gap below 5% of the mouth width) are left alone.
"""

from __future__ import annotations

import cv2
import numpy as np

from retouch.ops.context import ChainContext, faces_in
from retouch.ops.faces import Eye, Face
from retouch.ops.registry import Image

# --------------------------------------------------------------------------- helpers


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _window(center: tuple[float, float], half: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer window ``x0, y0, x1, y1`` of half-size ``half`` around ``center``, clipped."""
    cx, cy = center
    x0, y0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
    x1, y1 = min(width, int(np.ceil(cx + half)) + 1), min(height, int(np.ceil(cy + half)) + 1)
    return x0, y0, x1, y1


def _polygon_mask(polygon: np.ndarray, x0: int, y0: int, shape: tuple[int, int]) -> np.ndarray:
    """Binary mask (uint8 0/1) of ``polygon`` (image coordinates) in a window at ``x0, y0``."""
    mask = np.zeros(shape, np.uint8)
    pts = np.round((polygon - np.array([x0 + 0.5, y0 + 0.5])) * 4).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=2)
    return mask


Patch = tuple[int, int, np.ndarray, np.ndarray]
"""``x0, y0, target, alpha``: a correction to blend into a window of the image."""


def _apply_patches(image: Image, patches: list[Patch]) -> Image:
    """Blend corrections into a copy of ``image``; ``image`` itself when there are none."""
    if not patches:
        return image
    out = image.copy()
    for x0, y0, target, alpha in patches:
        _blend_into(out, x0, y0, target, alpha)
    return out


def _blend_into(out: Image, x0: int, y0: int, target: np.ndarray, alpha: np.ndarray) -> None:
    """Write ``orig + alpha * (target - orig)`` into ``out`` (RGB channels), only where
    ``alpha`` is positive."""
    h, w = alpha.shape
    region = out[y0 : y0 + h, x0 : x0 + w, :3]
    orig = region.astype(np.float32)
    mixed = np.clip(np.round(orig + alpha[..., None] * (target - orig)), 0, 255).astype(np.uint8)
    touched = alpha > 0
    region[touched] = mixed[touched]


# --------------------------------------------------------------------------- red eye


TINY_EYE_SLACK = 2.0
"""Extra distance (px) allowed between a tiny iris's estimated centre and its red pupil."""

MIN_RED_EXCESS = 50
"""R - max(G, B) of a red-pupil pixel, at least (grey levels); natural irises stay below ~40."""


def redness(rgb: np.ndarray) -> np.ndarray:
    """``(R - max(G, B)) / R`` in [0, 1] (0 where R is not the largest channel).

    About 0.6-0.85 in red pupils, below 0.4 for skin and brown irises, 0 for whites.
    """
    f = rgb.astype(np.float32)
    r = f[..., 0]
    return np.clip((r - np.maximum(f[..., 1], f[..., 2])) / np.maximum(r, 1.0), 0.0, 1.0)


def red_pupil_mask(rgb: np.ndarray, center: tuple[float, float], radius: float, threshold: float) -> np.ndarray:
    """Mask (bool) of the red pupil in ``rgb`` (a window), or an all-false mask.

    ``center`` (window coordinates) and ``radius`` describe the iris. Colour: redness above
    ``threshold`` and R above max(G, B) by more than :data:`MIN_RED_EXCESS` levels (dark
    iris and lash pixels can have a high ratio but never a large excess). Shape: the
    connected component whose centroid is nearest the centre, within ``0.8 * radius + s`` of
    it, inside the disc of ``1.3 * radius + s``, and roughly round (area at least 30% of its
    enclosing circle, unless the iris radius is below 3 px); grown by hysteresis to pixels of
    half the redness connected to it. The slack ``s`` is 1 px, and :data:`TINY_EYE_SLACK` px
    for irises below 3 px (faces of ~25-50 px in group photos), whose centre the landmark
    models place to within a pixel or two only.
    """
    h, w = rgb.shape[:2]
    red = redness(rgb)
    f = rgb.astype(np.int16)
    excess = f[..., 0] - np.maximum(f[..., 1], f[..., 2])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx + 0.5 - center[0], yy + 0.5 - center[1])
    tiny = radius < 3.0  # a pupil of a few pixels has no measurable shape
    slack = TINY_EYE_SLACK if tiny else 1.0
    disc = dist <= 1.3 * radius + slack
    strong = (red > threshold) & (excess > MIN_RED_EXCESS) & disc
    empty = np.zeros((h, w), bool)
    if not strong.any():
        return empty
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(strong.astype(np.uint8), connectivity=8)
    min_area = 1.0 if tiny else max(2.0, 0.1 * np.pi * radius * radius)
    best, best_d = 0, np.inf
    for i in range(1, n):
        area = stats[i, cv2.CC_STAT_AREA]
        cx, cy = centroids[i] + 0.5
        d = float(np.hypot(cx - center[0], cy - center[1]))
        if area < min_area or d > 0.8 * radius + slack:
            continue
        ys, xs = np.nonzero(labels == i)
        extent = float(np.max(np.hypot(xs + 0.5 - cx, ys + 0.5 - cy))) + 0.5
        if not tiny and area < 0.3 * np.pi * extent * extent:
            continue
        if d < best_d:
            best, best_d = i, d
    if best == 0:
        return empty
    weak = ((red > 0.5 * threshold) & (excess > MIN_RED_EXCESS // 2) & disc).astype(np.uint8)
    _, weak_labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.unique(weak_labels[labels == best])
    return np.isin(weak_labels, keep[keep > 0])


def bright_pupil_mask(rgb: np.ndarray, center: tuple[float, float], radius: float) -> np.ndarray:
    """Mask (bool) of a golden or white flash pupil ("cat's eye", common in animals and in
    some human flash photos) in ``rgb`` (a window), or an all-false mask.

    A pixel is bright when its luma is above :data:`CAT_EYE_MIN_LUMA` and well above the iris
    ring around it (the 25th percentile of luma in the annulus 1.0-1.4 radii, plus 60). The
    pupil is the bright component nearest the centre (within ``0.5 * radius + s``), inside the
    iris disc, and much larger than a catch-light (at least :data:`CAT_EYE_MIN_AREA` of the
    iris disc); a white sclera seen through a wrongly placed disc is rejected because most of
    it lies at the disc's rim. Irises below 3 px (faces of about 25-60 px) are too small for
    that rim test: there the centre of the disc must be brighter than the ring around it (in a
    normal eye the iris is its darkest part) and the pupil cover
    :data:`CAT_EYE_TINY_MIN_AREA` of the disc. The pupil is grown by hysteresis to connected pixels half-way
    between the ring's luma and the floor (its soft edge).
    """
    h, w = rgb.shape[:2]
    f = rgb.astype(np.float32)
    luma = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx + 0.5 - center[0], yy + 0.5 - center[1])
    tiny = radius < 3.0
    slack = TINY_EYE_SLACK if tiny else 1.0
    ring = (dist > 1.0 * radius + 0.5) & (dist <= 1.4 * radius + slack)
    empty = np.zeros((h, w), bool)
    if not ring.any():
        return empty
    ring_luma = float(np.percentile(luma[ring], 25))
    floor = max(CAT_EYE_MIN_LUMA, ring_luma + 60.0)
    bright = (luma > floor) & (dist <= radius + 0.5)
    min_area = CAT_EYE_MIN_AREA
    if tiny:
        # too small for the rim test: the centre must be brighter than the ring around it
        if float(luma[dist <= 0.6 * radius + 0.5].mean()) <= float(np.median(luma[ring])):
            return empty
        min_area = CAT_EYE_TINY_MIN_AREA
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(bright.astype(np.uint8), connectivity=8)
    best, best_d = 0, np.inf
    for i in range(1, n):
        cx, cy = centroids[i] + 0.5
        d = float(np.hypot(cx - center[0], cy - center[1]))
        if stats[i, cv2.CC_STAT_AREA] < min_area * np.pi * radius * radius or d > 0.5 * radius + slack:
            continue
        rim = 0.0 if tiny else float(np.mean(dist[labels == i] > 0.8 * radius))
        if rim < 0.5 and d < best_d:
            best, best_d = i, d
    if not best:
        return empty
    # grown by hysteresis over the pupil's soft edge (half-way between the iris and the floor)
    weak = ((luma > 0.5 * (floor + ring_luma)) & (dist <= radius + slack)).astype(np.uint8)
    _, weak_labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.unique(weak_labels[labels == best])
    return np.isin(weak_labels, keep[keep > 0])


CAT_EYE_MIN_LUMA = 150.0
CAT_EYE_MIN_AREA = 0.2
"""Smallest bright pupil, as a share of the iris disc (catch-lights are smaller)."""
CAT_EYE_TINY_MIN_AREA = 0.35
"""The same for irises below 3 px, where a catch-light blurs into a few pixels: 0.3-0.45
found the same pupils on the development photos."""


def _fix_eye(source: Image, eye: Eye, strength: float, threshold: float, cat_eye: bool = False) -> Patch | None:
    h, w = source.shape[:2]
    r = max(eye.iris_radius, 1.0)
    centres = [eye.center]
    if eye.contour is not None:  # the iris fit can be thrown by the red pupil itself: retry
        centres.append((float(eye.contour[:, 0].mean()), float(eye.contour[:, 1].mean())))
    for centre in centres:
        x0, y0, x1, y1 = _window(centre, 1.6 * r + 3, w, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        rgb = source[y0:y1, x0:x1, :3]
        local = (centre[0] - x0, centre[1] - y0)
        mask = red_pupil_mask(rgb, local, r, threshold)
        bright = False
        if cat_eye and not mask.any():
            mask, bright = bright_pupil_mask(rgb, local, r), True
        if eye.contour is not None:  # never outside the eyelids (a little slack for the fit)
            lids = _polygon_mask(eye.contour, x0, y0, mask.shape)
            lids = cv2.dilate(lids, np.ones((3, 3), np.uint8), iterations=max(1, round(0.5 * r)))
            mask &= lids.astype(bool)
        if mask.any():
            break
    else:
        return None
    sigma = max(0.5, 0.12 * r)
    alpha = np.clip(2.0 * cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma), 0.0, 1.0) * strength
    f = rgb.astype(np.float32)
    if bright:
        # a dark, neutral pupil that keeps the relative shading (and so a brighter catch-light)
        luma = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
        inside = luma[mask]
        scale = CAT_EYE_PUPIL_LUMA / max(float(np.median(inside)), 1.0)
        target = np.repeat(np.minimum(luma * scale, 255.0)[..., None], 3, axis=2)
        return x0, y0, target, alpha
    red = redness(rgb)
    target = f.copy()
    target[..., 0] = np.minimum(f[..., 0], 0.5 * (f[..., 1] + f[..., 2]))
    # darken like a real pupil, in proportion to how red the pixel was (catch-lights are not red)
    target *= (1.0 - 0.25 * np.clip(red / threshold, 0.0, 1.0))[..., None]
    return x0, y0, target, alpha


CAT_EYE_PUPIL_LUMA = 35.0
"""Median grey level given to a corrected golden/white pupil."""


def red_eye(
    image: Image, strength: float = 1.0, threshold: float = 0.45, cat_eye: bool = False, context: ChainContext | None = None
) -> Image:
    """Remove red eye from every detected face.

    :param strength: how much of the correction to apply (0 = none, 1 = full).
    :param threshold: minimum redness ``(R - max(G, B)) / R`` of a red-pupil pixel; lower
        finds paler (pink) red eye but risks touching reddish-brown irises.
    :param cat_eye: also darken golden or white flash pupils (:func:`bright_pupil_mask`) in
        eyes without red pupils. Off by default: a pale iris or a sclera under a misplaced
        iris fit could be darkened.
    :param context: the chain's context: faces analysed once per image (see :mod:`.context`).
    """
    if strength <= 0:
        return image
    patches = [_fix_eye(image, eye, strength, threshold, cat_eye) for face in faces_in(image, context) for eye in face.eyes]
    return _apply_patches(image, [p for p in patches if p is not None])


# --------------------------------------------------------------------------- teeth

MIN_MOUTH_OPENING = 0.05


def teeth_mask(lab: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Soft teeth mask (float32 in [0, 1]) from an L*a*b* window (L in 0-100) and the
    inner-lip mask ``inside`` (bool).

    Teeth are not red (a* below ~10; lips, gums and tongue are above ~18) and bright: L* above
    0.6-0.75 of the 95th percentile inside the mouth, and above 35.
    """
    if not inside.any():
        return np.zeros(inside.shape, np.float32)
    L, a = lab[..., 0], lab[..., 1]
    ref = float(np.percentile(L[inside], 95))
    soft = _smoothstep(-a, -18.0, -10.0) * _smoothstep(L, max(30.0, 0.6 * ref), max(35.0, 0.75 * ref))
    return (soft * inside).astype(np.float32)


NATURAL_TEETH_B = 10.0
"""b* (CIE Lab) that the default strength brings yellow teeth down to: natural white teeth
measure about 8-16 (e.g. the VITA shade guide's lightest tabs, and the astronaut's own teeth)."""
WHITEST_TEETH_B = 4.0
"""b* floor at ``strength=1``: whiter than natural, still not blue."""
DEFAULT_STRENGTH = 0.6
"""The registered default strength; at it the whole excess over :data:`NATURAL_TEETH_B` goes."""
MAX_LIGHTNESS_LIFT = 6.0


def whitening_targets(lab: np.ndarray, strength: float) -> np.ndarray:
    """Whitened L*a*b* for teeth pixels ``lab`` (L in 0-100) at ``strength`` in [0, 1].

    Yellow is removed relative to natural white, not to neutral grey: the excess of b* over a
    floor is reduced by ``k = min(1, strength / DEFAULT_STRENGTH)``, where the floor is
    :data:`NATURAL_TEETH_B` up to the default strength and falls linearly to
    :data:`WHITEST_TEETH_B` at 1. So at the default a b* of 24-38 ends at about 10, teeth
    already at natural white keep their b*, smaller strengths are subtler and larger ones
    whiter. a* above zero (a warm cast) shrinks by ``0.3 k``; L* is lifted by
    ``strength * min(6, 0.15 (100 - L*))``, gently and never past 100.
    """
    k = min(1.0, strength / DEFAULT_STRENGTH)
    over = max(0.0, strength - DEFAULT_STRENGTH) / (1.0 - DEFAULT_STRENGTH)
    floor = NATURAL_TEETH_B + over * (WHITEST_TEETH_B - NATURAL_TEETH_B)
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    lift = strength * np.minimum(MAX_LIGHTNESS_LIFT, 0.15 * (100.0 - L))
    return np.stack(
        [
            np.minimum(100.0, L + lift),
            np.where(a > 0, a * (1.0 - 0.3 * k), a),
            b - k * np.maximum(b - floor, 0.0),
        ],
        axis=-1,
    ).astype(np.float32)


def _whiten_face(source: Image, face: Face, strength: float) -> Patch | None:
    if face.inner_lips is None or face.mouth_opening < MIN_MOUTH_OPENING:
        return None
    h, w = source.shape[:2]
    lo, hi = face.inner_lips.min(axis=0), face.inner_lips.max(axis=0)
    x0, y0 = max(0, int(lo[0]) - 3), max(0, int(lo[1]) - 3)
    x1, y1 = min(w, int(np.ceil(hi[0])) + 4), min(h, int(np.ceil(hi[1])) + 4)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    rgb = np.ascontiguousarray(source[y0:y1, x0:x1, :3])
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    inside = _polygon_mask(face.inner_lips, x0, y0, rgb.shape[:2]).astype(bool)
    mask = teeth_mask(lab, inside)
    if float(mask.max(initial=0.0)) < 0.5:
        return None
    sigma = max(0.6, 0.01 * face.mouth_width)
    # feathered, but full strength on the teeth themselves (the blur halves a hard mask's edge)
    alpha = np.clip(2.0 * cv2.GaussianBlur(mask, (0, 0), sigma), 0.0, 1.0) * inside
    target = cv2.cvtColor(whitening_targets(lab, strength), cv2.COLOR_Lab2RGB) * 255.0
    return x0, y0, target, alpha


def teeth_whitening(image: Image, strength: float = DEFAULT_STRENGTH, context: ChainContext | None = None) -> Image:
    """Whiten visible teeth in every detected face (see :func:`whitening_targets`).

    :param strength: 0 = unchanged; 0.6 (default) = the yellow cast removed down to natural
        white (b* about 10) and L* lifted by up to 3.6; 1 = whiter still (b* down to 4, L* up
        to +6). Smaller values remove proportionally less.
    """
    if strength <= 0:
        return image
    patches = [_whiten_face(image, face, strength) for face in faces_in(image, context)]
    return _apply_patches(image, [p for p in patches if p is not None])
