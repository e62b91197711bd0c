"""A hostile upload corpus, built from scratch: (name, bytes, expected outcome).

Expected outcome is ``"fail"`` (must fail with a readable reason) or ``"ok"`` (valid but
hostile: must succeed or fail cleanly, within the time and memory budget).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

BIG = 65000


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_bomb(width: int = BIG, height: int = BIG) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def gif_header_bomb() -> bytes:
    screen = struct.pack("<HHBBB", BIG, BIG, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, BIG, BIG, 0)
    return b"GIF89a" + screen + descriptor + b"\x02\x02\x44\x01\x00" + b"\x3b"


def small_jpeg(size: tuple[int, int] = (64, 48), **options: object) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "JPEG", **options)
    return buf.getvalue()


def jpeg_header_bomb() -> bytes:
    data = bytearray(small_jpeg())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65000, 65000)
    return bytes(data)


def bmp_header_bomb() -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, BIG, BIG, 1, 24, 0, 0, 2835, 2835, 0, 0)
    header = b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54)
    return header + info + b"\x00" * 16


def tiff_header_bomb() -> bytes:
    entries = [
        (256, 4, 1, BIG),
        (257, 4, 1, BIG),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8),
        (277, 3, 1, 1),
        (278, 4, 1, BIG),
        (279, 4, 1, 16),
    ]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\x00\x00\x00\x00"
    return b"II*\x00" + struct.pack("<I", 8 + 16) + b"\x00" * 16 + ifd


def webp_canvas_bomb() -> bytes:
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (16383).to_bytes(3, "little") + (16383).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def animated_gif(frames: int = 3000) -> bytes:
    rng = np.random.default_rng(1)
    images = [Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8), "L").convert("P") for _ in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=10, loop=0)
    return buf.getvalue()


def jpeg_with_huge_exif() -> bytes:
    data = small_jpeg()
    segment = b"Exif\x00\x00" + b"II*\x00\x08\x00\x00\x00" + b"\x00" * 65000
    app1 = b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment
    return data[:2] + app1 * 16 + data[2:]  # ~1 MB of EXIF in 16 segments


def jpeg_with_huge_icc() -> bytes:
    data = small_jpeg()
    chunks = []
    body = b"\x00" * (60000 * 20)  # a 1.2 MB "profile" that is not a profile
    parts = [body[i : i + 60000] for i in range(0, len(body), 60000)]
    for n, part in enumerate(parts, 1):
        seg = b"ICC_PROFILE\x00" + bytes([n, len(parts)]) + part
        chunks.append(b"\xff\xe2" + struct.pack(">H", len(seg) + 2) + seg)
    return data[:2] + b"".join(chunks) + data[2:]


def polyglot_jpeg_zip() -> bytes:
    """A valid JPEG with a ZIP archive appended (a classic polyglot)."""
    buf = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("payload.sh", "#!/bin/sh\necho pwned\n")
    return small_jpeg() + buf.getvalue()


def polyglot_gif_script() -> bytes:
    """'GIF89a' followed by script text: a GIF header on something that is not an image."""
    return b"GIF89a/*" + b"\x00" * 8 + b"*/=1;alert(document.domain);//" + b"\x00" * 32


def corrupt_jpeg() -> bytes:
    data = bytearray(small_jpeg((256, 256)))
    rng = np.random.default_rng(2)
    start = data.find(b"\xff\xda") + 20
    data[start:] = rng.integers(0, 255, len(data) - start, dtype=np.uint8).tobytes()
    return bytes(data)


def corpus() -> list[tuple[str, bytes, str]]:
    jpeg = small_jpeg((512, 384), quality=90)
    return [
        ("empty.jpg", b"", "fail"),
        ("text.jpg", b"Hello! This file is plain text with a .jpg name.\n" * 10, "fail"),
        ("html.png", b"<html><script>alert(1)</script></html>", "fail"),
        ("truncated.jpg", jpeg[: len(jpeg) // 3], "fail"),
        ("corrupt.jpg", corrupt_jpeg(), "ok"),  # garbage entropy data still decodes to noise, or fails cleanly
        ("bomb.png", png_header_bomb(), "fail"),
        ("bomb.gif", gif_header_bomb(), "fail"),
        ("bomb.jpg", jpeg_header_bomb(), "fail"),
        ("bomb.bmp", bmp_header_bomb(), "fail"),
        ("bomb.tif", tiff_header_bomb(), "fail"),
        ("bomb.webp", webp_canvas_bomb(), "fail"),
        ("animated.gif", animated_gif(), "ok"),
        ("huge-exif.jpg", jpeg_with_huge_exif(), "ok"),
        ("huge-icc.jpg", jpeg_with_huge_icc(), "ok"),
        ("polyglot.jpg", polyglot_jpeg_zip(), "ok"),
        ("polyglot.gif", polyglot_gif_script(), "fail"),
    ]
