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

from retouch.errors import InvalidParameters
from retouch.ops.context import ChainContext, faces_in, report
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

PUPIL_GREY = 40.0
"""Median grey level (of 255) a corrected red pupil is brought down to, at most (L* about 17):
dark like a real pupil, with its texture (the G and B channels) kept relative to it."""
CLEAR_REDNESS = 0.7
"""Mean redness of a pupil kept whole where the eyelid fit would cut most of it away (on faces
of 30-60 px the fit can be off by a few px; red pupils measure 0.6-0.85, lids and brows less),
and of one found from the centre of the lids rather than the iris."""
PUPIL_OVER_SKIN = 0.15
"""A red pupil's mean redness is at least this much above the skin's around the eye..."""
PUPIL_OVER_SKIN_CENTRED = 0.08
"""... or this much when it lies at the iris centre (within half a radius + 1 px), inside the
eyelid opening (when known), and is vividly red (R above max(G, B) by 70 levels on average)."""
SKIN_MARGIN = 0.12
"""On a reddish face a pupil pixel must be this much redder than the skin around the eye."""
PALE_REDNESS = 0.1
"""Redness of the palest pupil pixels corrected (a pink halo around a catch-light, the mixed
edge); they are corrected by their share of red, fully from 0.6 of ``threshold``."""
PUPIL_DARKEN = 0.8
"""A red pupil's grey level is at most this share of its own G and B mean (never lightened)."""


def redness(rgb: np.ndarray) -> np.ndarray:
    """``(R - max(G, B)) / R`` in [0, 1] (0 where R is not the largest channel).

    About 0.6-0.85 in red pupils, below 0.4 for skin and brown irises, 0 for whites.
    """
    f = rgb.astype(np.float32)
    r = f[..., 0]
    return np.clip((r - np.maximum(f[..., 1], f[..., 2])) / np.maximum(r, 1.0), 0.0, 1.0)


def _growth_steps(radius: float) -> int:
    """How far (px) a pupil found by its strongly red core may grow into paler red pixels: its
    soft edge, about 6% of the iris radius, at least 1 px (never into the lids beyond)."""
    return int(min(8, max(1, round(0.06 * radius))))


def _grow(core: np.ndarray, allowed: np.ndarray, steps: int) -> np.ndarray:
    """``core`` grown by up to ``steps`` px (8-connected) through ``allowed`` pixels only."""
    grown = core.copy()
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(steps):
        grown = cv2.dilate(grown.astype(np.uint8), kernel).astype(bool) & allowed
    return grown | core


