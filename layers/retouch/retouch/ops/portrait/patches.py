"""Helpers the portrait operations share: windows and masks, and blending a correction into a
small region of the image (never touching the pixels outside it)."""

from __future__ import annotations

import cv2
import numpy as np

from retouch.ops.registry import Image


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def window(center: tuple[float, float], half: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer window ``x0, y0, x1, y1`` of half-size ``half`` around ``center``, clipped."""
    cx, cy = center
    x0, y0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
    x1, y1 = min(width, int(np.ceil(cx + half)) + 1), min(height, int(np.ceil(cy + half)) + 1)
    return x0, y0, x1, y1


def polygon_mask(polygon: np.ndarray, x0: int, y0: int, shape: tuple[int, int]) -> np.ndarray:
    """Binary mask (uint8 0/1) of ``polygon`` (image coordinates) in a window at ``x0, y0``."""
    mask = np.zeros(shape, np.uint8)
    pts = np.round((polygon - np.array([x0 + 0.5, y0 + 0.5])) * 4).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=2)
    return mask


Patch = tuple[int, int, np.ndarray, np.ndarray]
"""``x0, y0, target, alpha``: a correction to blend into a window of the image."""


def apply_patches(image: Image, patches: list[Patch]) -> Image:
    """Blend corrections into a copy of ``image``; ``image`` itself when there are none."""
    if not patches:
        return image
    out = image.copy()
    for x0, y0, target, alpha in patches:
        blend_into(out, x0, y0, target, alpha)
    return out


def blend_into(out: Image, x0: int, y0: int, target: np.ndarray, alpha: np.ndarray) -> None:
    """Write ``orig + alpha * (target - orig)`` into ``out`` (RGB channels), only where
    ``alpha`` is positive."""
    h, w = alpha.shape
    region = out[y0 : y0 + h, x0 : x0 + w, :3]
    orig = region.astype(np.float32)
    mixed = np.clip(np.round(orig + alpha[..., None] * (target - orig)), 0, 255).astype(np.uint8)
    touched = alpha > 0
    region[touched] = mixed[touched]


def luma_of(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
