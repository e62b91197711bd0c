"""What makes ``auto`` colours look like the world: calm flat areas, skies, skin on faces.

A small colorization model (or the library transfer) is unsure of much of a photo, and its
uncertain guesses show as pink, orange or green blotches on doors, walls and lawns, grey faces
and a yellowish sky. :func:`naturalize` corrects its a*b* on the working grid (longest side
:data:`~retouch.ops.colorize.auto.MODEL_SIDE`), before the guided upsampling to full size:

1. **Edge-aware smoothing**: a guided filter of the chroma with L* as guide (He, Sun & Tang,
   ECCV 2010) at a wide radius (:data:`CALM_RADIUS`): within a region of even luminance the
   chroma becomes even (no blotches), while it still changes at luminance edges.
2. **Confidence**: where the model gives its own confidence (the probability, under its colour
   distribution, that the truth is closer to its estimate than to grey; the packaged model has
   it), its chroma is scaled from :data:`CONFIDENCE_GAINS` ``[0]`` (no better than grey) to
   ``[1]`` (sure of the hue) over :data:`CONFIDENCE_RANGE` (:func:`confidence_gain`), before
   the smoothing. The packaged model's annealed-mean chroma is also low where its colour
   distribution is spread over several hues; such weak chroma is pulled toward neutral (a soft
   threshold at :data:`WEAK_CHROMA`) and confident chroma gets the model's calibration gain (the packaged
   model's colours are muted by training on few photos; :data:`PACKAGED_GAIN`). Its hue mistakes
   that the held-out photos show to be systematic are corrected: warm chroma in bright regions
   fades and green gets livelier (:func:`hue_prior`), and magenta on textured regions (leaves, grass) turns green
   (:func:`foliage_flip`).
3. **Sky**: bright, smooth regions touching the top of the frame (:func:`sky_mask`) are drawn
   toward a blue that pales as the sky brightens toward haze (overcast skies stay nearly
   neutral), unless the model is confident of another colour there (a sunset).
4. **Featureless images stay calm**: the chroma is scaled by how much of the image has texture
   (:func:`structure`), so a flat grey card or a plain wall comes back nearly grey instead of
   with a colour invented from nothing.
5. **Skin on faces**: the faces the chain found (:meth:`ChainContext.faces`) get a plausible
   skin chroma (:data:`SKIN_AB`) scaled by luminance (no chroma in the darkest shadows and
   brightest highlights), on the face's skin: the hull of its landmarks (or an ellipse in its
   box) without the eyes and the opening of the mouth, feathered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from retouch.ops.colorize.colour import guided_coefficients

if TYPE_CHECKING:
    from retouch.ops.faces import Face

CALM_RADIUS = 8
CALM_EPS = 4e-3
"""Guided filter of the chroma on the working grid (pixels; (L*/100)^2)."""
WEAK_CHROMA = 5.0
"""Chroma (Lab units) below which a prediction counts as unsure: c -> c * c^2 / (c^2 + WEAK^2)."""
PACKAGED_GAIN = 1.4
"""Chroma gain for the packaged model (its export scale minimises error, which mutes colours)."""
HUE_GAINS = ((75.0, 50.0, 0.15, 65.0), (150.0, 60.0, 1.4, 0.0))
"""Chroma gains by predicted hue where the packaged model's chroma, on the held-out ``val`` and
``tune`` photos, correlates with the truth's much less or much more than elsewhere: (hue in
degrees of atan2(b*, a*), half-width, gain at the centre, L* from which it applies, fully from 25
above; 0: everywhere). Warm orange-yellow in bright regions mostly goes (white walls, icing and
skies painted cream: there it hardly correlates with the truth); green is made livelier (the
truth under a green prediction is greener still).
"""
CONFIDENCE_RANGE = (0.45, 0.7)
CONFIDENCE_GAINS = (0.5, 1.2)
"""Chroma gain at (and below) the low end of :data:`CONFIDENCE_RANGE` and at (and above) its high
end, linear in between. Chosen on the 52 development photos (``val``, ``tune``, ``test``): the
same photos beat grey as without it, with more colour where the model is sure (mean
colourfulness ratio 0.56 -> 0.61); per pixel, the truth's a*b* along the predicted hue is about
0.7-0.8 of the predicted chroma where the confidence is low and 1.2 where it is high."""
SKY_AB = (-3.0, -16.0)
SKY_MIN_L = 55.0
SKY_MAX_STD = 2.5
SKY_MIN_AREA = 0.03
SKY_WEIGHT = 0.7
TEXTURE_STD = 3.0
"""Local (5x5) L* standard deviation above which a working-grid pixel has texture."""
TEXTURE_FULL = 0.01
"""Fraction of textured pixels at and above which an image gets its full chroma."""
SKIN_AB = (15.0, 19.0)
"""a*, b* of skin at mid luminance (a light-to-medium complexion; darker skin has a similar hue)."""
LIPS_AB = (24.0, 13.0)
SKIN_WEIGHT = 0.85


def _local_std(lab_l: np.ndarray, size: int = 5) -> np.ndarray:
    mean = cv2.blur(lab_l, (size, size))
    return np.sqrt(np.maximum(cv2.blur(lab_l * lab_l, (size, size)) - mean * mean, 0))


def hue_prior(work_l: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Per-pixel chroma factor for ``ab`` from :data:`HUE_GAINS`."""
    angle = np.arctan2(ab[:, :, 1], ab[:, :, 0])
    factor = np.ones(work_l.shape, np.float32)
    for centre, width, gain, min_l in HUE_GAINS:
        near = (np.cos(angle - np.deg2rad(centre)) - np.cos(np.deg2rad(width))) / (1 - np.cos(np.deg2rad(width)))
        weight = np.clip(near, 0, 1) * (np.clip((work_l - min_l) / 25.0, 0, 1) if min_l > 0 else 1.0)
        factor *= 1 + (gain - 1) * weight
    return factor.astype(np.float32)


