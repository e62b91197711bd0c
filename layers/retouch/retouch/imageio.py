"""Reading and writing images safely.

* The type is sniffed from the first bytes (never from the name or the declared type;
  :mod:`retouch.sniff`, which enqueue uses too).
* The pixel count is read from the header and checked before any pixel is decoded, so a
  decompression bomb costs nothing.
* HEIC/HEIF (iPhone photos) and BigTIFF are read like the others.
* EXIF orientation is applied, ICC profiles are converted to sRGB, and every mode (CMYK,
  16-bit, grayscale, palette, alpha) becomes 8-bit RGB or RGBA.
* JPEG is decoded at reduced scale (DCT scaling, ``Image.draft``) when the first operation is a
  thumbnail that needs fewer pixels.
* Output strips metadata: no EXIF (so never GPS), no XMP; only an sRGB image.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError, features

from retouch.errors import ImageTooLarge, InvalidImage, UnsupportedImage
from retouch.models import AUTO, OutputSpec
from retouch.observability import logger
from retouch.sniff import SNIFF_BYTES, SUPPORTED, describe_head, sniff, unsupported_message

# The pixel limit is ours (configurable, checked from the header right after Image.open, before
# any pixel is decoded, with a readable message); Pillow's global guard would pre-empt it with
# a less helpful message and a fixed limit.
Image.MAX_IMAGE_PIXELS = None

AVIF = features.check("avif")
"""Pillow's wheels include libavif (Pillow >= 11.3); then AVIF is read and written."""
_PIL_FORMATS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
    "tiff": "TIFF",
    "bmp": "BMP",
    "avif": "AVIF",
    "heic": "HEIF",
}
# HEIC/HEIF (iPhone photos) through pillow-heif (libheif + libde265). libheif applies the file's
# rotation and mirroring itself and reports EXIF orientation 1, so it is never applied twice.
pillow_heif.register_heif_opener()


@dataclass(frozen=True)
class Decoded:
    pixels: np.ndarray
    """uint8 (H, W, 3) RGB or (H, W, 4) RGBA, upright, sRGB."""
    format: str
    source_width: int
    source_height: int


_SRGB = ImageCms.createProfile("sRGB")
_ROTATING_ORIENTATIONS = {5, 6, 7, 8}


def _to_srgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return im
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(im, src, _SRGB, outputMode=out_mode)
        return converted if converted is not None else im
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im  # a broken profile is ignored rather than failing the image


def _to_8bit(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        peak = float(arr.max(initial=0))
        if im.mode.startswith("I;16") or peak > 255:
            hi = 65535.0
        elif im.mode == "F" and peak <= 1.0:
            hi = 1.0  # floating-point data in 0..1
        else:
            hi = 255.0
        return Image.fromarray(np.clip(arr * (255.0 / hi), 0, 255).round().astype(np.uint8), "L")
    return im


def _normalise_mode(im: Image.Image) -> Image.Image:
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info)
    im = _to_8bit(im)
    if has_alpha:
        return im if im.mode == "RGBA" else im.convert("RGBA")
    return im if im.mode == "RGB" else im.convert("RGB")


def probe(source: bytes | BinaryIO) -> tuple[str | None, bool]:
    """The format and whether it has transparency, from the header alone (no pixel decoded);
    ``(None, False)`` when it is not an image we read."""
    head = source[:SNIFF_BYTES] if isinstance(source, bytes) else source.read(SNIFF_BYTES)
    fmt = sniff(head)
    if fmt is None:
        return None, False
    if fmt in ("jpeg",):
        return fmt, False
    try:
        if not isinstance(source, bytes):
            source.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=[_PIL_FORMATS[fmt]])
            alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    except Exception:  # noqa: BLE001 - an unreadable header: decode reports it properly later
        return fmt, False
    return fmt, alpha


def output_for(source: bytes | BinaryIO, output: OutputSpec) -> OutputSpec:
    """``output`` made concrete for ``source`` (see :data:`retouch.models.FORMAT_CHOICES`)."""
    if output.format != AUTO:
        return output
    return output.resolve(*probe(source))


