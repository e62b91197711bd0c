"""Red and bright pupils: finding them in a window around an iris, and their correction.

See :mod:`retouch.ops.portrait` for the method (colour and shape cues, the correction keeping
the catch-light); :mod:`.eyes` runs these on every detected or pointed-at eye.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from retouch.ops.portrait.patches import luma_of, smoothstep

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
VIVID_REDNESS, VIVID_EXCESS = 0.5, 70
"""A pupil is clearly red too when its mean redness is above the first and R is above max(G, B)
by the second on average: a vivid red no lid or skin has (a red lid under a flash measures
0.3-0.45, a dark red lid's excess is below 40)."""
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


DULL_SHARE = 0.75
"""A dull (dark or pinkish) red pupil pixel, mixed with the iris, skin or catch-light in a pupil of
a pixel or two, has a redness of at least this share of ``threshold``..."""
DULL_EXCESS = 30
"""... R above max(G, B) by this many levels (natural irises stay below ~40)..."""
DULL_HUE = 0.25
"""... and a hue within about 15 degrees of pure red: ``|G - B|`` at most this share of the
excess (skin, brown and hazel irises are orange: G well above B)."""

VIVID_HUE = 0.15
"""A dull piece is of a red hue when its mean ``|G - B|`` is at most this share of its excess
(skin, brown irises and brows are orange)."""
RED_LIT_SKIN = 0.25
"""Dull red is not looked for where more than this share of the ring around the iris is dull red
itself (a face under red light)."""
EDGE_HUE = 0.5
"""The same share for the pupil's pale edge (:func:`red_pupil_mask`)."""


def red_candidates(rgb: np.ndarray, threshold: float, dull: bool = True) -> np.ndarray:
    """Pixels red enough to seed a red pupil: redness above ``threshold`` and R above max(G, B)
    by :data:`MIN_RED_EXCESS`; with ``dull``, also the dark or pink pixels of a small or dark-red
    pupil (:data:`DULL_SHARE`, :data:`DULL_EXCESS`, :data:`DULL_HUE`)."""
    f = rgb.astype(np.int16)
    red = redness(rgb)
    excess = f[..., 0] - np.maximum(f[..., 1], f[..., 2])
    strong: np.ndarray = (red > threshold) & (excess > MIN_RED_EXCESS)
    if dull:
        hue = np.abs(f[..., 1] - f[..., 2]) <= DULL_HUE * excess
        strong |= (red > DULL_SHARE * threshold) & (excess > DULL_EXCESS) & hue
    return strong


PINK_SHARE = 0.5
"""A pixel next to a catch-light is a tiny red pupil's when its redness is above this share of
``threshold`` (and it has :data:`DULL_EXCESS` and a red hue, :data:`DULL_HUE`)."""


def pink_by_catch_light(rgb: np.ndarray, threshold: float, skin: float = 0.0) -> np.ndarray:
    """The pink pixels touching a catch-light (a near-white spot): all that is left of a red
    pupil of a pixel or two (a 20-40 px face) where the catch-light covers half of it. Next to
    the catch-light of a normal eye are its dark iris and pupil (grey or brown, never pink).
    They are redder than the ``skin`` around (its median redness) by
    :data:`PUPIL_OVER_SKIN_CENTRED`."""
    f = rgb.astype(np.int16)
    excess = f[..., 0] - np.maximum(f[..., 1], f[..., 2])
    glint = (rgb.min(axis=2) > 190).astype(np.uint8)
    touching = cv2.dilate(glint, np.ones((3, 3), np.uint8)).astype(bool) & ~glint.astype(bool)
    hue = np.abs(f[..., 1] - f[..., 2]) <= DULL_HUE * excess
    floor = max(PINK_SHARE * threshold, skin + PUPIL_OVER_SKIN_CENTRED)
    pink: np.ndarray = touching & hue & (excess > DULL_EXCESS) & (redness(rgb) > floor)
    return pink


def clearly_red(rgb: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the pupil ``mask`` of ``rgb`` is clearly red: mean redness of at least
    :data:`CLEAR_REDNESS`, or :data:`VIVID_REDNESS` with :data:`VIVID_EXCESS` over its redder
    half (a catch-light's halo and the edge mixed with the iris left out)."""
    if not mask.any():
        return False
    red_px = redness(rgb)[mask]
    if float(red_px.mean()) >= CLEAR_REDNESS:
        return True
    redder = red_px >= float(np.median(red_px))  # not a catch-light's halo, nor the mixed edge
    f = rgb[mask][redder].astype(np.float32)
    excess = float((f[:, 0] - np.maximum(f[:, 1], f[:, 2])).mean())
    return float(red_px[redder].mean()) >= VIVID_REDNESS and excess >= VIVID_EXCESS


def growth_steps(radius: float) -> int:
    """How far (px) a pupil found by its strongly red core may grow into paler red pixels: its
    soft edge, about 6% of the iris radius, at least 1 px (never into the lids beyond)."""
    return int(min(8, max(1, round(0.06 * radius))))


def grow(core: np.ndarray, allowed: np.ndarray, steps: int) -> np.ndarray:
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
    pupil's) connected to it, by at most :func:`growth_steps` px
    (the pupil's soft edge, not the eyelid's skin, reddish too), and into its strongly red
    pixels (the strict rule) inside the eyelid opening beyond the iris disc, where the iris
    fit sits off the pupil. The slack ``s`` is 1 px, and
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
    reddish_skin = skin > 0.5 * threshold and disc.any()
    if reddish_skin:
        threshold = max(threshold, min(skin + SKIN_MARGIN, 0.5 * (skin + float(np.percentile(red[disc], 95)))))
    pale = max(PALE_REDNESS, skin + 0.05)
    # dull red (a dark-red pupil, or one of a pixel or two mixed with what is around it) only
    # where the skin around is not itself of that red (a red-lit face; skin is orange)
    dull = not (ring.any() and float(np.mean(red_candidates(rgb, threshold)[ring])) > RED_LIT_SKIN)
    # ... and only in an iris of a few pixels, whose pupil is mixed with what is around it: in a
    # larger eye a red pupil has pixels red enough for the strict rule, while the dark pupil of a
    # compressed photo, tinted by pinkish skin beside it, is dull red (seen on a 90 px face)
    dull = dull and tiny
    strong = red_candidates(rgb, threshold, dull=dull) & disc
    empty = np.zeros((h, w), bool)
    if not strong.any():
        if tiny and dull:  # a pupil of a pixel or two, all pink around its catch-light
            return pink_by_catch_light(rgb, threshold, skin) & (dist <= 0.8 * radius + slack)
        return empty
    window = _EyeWindow(red, excess, np.abs(f[..., 1] - f[..., 2]), center, radius, slack, opening)
    found = _reddest_piece(window, strong, skin)
    if found is None:
        return empty
    pupil, reddest = found
    # the pupil never reaches past the iris: red skin or lids joined to it are cut off there
    iris = dist <= 1.05 * radius + slack
    # its pale edge: pixels at least ~40 % red (mixed with the iris or a catch-light), not skin
    # and of a red hue (a quarter of red mixed with skin or a brown iris is still within ~25
    # degrees of red; the skin next to a pupil of a pixel or two, as red by the ratio, is orange)
    hue = np.abs(f[..., 1] - f[..., 2]) <= EDGE_HUE * excess
    weak = (red > max(pale, 0.4 * reddest)) & (excess > MIN_RED_EXCESS // 3) & hue & iris
    if opening is not None:
        # and its strongly red pixels inside the eyelid opening past that disc: on faces of
        # 30-60 px the landmark fit, thrown by the red pupil, can place the iris a radius off,
        # and a column of the pupil's red was left beside the dark one (a red cast)
        weak |= red_candidates(rgb, threshold, dull=False) & disc & opening
    grown = grow(pupil & iris, weak, growth_steps(radius))
    return grown | (_catch_light_halo(rgb, grown, iris) & (red > PALE_REDNESS) & iris)


@dataclass(frozen=True)
class _EyeWindow:
    """What :func:`red_pupil_mask` measured in its window, for the steps after it."""

    red: np.ndarray
    excess: np.ndarray
    green_blue: np.ndarray
    """``|G - B|``: small in a red pupil, large in orange skin or a brown iris."""
    center: tuple[float, float]
    radius: float
    slack: float
    opening: np.ndarray | None


def _reddest_piece(window: _EyeWindow, strong: np.ndarray, skin: float) -> tuple[np.ndarray, float] | None:
    """The pupil among the ``strong`` red components (see :func:`red_pupil_mask`), with the
    other pieces as red near its centre (a pupil split by a catch-light or lashes), and its mean
    redness; None when no component qualifies."""
    red, excess, center, radius, slack = window.red, window.excess, window.center, window.radius, window.slack
    h, w = red.shape
    tiny = radius < 3.0
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
        piece_excess = float(excess[ys, xs].mean())
        vivid = piece_excess >= 1.4 * MIN_RED_EXCESS or (  # vividly red, not a dark lid line...
            piece_excess > DULL_EXCESS and float(window.green_blue[ys, xs].mean()) <= VIVID_HUE * piece_excess
        )  # ... or a dull red of a red hue, where skin is orange (a dark-red or tiny pupil)
        centred = (
            d <= 0.5 * radius + 1.0
            and vivid
            and (window.opening is None or bool(window.opening[min(h - 1, int(cy)), min(w - 1, int(cx))]))
        )
        margin = PUPIL_OVER_SKIN_CENTRED if centred else PUPIL_OVER_SKIN
        if mean_red[i] < skin + margin:
            continue  # no redder than the skin around: a lid or a brow
        score = mean_red[i] - 0.1 * d / max(radius, 1.0)
        if score > best_score:
            best, best_score = i, score
    if best == 0:
        return None
    bx, by = centroids[best] + 0.5
    pieces = [
        i
        for i in range(1, n)
        if float(np.hypot(centroids[i][0] + 0.5 - bx, centroids[i][1] + 0.5 - by)) <= 0.8 * radius + slack
        and (i == best or float(red[labels == i].mean()) >= mean_red[best] - 0.15)
    ]
    return np.isin(labels, pieces), float(mean_red[best])


def _catch_light_halo(rgb: np.ndarray, grown: np.ndarray, iris: np.ndarray) -> np.ndarray:
    """The pupil ``grown`` filled, and the pink halo of a catch-light in it (a near-white spot
    inside the iris, next to the pupil): pixels between the two, corrected by their share of red
    (the white spot's is nil)."""
    kernel = np.ones((3, 3), np.uint8)
    closed = cv2.morphologyEx(grown.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = cv2.drawContours(np.zeros_like(closed), contours, -1, 1, -1).astype(bool)
    near_pupil = cv2.dilate(grown.astype(np.uint8), kernel).astype(bool)
    glint = (rgb.min(axis=2) > 190) & iris & cv2.dilate(grown.astype(np.uint8), kernel, iterations=2).astype(bool)
    halo = near_pupil & cv2.dilate(glint.astype(np.uint8), kernel).astype(bool)
    return filled | halo


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
    luma = luma_of(rgb)
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
    return grow(labels == best, weak, growth_steps(radius) + 1)


CAT_EYE_MIN_LUMA = 150.0
CAT_EYE_MIN_AREA = 0.2
"""Smallest bright pupil, as a share of the iris disc (catch-lights are smaller)."""
CAT_EYE_TINY_MIN_AREA = 0.35
"""The same for irises below 3 px, where a catch-light blurs into a few pixels: 0.3-0.45
found the same pupils on the development photos."""
CAT_EYE_PUPIL_LUMA = 35.0
"""Median grey level given to a corrected golden/white pupil."""


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
    k_px = k + (1.0 - k) * smoothstep(grey, 100.0, 180.0)
    target = np.repeat((grey * k_px)[..., None], 3, axis=2)
    red = redness(rgb)
    share = smoothstep(red, PALE_REDNESS, max(PALE_REDNESS + 0.05, 0.6 * threshold))
    # a light pixel of the pupil (a catch-light's pink edge) loses its tint entirely: its grey
    # keeps its lightness, so nothing darkens
    share = np.where(mask & (grey > 150.0) & (red > PALE_REDNESS), 1.0, share)
    hard = (share * mask).astype(np.float32)
    # the feather falls on the pupil's own tinted edge, never on skin or iris next to it: pixels
    # at least half as red as the pupil's redder half (in a pupil of a few pixels half the mask
    # can be a catch-light's halo and mixed edge, no redder than the skin)
    in_mask = red[mask]
    pupil_red = float(np.median(in_mask[in_mask >= float(np.median(in_mask))]))
    return target, _feather(hard, radius, red > max(PALE_REDNESS, 0.5 * pupil_red))


def bright_pupil_correction(rgb: np.ndarray, mask: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """``target, alpha`` for a golden, green or white pupil: grey, with the median at
    :data:`CAT_EYE_PUPIL_LUMA` and the relative shading (so a brighter catch-light) kept."""
    luma = luma_of(rgb)
    scale = CAT_EYE_PUPIL_LUMA / max(float(np.median(luma[mask])), 1.0)
    target = np.repeat(np.minimum(luma * scale, 255.0)[..., None], 3, axis=2)
    inside = mask.astype(np.float32)
    near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2).astype(bool)
    rim = near & ~mask
    edge = near
    if rim.any():  # the feather goes onto the pupil's bright edge only, not the iris
        edge = near & (luma > 0.5 * (float(np.median(luma[mask])) + float(np.median(luma[rim]))))
    return target, _feather(inside, radius, edge)
