"""Shared pieces of the colorize methods: CIE Lab (D65, sRGB) helpers, the sRGB gamut limit on
chroma, the colourfulness metric, the edge-aware guided filter (He, Sun & Tang, "Guided image
filtering", ECCV 2010; the fast variant of He & Sun 2015), and the settings and errors of the
operation."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from retouch.errors import PermanentError
from retouch.ops.registry import Image


class ColorizeModelError(PermanentError):
    """The configured colorization model is missing, unreadable or has the wrong interface."""


# --- colour space -----------------------------------------------------------------------------

# sRGB (D65) XYZ -> linear RGB, and the white point, as OpenCV uses them
_XYZ_TO_RGB = np.array(
    [[3.240479, -1.53715, -0.498535], [-0.969256, 1.875991, 0.041556], [0.055648, -0.204043, 1.057311]], dtype=np.float64
)
_WHITE = np.array([0.950456, 1.0, 1.088754])
_HUE_BINS = 180


@functools.lru_cache(maxsize=1)
def _grey_lightness_lut() -> np.ndarray:
    grey = np.repeat(np.arange(256, dtype=np.float32)[:, None, None] / 255.0, 3, axis=2)
    return np.ascontiguousarray(cv2.cvtColor(grey, cv2.COLOR_RGB2Lab)[:, 0, 0])


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (0..100, float32) of a uint8 RGB image; a lookup table when R = G = B."""
    rgb = np.ascontiguousarray(rgb)
    r, g, b = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    if np.array_equal(r, g) and np.array_equal(g, b):
        return cv2.LUT(r, _grey_lightness_lut())
    out = np.empty(rgb.shape[:2], np.float32)
    for rows in _strips(rgb.shape[0]):  # float copies of a strip only: bounded memory at 24 MP
        strip = rgb[rows].astype(np.float32) * np.float32(1.0 / 255.0)
        out[rows] = cv2.cvtColor(strip, cv2.COLOR_RGB2Lab)[:, :, 0]
    return out


STRIP_ROWS = 512
"""Rows per strip for full-resolution colour conversions (memory stays ~O(strip))."""


def _strips(height: int) -> list[slice]:
    return [slice(y, min(height, y + STRIP_ROWS)) for y in range(0, height, STRIP_ROWS)]


def _lab_to_linear_rgb(lab: np.ndarray) -> np.ndarray:
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    delta = 6.0 / 29.0
    xyz = np.where(f > delta, f**3, 3 * delta**2 * (f - 4.0 / 29.0)) * _WHITE
    return xyz @ _XYZ_TO_RGB.T


@functools.lru_cache(maxsize=1)
def _max_chroma_table() -> np.ndarray:
    """Largest in-gamut chroma for L* = 0..100 (step 1) and hue in :data:`_HUE_BINS` steps,
    found by bisection from the grey axis and made conservative by a 3x3 minimum filter."""
    lightness_axis = np.arange(101, dtype=np.float64)[:, None]
    hue = np.arange(_HUE_BINS, dtype=np.float64)[None, :] * (2 * np.pi / _HUE_BINS)
    lo = np.zeros((101, _HUE_BINS))
    hi = np.full((101, _HUE_BINS), 200.0)
    for _ in range(24):
        mid = (lo + hi) / 2
        lab = np.stack(np.broadcast_arrays(lightness_axis, mid * np.cos(hue), mid * np.sin(hue)), axis=-1)
        rgb = _lab_to_linear_rgb(lab)
        inside = np.all((rgb >= -1e-6) & (rgb <= 1 + 1e-6), axis=-1)
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    wrapped = np.concatenate([lo[:, -1:], lo, lo[:, :1]], axis=1).astype(np.float32)
    eroded = cv2.erode(wrapped, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)[:, 1:-1]
    return np.ascontiguousarray(eroded * 0.98)


