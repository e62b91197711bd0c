"""The two types every operation module shares, with nothing else (so importing them creates no
import cycle): an image, and a size."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    Image = np.ndarray
    """An image is an ``uint8`` array of shape (H, W, 3) RGB or (H, W, 4) RGBA."""
else:
    Image = Any

Size = tuple[int, int]
"""``(width, height)`` in pixels."""
