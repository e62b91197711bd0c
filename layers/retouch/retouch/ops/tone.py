"""Tone operations: contrast on luminance.

All methods work on the luma channel (Y of YCrCb, ITU-R BT.601) and leave chroma alone, so
they change contrast without shifting colours.

* ``auto`` - percentile stretch: the ``low``/``high`` percentiles of luma map to 0/255
  (the classic "auto levels", robust to a few outliers).
* ``clahe`` - Contrast Limited Adaptive Histogram Equalization (Zuiderveld, Graphics Gems IV,
  1994) on luma, with ``clip_limit`` and a ``tiles`` x ``tiles`` grid.
* ``linear`` - brightness/contrast/gamma: ``y = ((x - 0.5) * contrast + 0.5 + brightness) ** (1/gamma)``
  on normalised luma.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from retouch.ops.pixels import join_alpha, split_alpha
from retouch.ops.types import Image


def map_luma(image: Image, lut: np.ndarray | None = None, *, clahe: Any = None) -> Image:
    """Apply a 256-entry lookup table (or a CLAHE object) to luma only; chroma is kept."""
    rgb, alpha = split_alpha(image)
    if rgb.ndim == 2:
        y = rgb
        out = cv2.LUT(y, lut) if lut is not None else clahe.apply(y)
        return out
    ycc = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)
    y = ycc[:, :, 0]
    ycc[:, :, 0] = cv2.LUT(y, lut) if lut is not None else clahe.apply(np.ascontiguousarray(y))
    return join_alpha(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB), alpha)


def luma(image: Image) -> np.ndarray:
    rgb, _ = split_alpha(image)
    return rgb if rgb.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def stretch_lut(lo: float, hi: float) -> np.ndarray:
    x = np.arange(256, dtype=np.float32)
    span = max(hi - lo, 1.0)
    return np.clip((x - lo) * 255.0 / span, 0, 255).round().astype(np.uint8)


def linear_lut(brightness: float, contrast: float, gamma: float) -> np.ndarray:
    x = np.arange(256, dtype=np.float32) / 255.0
    y = np.clip((x - 0.5) * contrast + 0.5 + brightness, 0.0, 1.0) ** (1.0 / gamma)
    return np.clip(y * 255.0, 0, 255).round().astype(np.uint8)


def contrast(
    image: Image,
    method: str = "auto",
    low: float = 0.5,
    high: float = 99.5,
    clip_limit: float = 2.0,
    tiles: int = 8,
    brightness: float = 0.0,
    contrast: float = 1.0,
    gamma: float = 1.0,
) -> Image:
    """Adjust contrast on luminance (see the module docstring for the methods).

    :param low, high: ``auto`` percentiles of luma mapped to black and white.
    :param clip_limit, tiles: ``clahe`` clip limit and grid size.
    :param brightness: ``linear`` offset in [-1, 1] of the full range.
    :param contrast: ``linear`` slope around mid-grey (1 = unchanged).
    :param gamma: ``linear`` gamma (>1 brightens mid-tones).
    """
    if method == "auto":
        y = luma(image)
        # a subsample is enough for percentiles and keeps large images cheap
        step = max(1, int(np.sqrt(y.size / 1_000_000)))
        lo, hi = np.percentile(y[::step, ::step], [low, high])
        if hi - lo < 1:
            return image.copy()  # a flat image has no contrast to stretch (as ImageOps.autocontrast)
        return map_luma(image, stretch_lut(float(lo), float(hi)))
    if method == "clahe":
        return map_luma(image, clahe=cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles)))
    return map_luma(image, linear_lut(brightness, contrast, gamma))
