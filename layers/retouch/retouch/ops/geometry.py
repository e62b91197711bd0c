"""Geometric operations: crop and thumbnail.

Resampling follows common practice for photographs: area averaging (``cv2.INTER_AREA``) when
shrinking, which is alias-free for integer-ish factors and close to Pillow's box/LANCZOS in
quality, and Lanczos-4 when enlarging.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from retouch.errors import InvalidParameters
from retouch.ops.framing import GRAVITIES, place_window
from retouch.ops.registry import Image, Operation, Param, aspect_ratio, register


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

    Raises :class:`InvalidParameters` when the box does not overlap the image.
    """
    ih, iw = image.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(iw, x + w), min(ih, y + h)
    if x1 <= x0 or y1 <= y0:
        raise InvalidParameters(f"crop: box {x},{y},{w},{h} lies outside the {iw}x{ih} image")
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def box_in_pixels(box: list[int | float], width: int, height: int) -> tuple[int, int, int, int]:
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


def crop(image: Image, box: list[int | float] | None = None, aspect: str | None = None, gravity: str = "center") -> Image:
    """Crop to a box, or to the largest window of an aspect ratio.

    :param box: ``[x, y, w, h]`` in pixels, or as fractions of the image size (see
        :func:`box_in_pixels`).
    :param aspect: ``"W:H"``; the largest window of that ratio, placed by ``gravity``.
    :param gravity: where the aspect window sits: ``center``, ``face`` (keep every face in
        frame) or ``smart`` (faces, else the most salient region); see :mod:`.framing`.
    """
    h, w = image.shape[:2]
    if box is not None:
        return crop_box(image, *box_in_pixels(box, w, h))
    assert aspect is not None
    _, _, win_w, win_h = centered_window(w, h, aspect_ratio(aspect))
    x, y = place_window(image, win_w, win_h, gravity)
    return crop_box(image, x, y, win_w, win_h)


def _check_crop(values: dict[str, Any]) -> None:
    if ("box" in values) == ("aspect" in values):
        raise InvalidParameters("crop: give either box=x,y,w,h or aspect=W:H")
    box = values.get("box")
    if box is not None:
        if any(v < 0 for v in box):
            raise InvalidParameters(f"crop: box values must not be negative, got {box}")
        if box[2] <= 0 or box[3] <= 0:
            raise InvalidParameters(f"crop: box width and height must be positive, got {box}")


def thumbnail_size(
    width: int, height: int, target_w: int | None, target_h: int | None, fit: str, upscale: bool = False
) -> tuple[int, int]:
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


def thumbnail(
    image: Image,
    width: int | None = None,
    height: int | None = None,
    fit: str = "contain",
    upscale: bool = False,
    source_size: tuple[int, int] | None = None,
    gravity: str = "face",
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
        x, y = place_window(out, cw, ch, gravity) if (cw, ch) != (sw, sh) else (0, 0)
        out = np.ascontiguousarray(out[y : y + ch, x : x + cw])
    return out


def _check_thumbnail(values: dict[str, Any]) -> None:
    if not values.get("width") and not values.get("height"):
        raise InvalidParameters("thumbnail: give width, height or both")


def decode_size_hint(spec_params: dict[str, Any], width: int, height: int) -> tuple[int, int]:
    """The smallest decoded size a leading thumbnail needs (for JPEG shrink-on-load)."""
    return thumbnail_size(
        width,
        height,
        spec_params.get("width"),
        spec_params.get("height"),
        spec_params.get("fit", "contain"),
        spec_params.get("upscale", False),
    )


CROP = register(
    Operation(
        name="crop",
        summary="Crop to a box (pixels or fractions) or to an aspect ratio.",
        fn=crop,
        params=(
            Param(
                "box", "numbers", "x,y,w,h in pixels, or fractions of the image written as decimals (0.1,0.1,0.8,0.8)", count=4
            ),
            Param("aspect", "aspect", "aspect ratio W:H of the largest window to keep, e.g. 1:1 or 16:9"),
            Param(
                "gravity",
                "choice",
                "where the aspect window sits: center, face (keep every face) or smart (faces, else saliency)",
                default="center",
                choices=GRAVITIES,
            ),
        ),
        check=_check_crop,
    )
)

THUMBNAIL = register(
    Operation(
        name="thumbnail",
        summary="Resize to fit (contain) or fill (cover) a box, never enlarging unless asked.",
        fn=thumbnail,
        params=(
            Param("width", "int", "box width in pixels", minimum=1, maximum=8192),
            Param("height", "int", "box height in pixels", minimum=1, maximum=8192),
            Param(
                "fit",
                "choice",
                "contain: whole image inside the box; cover: fill the box, crop overflow",
                default="contain",
                choices=("contain", "cover"),
            ),
            Param("upscale", "bool", "enlarge images smaller than the box", default=False),
            Param(
                "gravity",
                "choice",
                "cover: the part to keep: face (every face in frame), smart or center",
                default="face",
                choices=GRAVITIES,
                only_with={"fit": ("cover",)},
            ),
        ),
        check=_check_thumbnail,
    )
)
