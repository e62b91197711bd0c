"""Reading and writing images (retouch.imageio) and one image through the pipeline (retouch.pipeline).

Inputs are made in memory from scikit-image's real photographs; the decompression-bomb PNG
is built by hand (a header only), so nothing large is ever written or decoded.
"""

from __future__ import annotations

import io
import json
import random
import string
import struct
import zlib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import ExifTags, Image

from retouch import imageio
from retouch.errors import ImageTooLarge, InvalidImage, PermanentError, UnsupportedImage, ValidationError
from retouch.models import OperationSpec, OutputSpec
from retouch.ops import validate_operations
from retouch.pipeline import render, shrink_on_load_hint

BIG = 100_000_000  # max_pixels that never gets in the way


@cache
def _photo(name: str) -> np.ndarray:
    from skimage import data

    arr = getattr(data, name)()
    arr.setflags(write=False)
    return arr


def photo(name: str = "astronaut") -> np.ndarray:
    return _photo(name).copy()


def encode_pil(im: Image.Image, fmt: str, **options: Any) -> bytes:
    if fmt == "PNG":
        options.setdefault("compress_level", 1)  # fast; the tests are about decoding
    if fmt == "WEBP":
        options.setdefault("method", 0)
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def photo_file(name: str = "astronaut", fmt: str = "JPEG", size: tuple[int, int] | None = None, **options: Any) -> bytes:
    im = Image.fromarray(photo(name))
    if size:
        im = im.resize(size, Image.Resampling.LANCZOS)
    return encode_pil(im, fmt, **options)


def png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


def png_by_hand(width: int, height: int, *, bit_depth: int = 8, color_type: int = 2, raw: bytes = b"") -> bytes:
    """A PNG with the given IHDR and ``raw`` (already filtered scanlines) as its only IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def close(a: np.ndarray, b: np.ndarray, mean_tol: float) -> bool:
    return a.shape == b.shape and float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean()) <= mean_tol


def exif_with_gps(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SpyCam"  # Make
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 7.5)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 12.25)
    return exif.tobytes()


# --- sniff ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpeg"),
        (b"\xff\xd8\xff\xe1\x00\x10Exif\x00", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
        (b"GIF87a\x01\x00\x01\x00", "gif"),
        (b"GIF89a\x01\x00\x01\x00", "gif"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"BM" + b"\x00" * 30, "bmp"),
    ],
)
def test_sniff_magic_numbers(head: bytes, fmt: str) -> None:
    assert imageio.sniff(head) == fmt


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\xff\xd8",  # too short for JPEG
        b"\x89PNG\r\n\x1a",  # PNG signature cut short
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # RIFF but not WebP
        b"GIF90a",
        b"II*\x01",
        b"BM",  # a BMP needs its 14-byte header
        b"hello world, this is text",
        b"%PDF-1.7\n",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00",  # a video
    ],
)
def test_sniff_rejects_other_bytes(head: bytes) -> None:
    assert imageio.sniff(head) is None


def test_sniff_real_files_of_each_format() -> None:
    im = Image.fromarray(photo("chelsea")).resize((90, 60))
    for fmt, name in [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif"), ("TIFF", "tiff"), ("BMP", "bmp")]:
        assert imageio.sniff(encode_pil(im, fmt)[: imageio.SNIFF_BYTES]) == name


def test_describe_head_messages() -> None:
    assert imageio.describe_head(b"") == "the file is empty"
    assert imageio.sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == "heic"
    assert "image sequence" in imageio.describe_head(b"\x00\x00\x00\x18ftyphevc\x00\x00\x00\x00")
    assert imageio.describe_head(b"%PDF-1.4\n%....") == "it is a PDF document"
    assert imageio.describe_head(b"just some words\n") == "it looks like text"
    assert imageio.describe_head(b"\x00\x01\x02\x03\xfe\xff\x10\x11\x12") == (
        "it is not an image format Retouch knows (unrecognised binary data starting with 00 01 02 03 fe ff 10 11)"
    )


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"8BPS\x00\x01" + b"\x00" * 20, "a Photoshop document (PSD)"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00\x00\x14ftypjp2 ", "a JPEG 2000 image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        (b"PK\x03\x04\x14\x00\x06\x00", "a ZIP archive"),
        (b"\x00\x00\x00\x20ftypqt  \x00\x00\x02\x00", "a QuickTime video"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "an MP4 video"),
        (b"II*\x00\x10\x00\x00\x00CR\x02\x00", "a Canon CR2 camera raw file"),
        (b"<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg'/>", "an SVG drawing"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "a web page (HTML)"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "a WAV audio file"),
        (b"\x7fELF\x02\x01\x01\x00", "a Linux program"),
        (b"\x1f\x8b\x08\x00\x00\x00", "a gzip-compressed file"),
    ],
)
def test_describe_head_names_what_an_unsupported_file_is(head: bytes, what: str) -> None:
    assert imageio.describe_head(head).startswith("it is " + what)
    assert what in imageio.unsupported_message(head)


def heic_file(arr: np.ndarray, orientation: int = 1) -> bytes:
    """A real HEIC, written by pillow-heif's encoder (x265)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "HEIF", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def test_heic_is_read_upright_in_colour() -> None:
    arr = np.zeros((48, 64, 3), np.uint8)
    arr[:, :32] = (230, 20, 20)  # red left half, blue right half
    arr[:, 32:] = (20, 20, 230)
    data = heic_file(arr)
    assert data[4:12] == b"ftypheic" and imageio.sniff(data[:32]) == "heic"
    decoded = imageio.decode(data, max_pixels=BIG)
    assert decoded.format == "heic" and decoded.pixels.shape == (48, 64, 3)
    left, right = decoded.pixels[24, 8].astype(int), decoded.pixels[24, 56].astype(int)
    assert left[0] > 180 and left[2] < 70 and right[2] > 180 and right[0] < 70


