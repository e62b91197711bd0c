"""``reference`` mode: exemplar-based colour transfer after Welsh, Ashikhmin & Mueller,
"Transferring color to greyscale images" (SIGGRAPH 2002).

The reference's L* is remapped to the target's mean and standard deviation, :data:`SAMPLES`
reference pixels are taken on a jittered grid, and every target pixel copies the a*b* of the
sample with the closest weighted luminance and 5x5 neighbourhood standard deviation (Welsh's
50/50 weighting), plus a coarser local mean for context. Matching runs with the longest side at
:data:`WORK_SIDE`; the chroma is then smoothed and brought to full resolution by the fast guided
filter with L* as guide, so colours do not bleed across strong luminance edges. The library
fallback of ``auto`` mode uses the same transfer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from retouch.errors import ValidationError
from retouch.ops.colorize.colour import _box, guided_upsample
from retouch.ops.colorize.library import THUMB_SIDE, fit_side, rgb_to_lab
from retouch.ops.pixels import as_rgb, split_alpha

WORK_SIDE = THUMB_SIDE
"""Longest side at which ``reference``/``auto`` matching runs (the library thumbnails' size)."""
SAMPLES = 2048
"""Reference pixels sampled per reference (Welsh et al. used about 200)."""
SMOOTH_RADIUS = 4
SMOOTH_EPS = 2e-3
"""Guided filter settings, in units of the working grid and of (L*/100)^2."""


def _features(lab_l: np.ndarray) -> np.ndarray:
    """Per-pixel matching features: L*, 5x5 standard deviation (Welsh), 15x15 mean (context)."""
    lab_l = np.ascontiguousarray(lab_l, dtype=np.float32)
    mean5 = _box(lab_l, 2)
    std5 = np.sqrt(np.maximum(_box(lab_l * lab_l, 2) - mean5 * mean5, 0))
    mean15 = _box(lab_l, 7)
    return np.stack([lab_l, std5, mean15], axis=-1)


# Welsh et al. weight luminance and neighbourhood deviation 50/50; the coarse mean gets half that
_FEATURE_WEIGHTS = np.sqrt(np.array([0.5, 0.5, 0.25], np.float32))


def _jittered_grid(h: int, w: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    cell = max(1.0, math.sqrt(h * w / count))
    ys = np.arange(0, h, cell)
    xs = np.arange(0, w, cell)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    jy = np.minimum(gy + rng.random(gy.shape) * cell, h - 1).astype(np.intp)
    jx = np.minimum(gx + rng.random(gx.shape) * cell, w - 1).astype(np.intp)
    return jy.ravel(), jx.ravel()


def transfer_from_references(target_l: np.ndarray, references: Sequence[np.ndarray], *, seed: int = 0) -> np.ndarray:
    """Welsh et al. (2002) colour transfer: a*b* (H, W, 2) for the L* image ``target_l`` from
    float32 Lab ``references`` (same scale as the target; see the module docstring)."""
    target_l = np.asarray(target_l, np.float32)
    mu_t, sd_t = float(target_l.mean()), float(target_l.std())
    rng = np.random.default_rng(seed)
    sample_features: list[np.ndarray] = []
    sample_ab: list[np.ndarray] = []
    for ref in references:
        ref_l = ref[:, :, 0]
        mu_r, sd_r = float(ref_l.mean()), float(ref_l.std())
        remapped = (ref_l - mu_r) * (sd_t / max(sd_r, 1e-3)) + mu_t  # luminance remapping
        ys, xs = _jittered_grid(ref_l.shape[0], ref_l.shape[1], SAMPLES, rng)
        sample_features.append(_features(remapped)[ys, xs])
        sample_ab.append(ref[ys, xs, 1:])
    samples = np.concatenate(sample_features) * _FEATURE_WEIGHTS
    colours = np.concatenate(sample_ab).astype(np.float32)
    pixels = _features(target_l).reshape(-1, 3) * _FEATURE_WEIGHTS
    sample_norms = np.sum(samples * samples, axis=1)
    best = np.empty(len(pixels), np.intp)
    chunk = 16384
    for start in range(0, len(pixels), chunk):
        block = pixels[start : start + chunk]
        # |p - s|^2 = |p|^2 - 2 p.s + |s|^2; |p|^2 does not change the argmin
        best[start : start + chunk] = np.argmin(sample_norms[None, :] - 2.0 * (block @ samples.T), axis=1)
    return colours[best].reshape(*target_l.shape, 2)


def reference_lab(reference: np.ndarray) -> np.ndarray:
    """float32 Lab of a uint8 RGB(A) reference photo, shrunk to :data:`WORK_SIDE`."""
    if not isinstance(reference, np.ndarray) or reference.dtype != np.uint8:
        raise ValidationError("colorize: the reference image must be 8-bit RGB pixels")
    rgb = as_rgb(split_alpha(reference)[0], "colorize")
    return rgb_to_lab(fit_side(np.ascontiguousarray(rgb), WORK_SIDE))


def ab_from_references(full_l: np.ndarray, references: Sequence[np.ndarray]) -> np.ndarray:
    """a*b* (H, W, 2) for the full-resolution L* image ``full_l`` from Lab ``references``."""
    work_l = fit_side(full_l, WORK_SIDE)
    ab = transfer_from_references(work_l, references)
    return guided_upsample(work_l / 100.0, ab, full_l / 100.0, SMOOTH_RADIUS, SMOOTH_EPS)
