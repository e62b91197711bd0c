"""Tinted monochrome prints made from a grey photo (sepia, selenium, cyanotype, a yellowed scan):
what colorize must treat as monochrome. Shared by its tests and :mod:`bench.eval_colorize`."""

from __future__ import annotations

import numpy as np
from skimage import color

TONES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "sepia": ((14, 28), (4, 14)),
    "selenium": ((10, -2), (2, 3)),
    "cyanotype": ((-12, -30), (-6, -14)),
    "yellowed": ((2, 6), (3, 22)),
}
"""Each tone's a*b* in the shadows and in the highlights."""


def toned(grey_rgb: np.ndarray, dark_ab: tuple[float, float], light_ab: tuple[float, float]) -> np.ndarray:
    """A tinted monochrome print of a grey photo: its L*, with a*b* a function of L* only."""
    lab = color.rgb2lab(grey_rgb)
    t = (lab[..., :1] / 100.0).clip(0, 1)
    lab[..., 1:] = (1 - t) * np.array(dark_ab) + t * np.array(light_ab)
    return np.clip(color.lab2rgb(lab) * 255, 0, 255).round().astype(np.uint8)
