"""``teeth_whitening``: the teeth of every open mouth whitened to natural white under the photo's
own light (see :mod:`retouch.ops.portrait`)."""

from __future__ import annotations

import cv2
import numpy as np

from retouch.ops.context import ChainContext, faces_in, report
from retouch.ops.faces import Face
from retouch.ops.portrait.patches import Patch, apply_patches, polygon_mask, smoothstep
from retouch.ops.portrait.white import from_balanced, photo_white, to_balanced
from retouch.ops.registry import Image

MIN_MOUTH_OPENING = 0.05
STAIN_HUE = 0.3
CONTOUR_SLACK = 0.04
"""How far (share of the mouth width) teeth are looked for beyond the inner-lip contour."""
"""How much of the yellow (b* above natural white) is allowed as extra a* in a teeth pixel."""


def teeth_mask(lab: np.ndarray, inside: np.ndarray, margin: int = 0) -> np.ndarray:
    """Soft teeth mask (float32 in [0, 1]) from an L*a*b* window (L in 0-100) and the
    inner-lip mask ``inside`` (bool).

    Teeth are not red (a* below ~10; lips, gums and tongue are above ~18) and bright: L* above
    0.6-0.75 of the 95th percentile inside the mouth, and above 35. Stained teeth are warmer
    (brown-yellow: a* up to ~14, with b* of 30-40), so the redness is judged as a* less
    :data:`STAIN_HUE` of the yellow beyond natural white (b* above 10): yellow-brown teeth stay
    in, pink-red lips and gums (a* above b*) stay out.

    With ``margin`` (px), teeth the inner-lip contour cuts off are taken too: on small faces
    the face mesh's contour can lie a pixel or two inside the teeth, leaving a yellow rim.
    Those are pixels within ``margin`` px of the teeth found inside, and clearly teeth: a* below
    6 (none above 10: pale lips and mouth corners measure 10-13), or stained (the redness above
    below 6, with b* above 2.5 a*: yellow-brown, where pale lips have b* below 2 a*), and L*
    above 0.7-0.8 of the mouth's 95th percentile.
    """
    if not inside.any():
        return np.zeros(inside.shape, np.float32)
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    ref = float(np.percentile(L[inside], 95))
    red = a - STAIN_HUE * np.maximum(b - NATURAL_TEETH_B, 0.0)
    soft = smoothstep(-red, -18.0, -10.0) * smoothstep(L, max(30.0, 0.6 * ref), max(35.0, 0.75 * ref))
    mask = soft * inside
    if margin > 0 and (mask > 0.5).any():
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        near = cv2.dilate((mask > 0.5).astype(np.uint8), kernel).astype(bool) & ~inside
        stained = smoothstep(-red, -10.0, -6.0) * (b > 2.5 * a)  # yellow-brown, never pink
        strict = np.maximum(smoothstep(-a, -10.0, -6.0), stained) * smoothstep(L, max(35.0, 0.7 * ref), max(40.0, 0.8 * ref))
        mask = np.where(near, strict, mask)
    return mask.astype(np.float32)


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


def _open(face: Face) -> bool:
    return face.inner_lips is not None and face.mouth_opening >= MIN_MOUTH_OPENING


def _whiten_face(source: Image, face: Face, strength: float, gains: np.ndarray | None = None) -> Patch | None:
    """The whitening of one face's teeth, judged in the photo's white balance ``gains``
    (:func:`.white.photo_white`; None: neutral light), or None when no teeth show."""
    if face.inner_lips is None or not _open(face):
        return None
    h, w = source.shape[:2]
    margin = max(1, round(CONTOUR_SLACK * face.mouth_width))
    lo, hi = face.inner_lips.min(axis=0), face.inner_lips.max(axis=0)
    x0, y0 = max(0, int(lo[0]) - 3 - margin), max(0, int(lo[1]) - 3 - margin)
    x1, y1 = min(w, int(np.ceil(hi[0])) + 4 + margin), min(h, int(np.ceil(hi[1])) + 4 + margin)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    rgb = to_balanced(source[y0:y1, x0:x1, :3].astype(np.float32) / 255.0, gains)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    inside = polygon_mask(face.inner_lips, x0, y0, rgb.shape[:2]).astype(bool)
    mask = teeth_mask(lab, inside, margin)
    if face.outer_lips is not None:  # never past the lips
        mask *= polygon_mask(face.outer_lips, x0, y0, rgb.shape[:2])
    if float((mask * inside).max(initial=0.0)) < 0.5:
        return None
    sigma = max(0.6, 0.01 * face.mouth_width)
    # feathered, but full strength on the teeth themselves (the blur halves a hard mask's edge);
    # never onto the lips beyond the teeth
    alpha = np.clip(2.0 * cv2.GaussianBlur(mask, (0, 0), sigma), 0.0, 1.0) * (inside | (mask > 0))
    target = from_balanced(cv2.cvtColor(whitening_targets(lab, strength), cv2.COLOR_Lab2RGB), gains) * 255.0
    return x0, y0, target, alpha


def teeth_whitening(image: Image, strength: float = DEFAULT_STRENGTH, context: ChainContext | None = None) -> Image:
    """Whiten visible teeth in every detected face (see :func:`whitening_targets`), judged
    against the photo's own white (:func:`.white.photo_white`, estimated once per photo).

    :param strength: 0 = unchanged; 0.6 (default) = the yellow cast removed down to natural
        white (b* about 10 under neutral light) and L* lifted by up to 3.6; 1 = whiter still
        (b* down to 4, L* up to +6). Smaller values remove proportionally less.
    :param context: the chain's context: faces analysed once per image; the outcome gets
        ``faces_found`` and ``teeth_whitened`` (faces whose teeth were whitened).
    """
    if strength <= 0:
        return image
    faces = faces_in(image, context)
    gains = photo_white(image, faces) if any(_open(f) for f in faces) else None
    patches = [p for p in (_whiten_face(image, face, strength, gains) for face in faces) if p is not None]
    report(context, faces_found=len(faces), teeth_whitened=len(patches))
    return apply_patches(image, patches)