def red_pupil_mask(
    rgb: np.ndarray, center: tuple[float, float], radius: float, threshold: float, opening: np.ndarray | None = None
) -> np.ndarray:
    """Mask (bool) of the red pupil in ``rgb`` (a window), or an all-false mask.

    ``center`` (window coordinates) and ``radius`` describe the iris, ``opening`` (bool, if
    known) the eyelid opening. Colour: redness above
    ``threshold`` and R above max(G, B) by more than :data:`MIN_RED_EXCESS` levels (dark
    iris and lash pixels can have a high ratio but never a large excess); where the skin
    around the eye (the median in 1.3-1.6 radii) is reddish, above half the threshold,
    the threshold rises to :data:`SKIN_MARGIN` above it (at most half-way to the reddest pupil
    pixels). Shape: the reddest connected component (mean redness, less 0.1 per iris radius of
    distance) redder than the skin by :data:`PUPIL_OVER_SKIN` (:data:`PUPIL_OVER_SKIN_CENTRED`
    at the centre), whose centroid lies within
    ``0.8 * radius + s`` of the centre, inside the disc of
    ``1.3 * radius + s``, and roughly round (area at least 30% of its enclosing circle, unless
    the iris radius is below 3 px), with the other red pieces as red whose centroid lies within
    ``0.8 * radius + s`` of its own (a pupil split by a catch-light), cut to the iris (1.05
    radii + s); grown into
    pale red pixels (above :data:`PALE_REDNESS`, the skin's redness + 0.05 and 40 % of the
    pupil's) connected to it, by at most :func:`_growth_steps` px
    (the pupil's soft edge, not the eyelid's skin, reddish too). The slack ``s`` is 1 px, and
    :data:`TINY_EYE_SLACK` px for irises below 3 px (faces of ~20-50 px in group photos), whose
    centre the landmark models place to within a pixel or two only.
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
    # on a red face (warm light, flushed skin) the pupil must be redder than the skin around it
    ring = (dist > 1.3 * radius + slack) & (dist <= 1.6 * radius + slack + 2)
    skin = float(np.median(red[ring])) if ring.any() else 0.0
    if skin > 0.5 * threshold and disc.any():
        threshold = max(threshold, min(skin + SKIN_MARGIN, 0.5 * (skin + float(np.percentile(red[disc], 95)))))
    pale = max(PALE_REDNESS, skin + 0.05)
    strong = (red > threshold) & (excess > MIN_RED_EXCESS) & disc
    empty = np.zeros((h, w), bool)
    if not strong.any():
        return empty
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(strong.astype(np.uint8), connectivity=8)
    min_area = 1.0 if tiny else max(2.0, 0.1 * np.pi * radius * radius)
    best, best_score = 0, -np.inf
    mean_red = np.zeros(n)
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
        # the reddest candidate (a red pupil is redder than a reddish lid), nearer ones first
        mean_red[i] = float(red[ys, xs].mean())
        centred = (
            d <= 0.5 * radius + 1.0
            and float(excess[ys, xs].mean()) >= 1.4 * MIN_RED_EXCESS  # vividly red, not a dark lid line
            and (opening is None or bool(opening[min(h - 1, int(cy)), min(w - 1, int(cx))]))
        )
        margin = PUPIL_OVER_SKIN_CENTRED if centred else PUPIL_OVER_SKIN
        if mean_red[i] < skin + margin:
            continue  # no redder than the skin around: a lid or a brow
        score = mean_red[i] - 0.1 * d / max(radius, 1.0)
        if score > best_score:
            best, best_score = i, score
    if best == 0:
        return empty
    # a pupil split by a catch-light or lashes: the other red pieces as red near its centre
    bx, by = centroids[best] + 0.5
    pieces = [
        i
        for i in range(1, n)
        if float(np.hypot(centroids[i][0] + 0.5 - bx, centroids[i][1] + 0.5 - by)) <= 0.8 * radius + slack
        and (i == best or float(red[labels == i].mean()) >= mean_red[best] - 0.15)
    ]
    pupil = np.isin(labels, pieces)
    # the pupil never reaches past the iris: red skin or lids joined to it are cut off there
    iris = dist <= 1.05 * radius + slack
    # its pale edge: pixels at least ~40 % red (mixed with the iris or a catch-light), not skin
    weak = (red > max(pale, 0.4 * mean_red[best])) & (excess > MIN_RED_EXCESS // 3) & iris
    grown = _grow(pupil & iris, weak, _growth_steps(radius))
    # and the pink halo of a catch-light in it (a near-white spot inside the iris, next to the
    # pupil): pixels between the two, corrected by their share of red (the white spot's is nil)
    kernel = np.ones((3, 3), np.uint8)
    closed = cv2.morphologyEx(grown.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = cv2.drawContours(np.zeros_like(closed), contours, -1, 1, -1).astype(bool)
    near_pupil = cv2.dilate(grown.astype(np.uint8), kernel).astype(bool)
    glint = (rgb.min(axis=2) > 190) & iris & cv2.dilate(grown.astype(np.uint8), kernel, iterations=2).astype(bool)
    halo = near_pupil & cv2.dilate(glint.astype(np.uint8), kernel).astype(bool)
    return grown | ((filled | halo) & (red > PALE_REDNESS) & iris)


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
    luma = _luma(rgb)
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
    # grown over the pupil's soft edge (half-way between the iris and the floor)
    weak = (luma > 0.5 * (floor + ring_luma)) & (dist <= radius + slack)
    return _grow(labels == best, weak, _growth_steps(radius) + 1)


CAT_EYE_MIN_LUMA = 150.0
CAT_EYE_MIN_AREA = 0.2
"""Smallest bright pupil, as a share of the iris disc (catch-lights are smaller)."""
CAT_EYE_TINY_MIN_AREA = 0.35
"""The same for irises below 3 px, where a catch-light blurs into a few pixels: 0.3-0.45
found the same pupils on the development photos."""
CAT_EYE_PUPIL_LUMA = 35.0
"""Median grey level given to a corrected golden/white pupil."""


def _luma(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _feather(hard: np.ndarray, radius: float, onto: np.ndarray) -> np.ndarray:
    """``hard`` (float alpha in [0, 1]) with an outward edge of 1-2 px: a Gaussian of 0.5-1 px,
    kept only on ``onto`` pixels (the pupil's tinted edge; never a catch-light or the iris)."""
    sigma = float(np.clip(0.07 * radius, 0.5, 1.0))
    soft = cv2.GaussianBlur(hard, (0, 0), sigma)
    return np.maximum(hard, np.where(onto, soft, 0.0)).astype(np.float32)


def red_pupil_correction(rgb: np.ndarray, mask: np.ndarray, radius: float, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``target, alpha`` that turn the red pupil ``mask`` of ``rgb`` dark and neutral.

    The target is grey (a* = b* = 0, no teal or purple cast), at the level of the pixel's own G
    and B mean (which carry a red pupil's texture, and keep a pink catch-light halo light),
    darkened so the pupil's median is at most :data:`PUPIL_GREY` (less for light pixels: none
    above a G and B mean of 180, a catch-light's edge). The alpha is 1 where a
    pixel is red (redness above 0.6 ``threshold``), falling to 0 at :data:`PALE_REDNESS`, so
    a pixel mixed of red and iris at the pupil's edge is corrected by its red share only; outside the
    mask it is 0 but for a 1-2 px feather onto tinted edge pixels (:func:`_feather`).
    """
    f = rgb.astype(np.float32)
    grey = 0.5 * (f[..., 1] + f[..., 2])
    level = float(np.median(grey[mask]))
    k = min(PUPIL_DARKEN, PUPIL_GREY / max(level, 1.0))
    # a catch-light's pink halo (G and B high) keeps its lightness: only the red goes
    k_px = k + (1.0 - k) * _smoothstep(grey, 100.0, 180.0)
    target = np.repeat((grey * k_px)[..., None], 3, axis=2)
    red = redness(rgb)
    share = _smoothstep(red, PALE_REDNESS, max(PALE_REDNESS + 0.05, 0.6 * threshold))
    # a light pixel of the pupil (a catch-light's pink edge) loses its tint entirely: its grey
    # keeps its lightness, so nothing darkens
    share = np.where(mask & (grey > 150.0) & (red > PALE_REDNESS), 1.0, share)
    hard = (share * mask).astype(np.float32)
    # the feather falls on the pupil's own tinted edge, never on skin or iris next to it
    return target, _feather(hard, radius, red > max(PALE_REDNESS, 0.5 * float(np.median(red[mask]))))


def bright_pupil_correction(rgb: np.ndarray, mask: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """``target, alpha`` for a golden, green or white pupil: grey, with the median at
    :data:`CAT_EYE_PUPIL_LUMA` and the relative shading (so a brighter catch-light) kept."""
    luma = _luma(rgb)
    scale = CAT_EYE_PUPIL_LUMA / max(float(np.median(luma[mask])), 1.0)
    target = np.repeat(np.minimum(luma * scale, 255.0)[..., None], 3, axis=2)
    inside = mask.astype(np.float32)
    near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2).astype(bool)
    rim = near & ~mask
    edge = near
    if rim.any():  # the feather goes onto the pupil's bright edge only, not the iris
        edge = near & (luma > 0.5 * (float(np.median(luma[mask])) + float(np.median(luma[rim]))))
    return target, _feather(inside, radius, edge)


def _fix_at(
    source: Image,
    centres: list[tuple[float, float]],
    radius: float,
    contour: np.ndarray | None,
    strength: float,
    threshold: float,
    cat_eye: bool,
) -> Patch | None:
    """The correction of one eye whose iris (``radius``) is centred at one of ``centres``
    (tried in turn), or None when its pupil is neither red nor, with ``cat_eye``, bright."""
    h, w = source.shape[:2]
    r = max(radius, 1.0)
    for centre in centres:
        x0, y0, x1, y1 = _window(centre, 1.6 * r + 3, w, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        rgb = source[y0:y1, x0:x1, :3]
        local = (centre[0] - x0, centre[1] - y0)
        opening = None if contour is None else _polygon_mask(contour, x0, y0, rgb.shape[:2]).astype(bool)
        mask = red_pupil_mask(rgb, local, r, threshold, opening)
        if centre != centres[0] and mask.any() and float(redness(rgb)[mask].mean()) < CLEAR_REDNESS:
            mask[:] = False  # from the lids' centre, only a clearly red pupil (not a reddish lid)
        bright = False
        if cat_eye and not mask.any():
            mask, bright = bright_pupil_mask(rgb, local, r), True
        if contour is not None and mask.any():  # never outside the eyelids (some slack for the fit)
            lids = _polygon_mask(contour, x0, y0, mask.shape)
            lids = cv2.dilate(lids, np.ones((3, 3), np.uint8), iterations=max(1, round(0.5 * r)))
            # clearly red pixels of the pupil stay even where the lids' fit is a pixel or two off
            inside = mask & (lids.astype(bool) | (redness(rgb) >= CLEAR_REDNESS))
            # unless the lids' fit is off (it can be by a few px on small faces) and would cut
            # away most of a clearly red pupil the iris fit found
            clear = not bright and centre == centres[0] and float(redness(rgb)[mask].mean()) >= CLEAR_REDNESS
            if 2 * int(inside.sum()) >= int(mask.sum()) or not clear:
                mask = inside
        if mask.any():
            break
    else:
        return None
    if bright:
        target, alpha = bright_pupil_correction(rgb, mask, r)
    else:
        target, alpha = red_pupil_correction(rgb, mask, r, threshold)
    return x0, y0, target, alpha * strength


def _fix_eye(source: Image, eye: Eye, strength: float, threshold: float, cat_eye: bool = False) -> Patch | None:
    centres = [eye.center]
    if eye.contour is not None:  # the iris fit can be thrown by the red pupil itself: retry
        centres.append((float(eye.contour[:, 0].mean()), float(eye.contour[:, 1].mean())))
    return _fix_at(source, centres, eye.iris_radius, eye.contour, strength, threshold, cat_eye)


# --------------------------------------------------------------------------- eyes pointed at

POINT_SEARCH = 24
"""Half-size (px) of the first window searched around a point given without a radius; it
doubles while the pupil found touches its border (a full-frame close-up), up to the image."""
POINT_TOLERANCE = 3.0
"""A pupil found from a point must contain it, or lie within this many px of it (or within a
third of the given radius)."""
SHINE_CONTRAST = 0.75
"""Eye-shine is bright against its surroundings: the ring around it has at most this share of
its median luma (a pale iris or a sclera under a point is not)."""
SHINE_MAX_SEARCH = 256
"""Half-size (px) of the largest window searched for eye-shine without a radius."""
SHINE_MIN_LUMA = 90.0
"""Median luma (3x3) at a point, at least, for its pupil to be taken for eye-shine (a normal
pupil under a point is dark)."""


def _component_at(mask: np.ndarray, point: tuple[float, float], tolerance: float) -> np.ndarray | None:
    """The connected component of ``mask`` containing ``point`` (window coordinates), or the
    one with a pixel nearest to it within ``tolerance`` px; None if there is none."""
    if not mask.any():
        return None
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    h, w = mask.shape
    px, py = min(w - 1, max(0, int(point[0]))), min(h - 1, max(0, int(point[1])))
    label = int(labels[py, px])
    if label == 0:
        ys, xs = np.nonzero(mask)
        d = np.hypot(xs + 0.5 - point[0], ys + 0.5 - point[1])
        nearest = int(np.argmin(d))
        if d[nearest] > tolerance:
            return None
        label = int(labels[ys[nearest], xs[nearest]])
    component: np.ndarray = labels == label
    return component


def _shine_at(rgb: np.ndarray, point: tuple[float, float]) -> np.ndarray | None:
    """The bright blob under ``point`` (window coordinates): pixels above 70 % of the luma at
    the point, connected to it; None when the point itself is dark (a normal pupil)."""
    luma = _luma(rgb)
    px, py = int(point[0]), int(point[1])
    centre = float(np.median(luma[max(0, py - 1) : py + 2, max(0, px - 1) : px + 2]))
    if centre < SHINE_MIN_LUMA:
        return None
    return _component_at(luma > 0.7 * centre, point, 1.0)


def _round_pupil(component: np.ndarray) -> tuple[tuple[float, float], float] | None:
    """Centre and radius of a roughly round, solid blob; None for other shapes (an iris ring
    around a dark pupil, a stripe of lip or skin)."""
    ys, xs = np.nonzero(component)
    area = len(xs)
    cx, cy = float(xs.mean()) + 0.5, float(ys.mean()) + 0.5
    extent = float(np.max(np.hypot(xs + 0.5 - cx, ys + 0.5 - cy))) + 0.5
    if area >= 12 and area < 0.3 * np.pi * extent * extent:
        return None
    if area >= 12:
        filled = component.astype(np.uint8).copy()
        contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(filled, contours, -1, 1, -1)
        if area < 0.8 * int(filled.sum()):  # a ring, not a pupil
            return None
    return (cx, cy), max(0.7, float(np.sqrt(area / np.pi)))


def _find_pupil(
    source: Image, point: tuple[float, float], radius: float | None, threshold: float
) -> tuple[tuple[float, float], float, bool] | None:
    """Where the pupil under ``point`` is: its centre, an iris radius for it and whether it is
    red (else eye-shine: golden, green or white, brighter than around it); None for an eye that
    is neither (a normal dark pupil, an iris, skin)."""
    h, w = source.shape[:2]
    half = 1.6 * radius + 3 if radius else float(POINT_SEARCH)
    tolerance = max(POINT_TOLERANCE, radius / 3 if radius else 0.0)
    while True:
        x0, y0, x1, y1 = _window(point, half, w, h)
        rgb = source[y0:y1, x0:x1, :3]
        local = (point[0] - x0, point[1] - y0)
        f = rgb.astype(np.int16)
        red = (redness(rgb) > threshold) & (f[..., 0] - np.maximum(f[..., 1], f[..., 2]) > MIN_RED_EXCESS)
        component = _component_at(red, local, tolerance)
        is_red = component is not None
        if component is None:
            component = _shine_at(rgb, local)
            if component is None:
                return None
        touches = component[0].any() or component[-1].any() or component[:, 0].any() or component[:, -1].any()
        whole = x0 == 0 and y0 == 0 and x1 == w and y1 == h
        if radius or not touches or whole or (not is_red and half >= SHINE_MAX_SEARCH):
            break
        half *= 2
    if touches and (not whole or not is_red):
        return None  # larger than the radius given (or than any eye-shine): not a pupil
    found = _round_pupil(component)
    if found is None:
        return None
    (cx, cy), pupil = found
    if not is_red:
        ring = cv2.dilate(component.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(2, round(0.4 * pupil)))
        around = ring.astype(bool) & ~component
        luma = _luma(rgb)
        if not around.any() or float(np.median(luma[around])) > SHINE_CONTRAST * float(np.median(luma[component])):
            return None  # not much brighter than around it: a pale iris or sclera, not eye-shine
        if radius and pupil < np.sqrt(CAT_EYE_MIN_AREA) * radius:
            return None  # a catch-light, not a pupil
    iris = radius if radius else pupil / 0.6
    return (cx + x0, cy + y0), iris, is_red


def _fix_point(
    source: Image, point: tuple[float, float], radius: float | None, strength: float, threshold: float
) -> Patch | None:
    found = _find_pupil(source, point, radius, threshold)
    if found is None:
        return None
    centre, iris, is_red = found
    h, w = source.shape[:2]
    r = max(iris, 1.0)
    x0, y0, x1, y1 = _window(centre, 1.6 * r + 3, w, h)
    rgb = source[y0:y1, x0:x1, :3]
    local = (centre[0] - x0, centre[1] - y0)
    if is_red:
        mask = red_pupil_mask(rgb, local, r, threshold)
        if not mask.any():
            return None
        target, alpha = red_pupil_correction(rgb, mask, r, threshold)
    else:
        core = _shine_at(rgb, local)
        if core is None:
            return None
        luma = _luma(rgb)
        mask = _grow(core, luma > 0.45 * float(np.median(luma[core])), _growth_steps(r) + 1)
        target, alpha = bright_pupil_correction(rgb, mask, r)
    return x0, y0, target, alpha * strength


def _near(a: tuple[float, float], b: tuple[float, float], distance: float) -> bool:
    return float(np.hypot(a[0] - b[0], a[1] - b[1])) <= distance


def red_eye(
    image: Image,
    strength: float = 1.0,
    threshold: float = 0.45,
    cat_eye: bool = False,
    points: list[list[float]] | None = None,
    context: ChainContext | None = None,
) -> Image:
    """Remove red eye from every detected face, and from the eyes at ``points``.

    :param strength: how much of the correction to apply (0 = none, 1 = full).
    :param threshold: minimum redness ``(R - max(G, B)) / R`` of a red-pupil pixel; lower
        finds paler (pink) red eye but risks touching reddish-brown irises.
    :param cat_eye: also darken golden or white flash pupils (:func:`bright_pupil_mask`) in
        eyes without red pupils. Off by default: a pale iris or a sclera under a misplaced
        iris fit could be darkened.
    :param points: eyes pointed at, ``[x, y]`` or ``[x, y, r]`` in image pixels (``r``: the
        iris radius; found from the pupil when absent), for eyes no face was found for (a
        close crop, a face turned away, a pet). A red pupil there is corrected as in a detected
        eye, a golden, green or white eye-shine made a dark pupil; an eye that is neither is
        left alone. A point on a detected eye is that eye (corrected once); points must lie
        inside the image (:class:`InvalidParameters` otherwise).
    :param context: the chain's context: faces analysed once per image (see :mod:`.context`).
    """
    pointed = _check_points(points or [], image.shape[1], image.shape[0])
    if strength <= 0:
        return image
    patches: list[Patch] = []
    faces = faces_in(image, context)
    looked = len(pointed)
    for face in faces:
        looked += len(face.eyes)
        for eye in face.eyes:
            patch = _fix_eye(image, eye, strength, threshold, cat_eye)
            claimed = [p for p in pointed if _near(p[0], eye.center, max(1.5 * eye.iris_radius, POINT_TOLERANCE))]
            for p in claimed:
                pointed.remove(p)
            if patch is not None:
                patches.append(patch)
            elif claimed:  # pointed at, not red: eye-shine may be there
                (x, y), r = claimed[0]
                patch = _fix_point(image, (x, y), r or eye.iris_radius, strength, threshold)
                if patch is not None:
                    patches.append(patch)
    done: list[tuple[tuple[float, float], float]] = []
    for (x, y), r in pointed:
        if any(_near((x, y), c, max(rad, POINT_TOLERANCE)) for c, rad in done):
            continue  # a second point on an eye already corrected
        patch = _fix_point(image, (x, y), r, strength, threshold)
        if patch is not None:
            patches.append(patch)
            target = patch[2]
            done.append(((x, y), 0.5 * max(target.shape[:2])))
    report(context, faces_found=len(faces), eyes_looked_at=looked, red_eyes_fixed=len(patches))
    return _apply_patches(image, patches)


def _check_points(points: list[list[float]], width: int, height: int) -> list[tuple[tuple[float, float], float | None]]:
    """Points as ``((x, y), r or None)``, each checked to lie inside the image."""
    out: list[tuple[tuple[float, float], float | None]] = []
    for number, p in enumerate(points, start=1):
        x, y = float(p[0]), float(p[1])
        if not (0 <= x < width and 0 <= y < height):
            raise InvalidParameters(f"red_eye: point {number} ({x:g},{y:g}) lies outside the {width}x{height} image")
        out.append(((x, y), float(p[2]) if len(p) > 2 else None))
    return out


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
    faces = faces_in(image, context)
    patches = [p for p in (_whiten_face(image, face, strength) for face in faces) if p is not None]
    report(context, faces_found=len(faces), teeth_whitened=len(patches))
    return _apply_patches(image, patches)