def limit_chroma(lab_l: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale a*b* down (keeping hue) where ``(L*, a*, b*)`` falls outside the sRGB gamut, so the
    conversion to RGB does not clip and L* survives. Returns the limited a* and b* planes.

    The largest chroma per (L*, hue) comes from :func:`_max_chroma_table`, read with bilinear
    ``cv2.remap`` (cheap at 12 MP)."""
    a = np.ascontiguousarray(ab[:, :, 0], dtype=np.float32)
    b = np.ascontiguousarray(ab[:, :, 1], dtype=np.float32)
    chroma, angle = cv2.cartToPolar(a, b)
    table = _max_chroma_table()
    wrapped = np.ascontiguousarray(np.concatenate([table[:, -1:], table, table[:, :1]], axis=1))
    map_x = np.asarray(angle, np.float32) * np.float32(_HUE_BINS / (2 * np.pi)) + np.float32(1.0)
    map_y = np.ascontiguousarray(lab_l, dtype=np.float32)
    limit = cv2.remap(wrapped, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    scale = np.minimum(limit / np.maximum(chroma, np.float32(1e-6)), np.float32(1.0))
    return cv2.multiply(a, scale), cv2.multiply(b, scale)


def compose(lab_l: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """uint8 RGB from L* (H, W) and a*b* (H, W, 2), with the gamut limit of :func:`limit_chroma`."""
    out = np.empty((*lab_l.shape[:2], 3), np.uint8)
    for rows in _strips(lab_l.shape[0]):
        a, b = limit_chroma(lab_l[rows], ab[rows])
        lab = cv2.merge([np.ascontiguousarray(lab_l[rows], dtype=np.float32), a, b])
        out[rows] = cv2.convertScaleAbs(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), alpha=255.0)
    return out


def colorfulness(image: Image) -> float:
    """Colourfulness metric M of Hasler & Süsstrunk, "Measuring colourfulness in natural images"
    (2003): ``sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)`` with ``rg = R - G`` and
    ``yb = (R + G) / 2 - B`` on 0..255 values. 0 for grey; about 30 is "moderately", above 60
    "quite" colourful."""
    rgb = image[:, :, :3].astype(np.float64)
    rg = rgb[:, :, 0] - rgb[:, :, 1]
    yb = 0.5 * (rgb[:, :, 0] + rgb[:, :, 1]) - rgb[:, :, 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


# --- guided filter ----------------------------------------------------------------------------


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Averaged linear coefficients ``(A, B)`` of the guided filter (He et al. 2010) for a
    single-channel float32 ``guide`` and a (H, W, C) ``src``: the output is ``A * guide + B``."""
    guide = np.ascontiguousarray(guide, dtype=np.float32)
    src = np.ascontiguousarray(src, dtype=np.float32)
    g = guide[:, :, None]
    mean_g = _box(guide, radius)[:, :, None]
    mean_s = _box(src, radius).reshape(src.shape)
    corr_gs = _box(src * g, radius).reshape(src.shape)
    var_g = _box(guide * guide, radius)[:, :, None] - mean_g * mean_g
    a = (corr_gs - mean_g * mean_s) / (np.maximum(var_g, 0) + eps)
    b = mean_s - a * mean_g
    return _box(a, radius).reshape(src.shape), _box(b, radius).reshape(src.shape)


def guided_upsample(guide_low: np.ndarray, src_low: np.ndarray, guide_full: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Fast guided filter (He & Sun 2015): coefficients from the low-resolution ``guide_low`` and
    ``src_low``, bilinearly upsampled and applied to the full-resolution ``guide_full``."""
    a, b = guided_coefficients(guide_low, src_low, radius, eps)
    h, w = guide_full.shape[:2]
    channels = src_low.shape[2]
    out = np.empty((h, w, channels), np.float32)
    for c in range(channels):
        up_a = cv2.resize(np.ascontiguousarray(a[:, :, c]), (w, h), interpolation=cv2.INTER_LINEAR)
        up_b = cv2.resize(np.ascontiguousarray(b[:, :, c]), (w, h), interpolation=cv2.INTER_LINEAR)
        out[:, :, c] = cv2.add(cv2.multiply(up_a, guide_full), up_b)
    return out
