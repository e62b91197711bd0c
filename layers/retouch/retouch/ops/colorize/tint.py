"""Is a photo monochrome? Grey, or a tinted monochrome (sepia, selenium, cyanotype, a yellowed
scan), as opposed to a photo in colour.

A monochrome photo's chroma is a function of its luminance only: every pixel of a given L* has
the same a*b* (zero for grey; a warm brown for sepia, deepening in the shadows; a cyan-blue for a
cyanotype; a yellow cast growing in the highlights of a yellowed print). A colour photo has
different hues at the same L* (a red roof and a green tree of one brightness). So the photo, at
:data:`TINT_SIDE` px, is binned by L* (:data:`L_BINS` bins), each bin's median a*b* is the
toning curve, and what is left once that curve is subtracted - the *residual chroma* - measures
colour: at most :data:`RESIDUAL_MAX` (95th percentile, CIE Lab units; JPEG chroma noise and
paper grain stay below it) means monochrome.
"""

from __future__ import annotations

import cv2
import numpy as np

from retouch.ops.colorize.library import fit_side, rgb_to_lab

TINT_SIDE = 256
L_BINS = 25
RESIDUAL_MAX = 5.0
"""95th percentile of the residual chroma below which a photo is monochrome (Lab units)."""


def residual_chroma(rgb: np.ndarray) -> float:
    """95th percentile of the chroma not explained by L* alone (0 for any monochrome toning)."""
    lab = rgb_to_lab(fit_side(np.ascontiguousarray(rgb[:, :, :3]), TINT_SIDE)).reshape(-1, 3)
    if not np.any(lab[:, 1:]):
        return 0.0
    bins = np.minimum((lab[:, 0] * (L_BINS / 100.0)).astype(np.intp), L_BINS - 1)
    curve = np.zeros((L_BINS, 2), np.float32)
    for index in np.unique(bins):
        curve[index] = np.median(lab[bins == index, 1:], axis=0)
    residual = lab[:, 1:] - curve[bins]
    return float(np.percentile(cv2.magnitude(residual[:, 0].copy(), residual[:, 1].copy()), 95))


def is_monochrome(rgb: np.ndarray) -> bool:
    """True for grey and tinted monochrome photos (see the module docstring)."""
    r, g, b = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    if np.array_equal(r, g) and np.array_equal(g, b):
        return True
    return residual_chroma(rgb) <= RESIDUAL_MAX
