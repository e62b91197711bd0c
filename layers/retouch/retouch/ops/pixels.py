"""Pixel-layout helpers every operation family shares: alpha split off and put back, and
greyscale made RGB."""

from __future__ import annotations

import numpy as np

from retouch.errors import ValidationError
from retouch.ops.types import Image


def split_alpha(image: Image) -> tuple[Image, Image | None]:
    """``(colour, alpha)``: an RGBA image's RGB and its (H, W, 1) alpha; any other image and None."""
    if image.ndim == 3 and image.shape[2] == 4:
        return image[:, :, :3], image[:, :, 3:]
    return image, None


def join_alpha(rgb: Image, alpha: Image | None) -> Image:
    """The inverse of :func:`split_alpha`."""
    return rgb if alpha is None else np.ascontiguousarray(np.concatenate([rgb, alpha], axis=2))


def as_rgb(image: Image, operation: str) -> Image:
    """Three colour channels: greyscale (H, W) is repeated; anything but RGB is refused."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValidationError(f"{operation}: expected an RGB or RGBA image, got shape {image.shape}")