def test_heic_orientation_is_applied_once() -> None:
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:10] = 255  # a white band along the top edge of the stored image
    decoded = imageio.decode(heic_file(arr, orientation=6), max_pixels=BIG)  # 6: rotate 90 degrees clockwise
    assert decoded.pixels.shape[:2] == (60, 40)  # upright: portrait
    assert decoded.pixels[:, -5:].mean() > 200 and decoded.pixels[:, :5].mean() < 60  # the band is now on the right


def test_heic_header_over_the_pixel_limit_is_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLarge, match="HEIC header declares 64x48"):
        imageio.decode(heic_file(np.zeros((48, 64, 3), np.uint8)), max_pixels=1000)


def test_bigtiff_is_read() -> None:
    im = Image.new("RGB", (40, 30), (200, 30, 10))
    buf = io.BytesIO()
    im.save(buf, "TIFF", big_tiff=True)
    data = buf.getvalue()
    assert data[:4] == b"II+\x00" and imageio.sniff(data[:16]) == "tiff"
    decoded = imageio.decode(data, max_pixels=BIG)
    assert decoded.pixels.shape == (30, 40, 3) and tuple(decoded.pixels[5, 5]) == (200, 30, 10)


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_corrupt_file_messages_carry_no_library_internals(keep: float) -> None:
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "GIF"):
        data = photo_file("astronaut", fmt)
        try:
            imageio.decode(data[: int(len(data) * keep)], max_pixels=BIG)
        except (InvalidImage, UnsupportedImage) as exc:
            assert "(" not in exc.message and "error" not in exc.message.lower(), (fmt, exc.message)
            assert "Plugin" not in exc.message and "decoder" not in exc.message, (fmt, exc.message)