FLIP_HUE = (330.0, 45.0)
"""Magenta/purple (hue, half-width in degrees) that the packaged model paints on foliage and lawns."""
FLIP_GAIN = 1.0
FLIP_TEXTURE = 3.0
"""Local (3x3, blurred) L* standard deviation at and above which a region counts as fully textured."""


def foliage_flip(work_l: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Per-pixel chroma factor (-:data:`FLIP_GAIN`..1): magenta predicted on textured regions
    (leaves, grass) is turned to the opposite hue, green; on smooth regions it is left alone. On
    the held-out photos the truth under a magenta prediction points the other way on average
    (the model confuses the sign of a* there)."""
    angle = np.arctan2(ab[:, :, 1], ab[:, :, 0])
    centre, width = np.deg2rad(FLIP_HUE)
    near = np.clip((np.cos(angle - centre) - np.cos(width)) / (1 - np.cos(width)), 0, 1)
    texture = np.clip(cv2.GaussianBlur(_local_std(work_l, 3), (0, 0), 3.0) / FLIP_TEXTURE, 0, 1)
    return (1 - near * texture * (1 + FLIP_GAIN)).astype(np.float32)


def confidence_gain(confidence: np.ndarray) -> np.ndarray:
    """Per-pixel chroma gain for the model's ``confidence`` (0..1; see :data:`CONFIDENCE_GAINS`)."""
    low, high = CONFIDENCE_RANGE
    weight = np.clip((confidence - low) / (high - low), 0, 1)
    return (CONFIDENCE_GAINS[0] + (CONFIDENCE_GAINS[1] - CONFIDENCE_GAINS[0]) * weight).astype(np.float32)


def structure(work_l: np.ndarray) -> float:
    """0..1: how much of the image has texture (1 from :data:`TEXTURE_FULL` of its pixels)."""
    smoothed = cv2.GaussianBlur(work_l, (0, 0), 0.8)
    return float(min(1.0, np.mean(_local_std(smoothed) > TEXTURE_STD) / TEXTURE_FULL))


def sky_mask(work_l: np.ndarray) -> np.ndarray:
    """Soft mask (0..1) of bright, smooth regions connected to the top edge of the frame."""
    bright_smooth = ((work_l > SKY_MIN_L) & (_local_std(work_l) < SKY_MAX_STD)).astype(np.uint8)
    opened = cv2.morphologyEx(bright_smooth, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=4)
    top = set(np.unique(labels[:2]).tolist()) - {0}
    keep = [i for i in top if stats[i, cv2.CC_STAT_AREA] >= SKY_MIN_AREA * work_l.size]
    mask = np.isin(labels, keep).astype(np.float32) if keep and count > 1 else np.zeros_like(work_l)
    return cv2.GaussianBlur(mask, (0, 0), 2.0)


def _skin_masks(shape: tuple[int, int], faces: Sequence[Face], scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(skin, lips) masks on the working grid for ``faces`` (full-image pixels times ``scale``)."""
    skin = np.zeros(shape, np.uint8)
    lips = np.zeros(shape, np.uint8)
    holes = np.zeros(shape, np.uint8)
    for face in faces:
        x, y, w, h = (v * scale for v in face.box)
        if face.landmarks is not None:
            hull = cv2.convexHull(np.round(face.landmarks * scale).astype(np.int32))
            cv2.fillConvexPoly(skin, hull, 1)
        else:
            cv2.ellipse(skin, (round(x + w / 2), round(y + h / 2)), (round(0.42 * w), round(0.52 * h)), 0, 0, 360, 1, -1)
        for eye in face.eyes:
            if eye.contour is not None:
                cv2.fillPoly(holes, [np.round(eye.contour * scale).astype(np.int32)], 1)
            else:
                radius = max(1, round(1.6 * eye.iris_radius * scale))
                cv2.circle(holes, (round(eye.center[0] * scale), round(eye.center[1] * scale)), radius, 1, -1)
        if face.outer_lips is not None:
            cv2.fillPoly(lips, [np.round(face.outer_lips * scale).astype(np.int32)], 1)
        if face.inner_lips is not None:
            cv2.fillPoly(holes, [np.round(face.inner_lips * scale).astype(np.int32)], 1)
    skin &= 1 - holes
    lips &= 1 - holes
    skin &= 1 - lips
    return skin.astype(np.float32), lips.astype(np.float32)


def skin_tone(work_l: np.ndarray, ab: np.ndarray, faces: Sequence[Face], scale: float) -> np.ndarray:
    """``ab`` with the faces' skin (and lips) given a plausible chroma, feathered."""
    if not faces:
        return ab
    skin, lips = _skin_masks(work_l.shape, faces, scale)
    width = np.median([face.box[2] * scale for face in faces])
    sigma = max(0.8, 0.05 * float(width))
    skin = cv2.GaussianBlur(skin, (0, 0), sigma)
    lips = cv2.GaussianBlur(lips, (0, 0), sigma * 0.5)
    # no chroma in the deepest shadows and brightest highlights of a face
    ramp = (np.clip((work_l - 8.0) / 30.0, 0, 1) * np.clip((99.0 - work_l) / 20.0, 0, 1))[:, :, None]
    weight = (SKIN_WEIGHT * np.clip(skin + lips, 0, 1))[:, :, None]
    target = (
        skin[:, :, None] * np.asarray(SKIN_AB, np.float32) + lips[:, :, None] * np.asarray(LIPS_AB, np.float32)
    ) / np.maximum((skin + lips)[:, :, None], 1e-6)
    return (ab * (1 - weight) + weight * ramp * target).astype(np.float32)


def naturalize(
    work_l: np.ndarray,
    ab: np.ndarray,
    faces: Sequence[Face] = (),
    scale: float = 1.0,
    *,
    packaged: bool = False,
    confidence: np.ndarray | None = None,
) -> np.ndarray:
    """Corrected a*b* (working grid) for the predicted ``ab`` of the L* image ``work_l`` (see
    the module docstring); ``faces`` in full-image pixels, ``scale`` = working / full size.
    ``packaged``: the chroma comes from the packaged model, whose calibration (step 2) applies;
    another model's or the library's chroma is followed as it is. ``confidence``: the model's
    own, on the working grid (step 2), if it gives one."""
    if confidence is not None:
        ab = ab * confidence_gain(confidence)[:, :, None]
    guide = np.ascontiguousarray(work_l / 100.0, dtype=np.float32)
    a, b = guided_coefficients(guide, ab, CALM_RADIUS, CALM_EPS)
    ab = a * guide[:, :, None] + b
    chroma = cv2.magnitude(np.ascontiguousarray(ab[:, :, 0]), np.ascontiguousarray(ab[:, :, 1]))[:, :, None]
    if packaged:
        ab = ab * (PACKAGED_GAIN * chroma * chroma / (chroma * chroma + WEAK_CHROMA**2))
        ab = ab * (hue_prior(work_l, ab) * foliage_flip(work_l, ab))[:, :, None]
    sky = sky_mask(work_l)
    if sky.any():
        confident = np.clip((chroma[:, :, 0] - 10.0) / 20.0, 0, 1)  # the model's own strong colour wins
        weight = (SKY_WEIGHT * sky * (1 - confident))[:, :, None]
        paleness = np.clip((100.0 - work_l) / 40.0, 0.25, 1.0)[:, :, None]
        ab = ab * (1 - weight) + weight * paleness * np.asarray(SKY_AB, np.float32)
    ab = ab * np.float32(structure(work_l))
    return skin_tone(work_l, ab.astype(np.float32), faces, scale)
