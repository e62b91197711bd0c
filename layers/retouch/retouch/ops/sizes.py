"""Size arithmetic: boxes, windows and thumbnail sizes, in pixels. Pure Python.

Shared by the operations' specs (the size an operation will produce, and the size a leading
operation needs its input decoded at, known before any pixel is touched) and by their
implementations (:mod:`.geometry`), so both compute the same numbers. The specs' callbacks take
*bound* parameters (:func:`retouch.ops.chain.bind`): every default is already filled in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retouch.ops.types import Size


def aspect_ratio(text: str) -> float:
    """``"16:9"`` -> ``16/9``."""
    w, h = (float(p) for p in text.split(":"))
    return w / h


def box_in_pixels(box: Sequence[int | float], width: int, height: int) -> tuple[int, int, int, int]:
    """Interpret ``[x, y, w, h]``: fractions of the image when all are in [0, 1] and any is
    written as a decimal (``0.5``), pixels otherwise."""
    fractions = all(0 <= v <= 1 for v in box) and any(isinstance(v, float) for v in box)
    if fractions:
        x, y, w, h = box
        return (round(x * width), round(y * height), round(w * width), round(h * height))
    x, y, w, h = (round(v) for v in box)
    return x, y, w, h


def centered_window(
    width: int, height: int, ratio: float, center: tuple[float, float] | None = None
) -> tuple[int, int, int, int]:
    """The largest ``ratio`` (w/h) window inside a ``width`` x ``height`` image, centred on
    ``center`` (pixels; image centre by default) and shifted to stay inside."""
    if width / height > ratio:
        w, h = max(1, round(height * ratio)), height
    else:
        w, h = width, max(1, round(width / ratio))
    cx, cy = center if center is not None else (width / 2, height / 2)
    x = int(min(max(0, round(cx - w / 2)), width - w))
    y = int(min(max(0, round(cy - h / 2)), height - h))
    return x, y, w, h


def thumbnail_size(width: int, height: int, target_w: int | None, target_h: int | None, fit: str, upscale: bool = False) -> Size:
    """Size of the resampled image (before the ``cover`` crop) for a thumbnail request."""
    scales = []
    if target_w:
        scales.append(target_w / width)
    if target_h:
        scales.append(target_h / height)
    scale = (max if fit == "cover" and len(scales) == 2 else min)(scales)
    if not upscale:
        scale = min(scale, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


# --- the specs' callbacks (bound parameters) --------------------------------------------------
def same_size(params: Mapping[str, Any], size: Size) -> Size:
    return size


def crop_output(params: Mapping[str, Any], size: Size) -> Size:
    width, height = size
    box = params.get("box")
    if box is not None:
        x, y, w, h = box_in_pixels(box, width, height)
        return max(0, min(width, x + w) - max(0, x)), max(0, min(height, y + h) - max(0, y))
    _, _, w, h = centered_window(width, height, aspect_ratio(params["aspect"]))
    return w, h


def thumbnail_resampled(params: Mapping[str, Any], size: Size) -> Size:
    """The size a thumbnail resamples to (before a ``cover`` crop): also the smallest decoded
    size a leading thumbnail needs (JPEG shrink-on-load)."""
    return thumbnail_size(*size, params.get("width"), params.get("height"), params["fit"], params["upscale"])


def thumbnail_output(params: Mapping[str, Any], size: Size) -> Size:
    sw, sh = thumbnail_resampled(params, size)
    if params["fit"] == "cover" and params.get("width") and params.get("height"):
        return min(params["width"], sw), min(params["height"], sh)
    return sw, sh


def thumbnail_largest(params: Mapping[str, Any]) -> Size | None:
    return (params["width"], params["height"]) if params.get("width") and params.get("height") else None