def test_describe_head_random_data_is_binary_not_text() -> None:
    rng = random.Random(7)
    for _ in range(50):
        assert "binary data" in imageio.describe_head(rng.randbytes(512))
        printable = "".join(rng.choice(string.printable) for _ in range(512)).encode()
        assert "binary data" in imageio.describe_head(printable)
        ascii_noise = bytes(rng.randrange(32, 127) for _ in range(512))
        assert "binary data" in imageio.describe_head(ascii_noise)
    assert imageio.describe_head(Path(__file__).read_bytes()[:512]) == "it looks like text"
    assert imageio.describe_head(json.dumps({"images": [{"name": f"p{n}.jpg"} for n in range(40)]}).encode()[:512]) == (
        "it looks like text"
    )
    assert imageio.describe_head("Grüße aus Köln, schöne Fotos!\n".encode()) == "it looks like text"


# --- decode: formats and modes -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "options", "name", "tolerance"),
    [
        ("JPEG", {"quality": 92}, "jpeg", 4),
        ("PNG", {}, "png", 0),
        ("WEBP", {"quality": 90}, "webp", 5),
        ("WEBP", {"lossless": True}, "webp", 0),
        ("GIF", {}, "gif", 8),
        ("TIFF", {}, "tiff", 0),
        ("TIFF", {"compression": "tiff_lzw"}, "tiff", 0),
        ("BMP", {}, "bmp", 0),
    ],
)
def test_decode_each_format_to_uint8_rgb(fmt: str, options: dict, name: str, tolerance: float) -> None:
    src = photo("coffee")
    decoded = imageio.decode(encode_pil(Image.fromarray(src), fmt, **options), max_pixels=BIG)
    assert decoded.format == name
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape == (400, 600, 3)
    assert (decoded.source_width, decoded.source_height) == (600, 400)
    assert close(decoded.pixels, src, tolerance)
    assert np.abs(decoded.pixels.mean(axis=(0, 1)) - src.mean(axis=(0, 1))).max() < 3


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF"])
def test_decode_grayscale_becomes_rgb(fmt: str) -> None:
    cam = photo("camera")  # 512 x 512, mode L
    decoded = imageio.decode(encode_pil(Image.fromarray(cam), fmt), max_pixels=BIG)
    px = decoded.pixels
    assert px.dtype == np.uint8 and px.shape == (512, 512, 3)
    assert (px.max(axis=2).astype(int) - px.min(axis=2)).max() <= 1
    assert close(px[:, :, 1], cam, 4)


def test_decode_palette_png_becomes_rgb() -> None:
    src = photo("astronaut")
    pal = Image.fromarray(src).quantize(128)
    assert pal.mode == "P"
    decoded = imageio.decode(encode_pil(pal, "PNG"), max_pixels=BIG)
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape == (512, 512, 3)
    assert close(decoded.pixels, src, 10)


def test_decode_palette_with_transparency_becomes_rgba() -> None:
    pal = Image.fromarray(photo("astronaut")).quantize(64)
    used = np.asarray(pal)
    transparent_index = int(used[0, 0])
    decoded = imageio.decode(encode_pil(pal, "PNG", transparency=transparent_index), max_pixels=BIG)
    px = decoded.pixels
    assert px.dtype == np.uint8 and px.shape == (512, 512, 4)
    assert np.array_equal(px[:, :, 3] == 0, used == transparent_index)


def test_decode_16bit_grayscale_png_and_tiff_become_8bit_rgb() -> None:
    cam = photo("camera")
    im16 = Image.fromarray(cam.astype(np.uint16) * 257)
    assert im16.mode == "I;16"
    for fmt in ("PNG", "TIFF"):
        decoded = imageio.decode(encode_pil(im16, fmt), max_pixels=BIG)
        px = decoded.pixels
        assert px.dtype == np.uint8 and px.shape == (512, 512, 3), fmt
        assert np.abs(px[:, :, 0].astype(int) - cam).max() <= 1, fmt
        assert np.array_equal(px[:, :, 0], px[:, :, 2])


