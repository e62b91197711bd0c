"""Geometric operations: crop and thumbnail.

Resampling follows common practice for photographs: area averaging (``cv2.INTER_AREA``) when
shrinking, which is alias-free for integer-ish factors and close to Pillow's box/LANCZOS in
quality, and Lanczos-4 when enlarging.
"""

from __future__ import annotations

import cv2
import numpy as np

from retouch.errors import ValidationError
from retouch.ops.context import ChainContext
from retouch.ops.framing import place_window
from retouch.ops.sizes import aspect_ratio, box_in_pixels, centered_window, thumbnail_size
from retouch.ops.types import Image


def resize(image: Image, width: int, height: int) -> Image:
    """Resample ``image`` to ``width`` x ``height`` with a filter suited to the direction."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    shrinking = width * height < w * h
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    return cv2.resize(image, (width, height), interpolation=interpolation)


def crop_box(image: Image, x: int, y: int, w: int, h: int) -> Image:
    """Return the part of ``image`` inside the pixel box, clipped to the image.

    Raises :class:`ValidationError` when the box does not overlap the image.
    """
    ih, iw = image.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(iw, x + w), min(ih, y + h)
    if x1 <= x0 or y1 <= y0:
        raise ValidationError(f"crop: box {x},{y},{w},{h} lies outside the {iw}x{ih} image")
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def crop(
    image: Image,
    box: list[int | float] | None = None,
    aspect: str | None = None,
    gravity: str = "face",
    context: ChainContext | None = None,
) -> Image:
    """Crop to a box, or to the largest window of an aspect ratio.

    :param box: ``[x, y, w, h]`` in pixels, or as fractions of the image size (see
        :func:`box_in_pixels`).
    :param aspect: ``"W:H"``; the largest window of that ratio, placed by ``gravity``.
    :param gravity: where the aspect window sits: ``face`` (the default, as for a thumbnail:
        every face in frame, or the largest group of faces that fits), ``smart`` (faces, else
        the most salient region) or ``center``; see :mod:`.framing`.
    :param context: the chain's context (faces analysed once per image, the deadline).
    """
    h, w = image.shape[:2]
    if box is not None:
        return crop_box(image, *box_in_pixels(box, w, h))
    assert aspect is not None
    _, _, win_w, win_h = centered_window(w, h, aspect_ratio(aspect))
    x, y = place_window(image, win_w, win_h, gravity, context)
    return crop_box(image, x, y, win_w, win_h)


def thumbnail(
    image: Image,
    width: int | None = None,
    height: int | None = None,
    fit: str = "contain",
    upscale: bool = False,
    source_size: tuple[int, int] | None = None,
    gravity: str = "face",
    context: ChainContext | None = None,
) -> Image:
    """Make a thumbnail.

    :param width, height: the box to fit; one may be omitted to keep the aspect ratio.
    :param fit: ``contain`` fits the whole image inside the box; ``cover`` fills the box and
        crops the overflow around the centre.
    :param upscale: allow enlarging images smaller than the box (off by default).
    :param gravity: ``cover`` only: which part to keep (``face`` by default, see :mod:`.framing`).
    :param source_size: the original size when ``image`` was decoded at reduced scale
        (shrink-on-load), so the output size follows the original's aspect ratio exactly.
        Not a user parameter; the pipeline passes it.
    """
    h, w = image.shape[:2]
    src_w, src_h = source_size or (w, h)
    sw, sh = thumbnail_size(src_w, src_h, width, height, fit, upscale)
    out = resize(image, sw, sh)
    if fit == "cover" and width and height:
        cw, ch = min(width, sw), min(height, sh)
        x, y = place_window(out, cw, ch, gravity, context) if (cw, ch) != (sw, sh) else (0, 0)
        out = np.ascontiguousarray(out[y : y + ch, x : x + cw])
    return out
