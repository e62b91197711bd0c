"""Which image format a file is, from its first bytes - no image library needed.

Used by enqueue (which runs without the image layer) and by :mod:`retouch.imageio`.
"""

from __future__ import annotations

SNIFF_BYTES = 32
"""How many leading bytes :func:`sniff` needs."""

SUPPORTED = ("jpeg", "png", "webp", "gif", "tiff", "bmp", "avif")


def sniff(head: bytes) -> str | None:
    """Name the image format from its magic number, or ``None`` if it is not one we read."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM" and len(head) >= 14:
        return "bmp"
    if head[4:8] == b"ftyp" and (head[8:12] in (b"avif", b"avis") or b"avif" in head[16:32]):
        return "avif"
    return None


def describe_head(head: bytes) -> str:
    """A short human description of unrecognised leading bytes, for error messages."""
    if not head:
        return "the file is empty"
    if head[4:8] == b"ftyp":
        return f"it is an ISO media file (brand {head[8:12].decode('latin-1')!r}, e.g. HEIC or MP4), which is not supported"
    if head[:5] == b"%PDF-":
        return "it is a PDF document"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head[:32])
    if printable == len(head[:32]):
        return "it looks like text"
    return f"it starts with bytes {head[:8].hex(' ')}"


def unsupported_message(head: bytes) -> str:
    return f"not a supported image ({', '.join(s.upper() for s in SUPPORTED)}): {describe_head(head)}"