def test_decode_16bit_rgb_png_becomes_8bit_rgb() -> None:
    src = np.asarray(Image.fromarray(photo("chelsea")).resize((64, 48)))  # 8-bit reference
    wide = (src.astype(np.uint16) * 257 + 128).astype(">u2")  # 16-bit big-endian; low bytes must be dropped
    raw = b"".join(b"\x00" + wide[y].tobytes() for y in range(48))
    data = png_by_hand(64, 48, bit_depth=16, color_type=2, raw=raw)
    decoded = imageio.decode(data, max_pixels=BIG)
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape == (48, 64, 3)
    assert np.abs(decoded.pixels.astype(int) - src).max() <= 1


def test_decode_cmyk_jpeg_becomes_rgb() -> None:
    src = photo("astronaut")
    data = encode_pil(Image.fromarray(src).convert("CMYK"), "JPEG", quality=95)
    decoded = imageio.decode(data, max_pixels=BIG)
    assert decoded.format == "jpeg"
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape == (512, 512, 3)
    assert close(decoded.pixels, src, 4)
    assert np.abs(decoded.pixels.mean(axis=(0, 1)) - src.mean(axis=(0, 1))).max() < 2


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_decode_rgba_keeps_alpha(fmt: str) -> None:
    rgb = photo("chelsea")
    h, w = rgb.shape[:2]
    alpha = np.tile(np.linspace(0, 255, w).round().astype(np.uint8), (h, 1))
    rgba = np.dstack([rgb, alpha])
    decoded = imageio.decode(
        encode_pil(Image.fromarray(rgba), fmt, **({"lossless": True} if fmt == "WEBP" else {})), max_pixels=BIG
    )
    px = decoded.pixels
    assert px.dtype == np.uint8 and px.shape == (h, w, 4)
    assert np.array_equal(px[:, :, 3], alpha)
    opaque = alpha == 255
    assert np.array_equal(px[:, :, :3][opaque], rgb[opaque])


def test_decode_gray_with_alpha_becomes_rgba() -> None:
    cam = photo("camera")
    la = Image.merge("LA", [Image.fromarray(cam), Image.fromarray(np.full_like(cam, 77))])
    px = imageio.decode(encode_pil(la, "PNG"), max_pixels=BIG).pixels
    assert px.shape == (512, 512, 4) and px.dtype == np.uint8
    assert (px[:, :, 3] == 77).all()
    assert np.array_equal(px[:, :, 0], cam) and np.array_equal(px[:, :, 1], cam)


def test_decode_broken_icc_profile_is_ignored() -> None:
    src = photo("coffee")
    data = encode_pil(Image.fromarray(src), "JPEG", quality=92, icc_profile=b"not really an ICC profile")
    decoded = imageio.decode(data, max_pixels=BIG)
    assert close(decoded.pixels, src, 4)


def test_decode_srgb_icc_profile_keeps_colours() -> None:
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = photo("coffee")
    decoded = imageio.decode(encode_pil(Image.fromarray(src), "PNG", icc_profile=srgb), max_pixels=BIG)
    assert decoded.pixels.shape == src.shape
    assert np.abs(decoded.pixels.astype(int) - src).mean() < 1.5


# --- decode: orientation ----------------------------------------------------------------------
def oriented_jpeg(orientation: int, size: tuple[int, int] = (100, 50), exif: bytes | None = None) -> bytes:
    """A ``size`` image stored as is, with a red block in its stored top-left corner."""
    w, h = size
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, :] = (30, 90, 200)
    arr[:20, :20] = (255, 0, 0)
    if exif is None:
        tags = Image.Exif()
        tags[0x0112] = orientation
        exif = tags.tobytes()
    return encode_pil(Image.fromarray(arr), "JPEG", quality=95, exif=exif)


def is_red(block: np.ndarray) -> bool:
    r, g, b = block.reshape(-1, 3).astype(int).mean(axis=0)
    return r > 200 and g < 60 and b < 60


def test_decode_exif_orientation_6_is_applied() -> None:
    decoded = imageio.decode(oriented_jpeg(6), max_pixels=BIG)
    px = decoded.pixels
    assert px.shape == (100, 50, 3)  # 50 wide, 100 tall
    assert (decoded.source_width, decoded.source_height) == (50, 100)
    # orientation 6: rotate 90 degrees clockwise, so the stored top-left lands top-right
    assert is_red(px[3:17, 33:47])
    assert not is_red(px[3:17, 3:17]) and not is_red(px[83:97, 3:17])


