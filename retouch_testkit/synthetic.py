"""Synthetic test images shared by the tests and the colorize training (numpy only, so the
training venv can import it too)."""

from __future__ import annotations

import numpy as np

EDGE_MARGIN = 8
"""Pixels on each side of the edge of :func:`edge_image` left out when a half is measured."""


def edge_image(height: int = 240, width: int = 320) -> np.ndarray:
    """A featureless grey RGB image: a dark left half (70) and a bright right half (180) with mild
    noise (seeded), split by a sharp vertical edge."""
    rng = np.random.default_rng(1)
    base = np.where(np.arange(width)[None, :] < width // 2, 70.0, 180.0) * np.ones((height, 1))
    g = np.clip(base + rng.normal(0, 4, (height, width)), 0, 255).astype(np.uint8)
    return np.dstack([g, g, g])


def edge_halves(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The left and right halves of an array shaped like :func:`edge_image`, without the
    :data:`EDGE_MARGIN` pixels on each side of the edge."""
    middle = values.shape[1] // 2
    return values[:, : middle - EDGE_MARGIN], values[:, middle + EDGE_MARGIN :]