def decode(
    data: bytes,
    *,
    max_pixels: int,
    size_hint: Callable[[int, int], tuple[int, int] | None] | None = None,
) -> Decoded:
    """Decode ``data`` into an upright 8-bit sRGB array.

    :param max_pixels: refuse images whose header declares more pixels than this.
    :param size_hint: given the upright source size, the smallest size the operations need;
        used for JPEG shrink-on-load.
    :raises InvalidImage, UnsupportedImage, ImageTooLarge: permanent failures with readable
        messages.
    """
    fmt = sniff(data[:SNIFF_BYTES])
    if fmt is None:
        raise UnsupportedImage(unsupported_message(data[:SNIFF_BYTES]))
    if fmt == "avif" and not AVIF:
        raise UnsupportedImage("AVIF images cannot be read here: this Pillow build has no libavif")
    try:
        with warnings.catch_warnings(record=True) as caught:
            # library warnings (corrupt EXIF, truncated strips...) go to the debug log, never to users
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])
            width, height = im.size
            if width <= 0 or height <= 0:
                raise InvalidImage(f"the {fmt.upper()} header declares an empty {width}x{height} image")
            if width * height > max_pixels:
                raise ImageTooLarge(
                    f"the {fmt.upper()} header declares {width}x{height} pixels ({width * height / 1e6:,.0f} MP); "
                    f"the limit is {max_pixels / 1e6:,.0f} MP"
                )
            orientation = im.getexif().get(0x0112, 1) if fmt in ("jpeg", "webp", "tiff", "png", "avif", "heic") else 1
            upright = (height, width) if orientation in _ROTATING_ORIENTATIONS else (width, height)
            if fmt == "jpeg" and size_hint is not None:
                wanted = size_hint(*upright)
                if wanted is not None:
                    if orientation in _ROTATING_ORIENTATIONS:
                        wanted = (wanted[1], wanted[0])
                    im.draft("RGB" if im.mode != "CMYK" else "CMYK", wanted)
            im.load()
            im = ImageOps.exif_transpose(im) or im
            im = _normalise_mode(_to_srgb(im))
            pixels = np.asarray(im)
        for w in caught:
            logger.debug("decoder warning", extra={"format": fmt, "warning": str(w.message)[:300]})
    except (ImageTooLarge, InvalidImage):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        logger.debug("decompression bomb", extra={"format": fmt, "detail": str(exc)[:300]})
        raise ImageTooLarge(f"the {fmt.upper()} image would be too large to decode safely") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage(f"the file looks like {fmt.upper()} but cannot be read: it is corrupt or not really an image") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError, ZeroDivisionError) as exc:
        # the library's own words ("decoder error -2", "MAX_TEXT_CHUNK") stay in the log
        logger.debug("undecodable image", extra={"format": fmt, "detail": f"{type(exc).__name__}: {exc}"[:300]})
        raise InvalidImage(f"the {fmt.upper()} data is corrupt or truncated, so the image cannot be read") from exc
    except MemoryError as exc:
        raise ImageTooLarge("the image needs more memory to decode than the worker has") from exc
    return Decoded(pixels=pixels, format=fmt, source_width=upright[0], source_height=upright[1])


def encode(pixels: np.ndarray, output: OutputSpec) -> bytes:
    """Encode an RGB(A) array; metadata is never written."""
    mode = "RGBA" if pixels.ndim == 3 and pixels.shape[2] == 4 else "RGB"
    im = Image.fromarray(np.ascontiguousarray(pixels))
    buf = io.BytesIO()
    if output.format == "jpeg":
        if mode == "RGBA":
            background = Image.new("RGB", im.size, (255, 255, 255))
            background.paste(im, mask=im.getchannel("A"))
            im = background
        im.save(buf, "JPEG", quality=output.quality, optimize=False, progressive=False)
    elif output.format == "png":
        im.save(buf, "PNG", compress_level=6)
    elif output.format == "avif":
        im.save(buf, "AVIF", quality=output.quality, speed=8)
    else:
        im.save(buf, "WEBP", quality=output.quality, method=4)
    return buf.getvalue()


__all__ = [
    "AVIF",
    "SNIFF_BYTES",
    "SUPPORTED",
    "Decoded",
    "decode",
    "describe_head",
    "encode",
    "output_for",
    "probe",
    "sniff",
    "unsupported_message",
]