@pytest.mark.parametrize(
    ("orientation", "shape", "red_corner"),
    [
        (1, (50, 100, 3), "top-left"),
        (3, (50, 100, 3), "bottom-right"),
        (8, (100, 50, 3), "bottom-left"),
    ],
)
def test_decode_other_exif_orientations(orientation: int, shape: tuple[int, ...], red_corner: str) -> None:
    px = imageio.decode(oriented_jpeg(orientation), max_pixels=BIG).pixels
    assert px.shape == shape
    h, w = shape[:2]
    corners = {
        "top-left": px[3:17, 3:17],
        "top-right": px[3:17, w - 17 : w - 3],
        "bottom-left": px[h - 17 : h - 3, 3:17],
        "bottom-right": px[h - 17 : h - 3, w - 17 : w - 3],
    }
    assert [k for k, block in corners.items() if is_red(block)] == [red_corner]


def test_decode_exif_orientation_6_in_webp_and_png() -> None:
    tags = Image.Exif()
    tags[0x0112] = 6
    arr = np.asarray(Image.fromarray(photo("coffee")).resize((100, 50)))
    for fmt, options in [("PNG", {}), ("WEBP", {"lossless": True})]:
        px = imageio.decode(encode_pil(Image.fromarray(arr), fmt, exif=tags.tobytes(), **options), max_pixels=BIG).pixels
        assert px.shape == (100, 50, 3), fmt
        assert np.array_equal(px, np.rot90(arr, k=-1)), fmt


# --- decode: limits and bad input ------------------------------------------------------------------
def test_decode_header_declaring_too_many_pixels_is_refused_without_decoding() -> None:
    bomb = png_by_hand(65000, 65000)  # a header only: decoding it would fail as truncated
    assert len(bomb) < 100
    with pytest.raises(ImageTooLarge):
        imageio.decode(bomb, max_pixels=50_000_000)


def test_decode_pixel_limit_is_ours_below_pillows_guard() -> None:
    # 12000 x 12000 = 144 MP: under Pillow's 200 MP guard, over our configured 50 MP
    header_only = png_by_hand(12000, 12000)
    with pytest.raises(ImageTooLarge, match=r"12000x12000.*\b144 MP.*limit is 50 MP"):
        imageio.decode(header_only, max_pixels=50_000_000)
    # the same header within the limit reaches the decoder, which finds no pixel data
    with pytest.raises(InvalidImage):
        imageio.decode(header_only, max_pixels=150_000_000)


def test_decode_pixel_limit_counts_real_photo() -> None:
    data = photo_file("coffee", "PNG")  # 600 x 400 = 240 000 px
    with pytest.raises(ImageTooLarge):
        imageio.decode(data, max_pixels=239_999)
    assert imageio.decode(data, max_pixels=240_000).pixels.shape == (400, 600, 3)


def test_decode_text_named_jpg_is_unsupported() -> None:
    text = b"This is not a photo, just a note saved as holiday.jpg\n"
    with pytest.raises(UnsupportedImage, match="it looks like text"):
        imageio.decode(text, max_pixels=BIG)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"\x00\x00\x00\x1cftypmsf1" + b"\x00" * 20, "HEIF image sequence"),
    ],
)
def test_decode_other_unsupported_inputs(data: bytes, message: str) -> None:
    with pytest.raises(UnsupportedImage, match=message):
        imageio.decode(data, max_pixels=BIG)


@pytest.mark.parametrize("keep", [0.5, 0.1, 0.02])
def test_decode_truncated_jpeg_is_invalid(keep: float) -> None:
    data = photo_file("astronaut", "JPEG", quality=90)
    with pytest.raises(InvalidImage):
        imageio.decode(data[: int(len(data) * keep)], max_pixels=BIG)


