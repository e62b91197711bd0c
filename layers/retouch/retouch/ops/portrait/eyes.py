"""``red_eye``: red (and, on request, golden or white) pupils corrected in every detected eye
and at eyes pointed at (see :mod:`retouch.ops.portrait` and :mod:`.pupils`)."""

from __future__ import annotations

import cv2
import numpy as np

from retouch.errors import ValidationError
from retouch.ops.context import ChainContext, faces_in, report
from retouch.ops.faces import Eye
from retouch.ops.portrait.patches import Patch, apply_patches, luma_of, polygon_mask, window
from retouch.ops.portrait.pupils import (
    CAT_EYE_MIN_AREA,
    CLEAR_REDNESS,
    bright_pupil_correction,
    bright_pupil_mask,
    clearly_red,
    grow,
    growth_steps,
    pink_by_catch_light,
    red_candidates,
    red_pupil_correction,
    red_pupil_mask,
    redness,
)
from retouch.ops.registry import Image


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
        x0, y0, x1, y1 = window(centre, 1.6 * r + 3, w, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        rgb = source[y0:y1, x0:x1, :3]
        local = (centre[0] - x0, centre[1] - y0)
        opening = None if contour is None else polygon_mask(contour, x0, y0, rgb.shape[:2]).astype(bool)
        mask = red_pupil_mask(rgb, local, r, threshold, opening)
        moved = _recentred(source, mask, local, (x0, y0), r, contour, threshold)
        if moved is not None:
            (x0, y0), rgb, local, mask = moved
        if centre != centres[0] and mask.any() and float(redness(rgb)[mask].mean()) < CLEAR_REDNESS:
            mask[:] = False  # from the lids' centre, only a clearly red pupil (not a reddish lid)
        bright = False
        if cat_eye and not mask.any():
            mask, bright = bright_pupil_mask(rgb, local, r), True
        if contour is not None and mask.any():  # never outside the eyelids (some slack for the fit)
            lids = polygon_mask(contour, x0, y0, mask.shape)
            lids = cv2.dilate(lids, np.ones((3, 3), np.uint8), iterations=max(1, round(0.5 * r)))
            # clearly red pixels of the pupil stay even where the lids' fit is a pixel or two off
            inside = mask & (lids.astype(bool) | (redness(rgb) >= CLEAR_REDNESS))
            # and so do strongly red pixels of the pupil next to those kept (its edge on the lid)
            if not bright and inside.any():
                near = cv2.dilate(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
                inside |= mask & near & red_candidates(rgb, threshold, dull=False)
            # unless the lids' fit is off (it can be by a few px on small faces) and would cut
            # away most of a clearly red pupil the iris fit found
            clear = not bright and centre == centres[0] and clearly_red(rgb, mask)
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


RECENTRE = 0.3
"""A red pupil whose centroid lies more than this many iris radii (+0.5 px) from the iris
centre it was looked for at is looked for again around its centroid: a red pupil can throw the
landmark model's iris fit by a radius or more on faces of 40-80 px, and the pupil found around
the wrong centre is cut by the iris disc there."""


def _recentred(
    source: Image,
    mask: np.ndarray,
    local: tuple[float, float],
    origin: tuple[int, int],
    r: float,
    contour: np.ndarray | None,
    threshold: float,
) -> tuple[tuple[int, int], np.ndarray, tuple[float, float], np.ndarray] | None:
    """The pupil looked for again around the centroid of ``mask`` (see :data:`RECENTRE`): its
    window's origin, pixels, centre in it and mask; None when not moved or when the pupil found
    there holds no more of the red pupil."""
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    cx, cy = float(xs.mean()) + 0.5, float(ys.mean()) + 0.5
    if np.hypot(cx - local[0], cy - local[1]) <= RECENTRE * r + 0.5:
        return None
    h, w = source.shape[:2]
    centre = (cx + origin[0], cy + origin[1])
    x0, y0, x1, y1 = window(centre, 1.6 * r + 3, w, h)
    rgb = source[y0:y1, x0:x1, :3]
    at = (centre[0] - x0, centre[1] - y0)
    opening = None if contour is None else polygon_mask(contour, x0, y0, rgb.shape[:2]).astype(bool)
    again = red_pupil_mask(rgb, at, r, threshold, opening)
    # taken only when it holds more of the red pupil, not merely more of its pale halo
    before = int(
        (
            mask
            & red_candidates(source[origin[1] : origin[1] + mask.shape[0], origin[0] : origin[0] + mask.shape[1], :3], threshold)
        ).sum()
    )
    if int((again & red_candidates(rgb, threshold)).sum()) <= before:
        return None
    return (x0, y0), rgb, at, again


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
    luma = luma_of(rgb)
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
        x0, y0, x1, y1 = window(point, half, w, h)
        rgb = source[y0:y1, x0:x1, :3]
        local = (point[0] - x0, point[1] - y0)
        red = red_candidates(rgb, threshold)
        component = _component_at(red, local, tolerance)
        if component is None and (radius is None or radius < 3.0):  # a pupil of a pixel or two
            component = _component_at(pink_by_catch_light(rgb, threshold), local, 1.0)
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
        luma = luma_of(rgb)
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
    x0, y0, x1, y1 = window(centre, 1.6 * r + 3, w, h)
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
        luma = luma_of(rgb)
        mask = grow(core, luma > 0.45 * float(np.median(luma[core])), growth_steps(r) + 1)
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
        inside the image (:class:`ValidationError` otherwise).
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
    return apply_patches(image, patches)


def _check_points(points: list[list[float]], width: int, height: int) -> list[tuple[tuple[float, float], float | None]]:
    """Points as ``((x, y), r or None)``, each checked to lie inside the image."""
    out: list[tuple[tuple[float, float], float | None]] = []
    for number, p in enumerate(points, start=1):
        x, y = float(p[0]), float(p[1])
        if not (0 <= x < width and 0 <= y < height):
            raise ValidationError(f"red_eye: point {number} ({x:g},{y:g}) lies outside the {width}x{height} image")
        out.append(((x, y), float(p[2]) if len(p) > 2 else None))
    return out