def test_decode_jpeg_magic_with_garbage_is_invalid() -> None:
    with pytest.raises(InvalidImage, match="JPEG"):
        imageio.decode(b"\xff\xd8\xff" + bytes(range(256)) * 4, max_pixels=BIG)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF", "TIFF", "BMP"])
def test_decode_truncated_other_formats_are_invalid(fmt: str) -> None:
    data = photo_file("coffee", fmt)
    with pytest.raises(InvalidImage):
        imageio.decode(data[: len(data) // 3], max_pixels=BIG)


def test_decode_errors_are_permanent() -> None:
    for cls in (InvalidImage, UnsupportedImage, ImageTooLarge):
        assert issubclass(cls, PermanentError)


# --- decode: JPEG shrink-on-load -----------------------------------------------------------------
def test_decode_jpeg_size_hint_shrinks_on_load() -> None:
    data = photo_file("coffee", "JPEG", size=(1200, 800), quality=90)
    seen: list[tuple[int, int]] = []

    def hint(w: int, h: int) -> tuple[int, int]:
        seen.append((w, h))
        return (150, 100)

    decoded = imageio.decode(data, max_pixels=BIG, size_hint=hint)
    assert seen == [(1200, 800)]
    h, w = decoded.pixels.shape[:2]
    assert (w, h) == (150, 100)  # DCT scaling by 1/8
    assert (decoded.source_width, decoded.source_height) == (1200, 800)
    full = imageio.decode(data, max_pixels=BIG).pixels
    assert full.shape == (800, 1200, 3)
    reference = np.asarray(Image.fromarray(full).resize((150, 100), Image.Resampling.BOX))
    assert close(decoded.pixels, reference, 4)


def test_decode_jpeg_size_hint_never_below_the_hint() -> None:
    data = photo_file("coffee", "JPEG", size=(1200, 800))
    px = imageio.decode(data, max_pixels=BIG, size_hint=lambda w, h: (290, 190)).pixels
    h, w = px.shape[:2]
    assert 290 <= w <= 600 and 190 <= h <= 400  # smaller than the source, never below the hint


def test_decode_jpeg_size_hint_none_or_larger_decodes_full() -> None:
    data = photo_file("coffee", "JPEG", size=(1200, 800))
    assert imageio.decode(data, max_pixels=BIG, size_hint=lambda w, h: None).pixels.shape == (800, 1200, 3)
    assert imageio.decode(data, max_pixels=BIG, size_hint=lambda w, h: (2400, 1600)).pixels.shape == (800, 1200, 3)


def test_decode_jpeg_size_hint_with_orientation_6_uses_upright_size() -> None:
    data = oriented_jpeg(6, size=(800, 400))  # upright 400 x 800
    seen: list[tuple[int, int]] = []

    def hint(w: int, h: int) -> tuple[int, int]:
        seen.append((w, h))
        return (100, 200)

    decoded = imageio.decode(data, max_pixels=BIG, size_hint=hint)
    assert seen == [(400, 800)]
    assert decoded.pixels.shape == (200, 100, 3)
    assert is_red(decoded.pixels[1:4, 96:99])


def test_decode_size_hint_ignored_for_png() -> None:
    data = photo_file("coffee", "PNG", size=(1200, 800))
    assert imageio.decode(data, max_pixels=BIG, size_hint=lambda w, h: (150, 100)).pixels.shape == (800, 1200, 3)


# --- encode -----------------------------------------------------------------------------------
def decoded_with_gps() -> np.ndarray:
    data = oriented_jpeg(1, size=(120, 80), exif=exif_with_gps())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input does carry GPS
    return imageio.decode(data, max_pixels=BIG).pixels


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_encode_strips_exif_and_gps(fmt: str) -> None:
    body = imageio.encode(decoded_with_gps(), OutputSpec(format=fmt))
    out = Image.open(io.BytesIO(body))
    assert out.format == {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt]
    assert "exif" not in out.info and "xmp" not in out.info
    assert len(out.getexif()) == 0
    assert not out.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif" not in body and b"eXIf" not in body and b"SpyCam" not in body


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_encode_round_trips_pixels(fmt: str) -> None:
    src = photo("chelsea")
    body = imageio.encode(src, OutputSpec(format=fmt, quality=95))
    assert imageio.sniff(body[: imageio.SNIFF_BYTES]) == fmt
    back = imageio.decode(body, max_pixels=BIG).pixels
    assert close(back, src, 0 if fmt == "png" else 4)


def test_encode_quality_changes_jpeg_size() -> None:
    src = photo("astronaut")
    small = imageio.encode(src, OutputSpec(format="jpeg", quality=30))
    large = imageio.encode(src, OutputSpec(format="jpeg", quality=95))
    assert len(small) < 0.6 * len(large)


def test_encode_rgba_to_jpeg_flattens_on_white() -> None:
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[:, :, :3] = (230, 20, 20)
    rgba[:, 30:, 3] = 255  # left half fully transparent
    body = imageio.encode(rgba, OutputSpec(format="jpeg", quality=95))
    out = np.asarray(Image.open(io.BytesIO(body)))
    assert out.shape == (40, 60, 3)
    assert out[5:35, 2:25].min() > 245  # white
    assert is_red(out[5:35, 35:58])


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_encode_rgba_keeps_alpha(fmt: str) -> None:
    rgba = np.dstack([photo("coffee"), np.tile(np.linspace(0, 255, 600).astype(np.uint8), (400, 1))])
    out = Image.open(io.BytesIO(imageio.encode(rgba, OutputSpec(format=fmt, quality=100))))
    assert out.mode == "RGBA"
    assert np.abs(np.asarray(out)[:, :, 3].astype(int) - rgba[:, :, 3]).max() <= 2


# --- pipeline.render -------------------------------------------------------------------------
def thumbnail_ops(**params: Any) -> tuple[OperationSpec, ...]:
    return validate_operations([{"op": "thumbnail", "params": params}])


def test_render_thumbnail_of_jpeg_gives_requested_size() -> None:
    data = photo_file("astronaut", "JPEG", quality=90)  # 512 x 512
    r = render(data, thumbnail_ops(width=128), OutputSpec(), max_pixels=BIG, max_bytes=10_000_000)
    assert (r.width, r.height) == (128, 128)
    assert r.content_type == "image/jpeg" and r.source_format == "jpeg"
    out = Image.open(io.BytesIO(r.body))
    assert out.format == "JPEG" and out.size == (128, 128)
    assert r.seconds >= 0


def test_render_thumbnail_cover_of_jpeg() -> None:
    data = photo_file("coffee", "JPEG", size=(1200, 800))
    r = render(
        data, thumbnail_ops(width=200, height=200, fit="cover"), OutputSpec(format="png"), max_pixels=BIG, max_bytes=10_000_000
    )
    assert (r.width, r.height) == (200, 200)
    assert Image.open(io.BytesIO(r.body)).size == (200, 200)
    assert r.content_type == "image/png"


@pytest.mark.parametrize(
    ("source", "params", "expected"),
    [
        ((1000, 667), {"width": 150, "height": 64}, (96, 64)),
        ((999, 1501), {"width": 150}, (150, 225)),
        ((1203, 805), {"height": 250, "fit": "cover"}, (374, 250)),
    ],
)
def test_render_thumbnail_of_jpeg_keeps_source_aspect(source: tuple[int, int], params: dict, expected: tuple[int, int]) -> None:
    """The JPEG (shrink-on-load) path gives the size the source's aspect ratio calls for -
    the same size as the same photo stored losslessly."""
    operations = thumbnail_ops(**params)
    jpeg = photo_file("coffee", "JPEG", size=source, quality=85)
    png = photo_file("coffee", "PNG", size=source)
    from_png = render(png, operations, OutputSpec(format="png"), max_pixels=BIG, max_bytes=50_000_000)
    from_jpeg = render(jpeg, operations, OutputSpec(format="png"), max_pixels=BIG, max_bytes=50_000_000)
    assert (from_png.width, from_png.height) == expected
    assert (from_jpeg.width, from_jpeg.height) == expected


def test_render_shrink_on_load_only_for_leading_thumbnail() -> None:
    assert shrink_on_load_hint(()) is None
    assert shrink_on_load_hint(validate_operations([{"op": "contrast"}, {"op": "thumbnail", "params": {"width": 9}}])) is None
    hint = shrink_on_load_hint(thumbnail_ops(width=100))
    assert hint is not None and hint(1000, 500) == (100, 50)


def test_render_applies_operations_in_order() -> None:
    data = photo_file("coffee", "PNG")  # 600 x 400
    operations = validate_operations(
        [
            {"op": "crop", "params": {"aspect": "1:1"}},
            {"op": "thumbnail", "params": {"width": 100}},
            {"op": "contrast", "params": {"method": "clahe"}},
        ]
    )
    r = render(data, operations, OutputSpec(format="webp"), max_pixels=BIG, max_bytes=10_000_000)
    assert (r.width, r.height) == (100, 100)
    assert r.content_type == "image/webp" and r.source_format == "png"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"definitely not an image", UnsupportedImage),
        (b"", UnsupportedImage),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, InvalidImage),
        (png_by_hand(65000, 65000), ImageTooLarge),
    ],
)
def test_render_bad_bytes_is_permanent(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        render(data, thumbnail_ops(width=64), OutputSpec(), max_pixels=50_000_000, max_bytes=10_000_000)
    assert isinstance(info.value, PermanentError)


def test_render_truncated_jpeg_is_permanent() -> None:
    data = photo_file("astronaut", "JPEG")
    with pytest.raises(PermanentError):
        render(data[: len(data) // 2], thumbnail_ops(width=64), OutputSpec(), max_pixels=BIG, max_bytes=10_000_000)


def test_render_file_over_byte_limit_is_permanent() -> None:
    data = photo_file("astronaut", "JPEG")
    with pytest.raises(ImageTooLarge, match="limit"):
        render(data, thumbnail_ops(width=64), OutputSpec(), max_pixels=BIG, max_bytes=len(data) - 1)


def test_render_bad_parameters_are_permanent() -> None:
    data = photo_file("astronaut", "JPEG")
    bad = (OperationSpec("thumbnail", {"width": 0}),)
    with pytest.raises(ValidationError):
        render(data, bad, OutputSpec(), max_pixels=BIG, max_bytes=10_000_000)
    with pytest.raises(ValidationError):
        render(data, (OperationSpec("crop", {"box": [5000, 5000, 10, 10]}),), OutputSpec(), max_pixels=BIG, max_bytes=10_000_000)


def test_auto_output_keeps_png_transparency_and_gif_becomes_png_or_jpeg() -> None:
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :15, 3] = 255  # left half opaque, right half transparent
    png = encode_pil(Image.fromarray(rgba, "RGBA"), "PNG")
    r = render(png, thumbnail_ops(width=30), OutputSpec(), max_pixels=BIG, max_bytes=10_000_000)
    assert r.content_type == "image/png"
    with Image.open(io.BytesIO(r.body)) as out:
        assert out.mode == "RGBA" and out.getpixel((25, 10))[3] == 0 and out.getpixel((5, 10))[3] == 255
    jpeg = photo_file("astronaut", "JPEG", size=(64, 64))
    assert render(jpeg, thumbnail_ops(width=32), OutputSpec(), max_pixels=BIG, max_bytes=10_000_000).content_type == "image/jpeg"
    gif = encode_pil(Image.fromarray(photo("astronaut")).resize((40, 40)).convert("P"), "GIF")
    assert imageio.output_for(gif, OutputSpec()).format == "jpeg"  # no transparency: a photo-like JPEG
    clear = Image.fromarray(photo("astronaut")).resize((40, 40)).convert("P")
    clear.info["transparency"] = 0
    assert imageio.output_for(encode_pil(clear, "GIF", transparency=0), OutputSpec()).format == "png"
