"""Which image format a file is, from its first bytes - no image library needed.

Used by enqueue (which runs without the image layer) and by :mod:`retouch.imageio`.
"""

from __future__ import annotations

import zlib

SNIFF_BYTES = 512
"""How many leading bytes :func:`sniff` and :func:`describe_head` read (enough to tell text
from binary data)."""

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
    if looks_like_text(head):
        return "it looks like text"
    return f"it is not an image format Retouch knows (unrecognised binary data starting with {head[:8].hex(' ')})"


def looks_like_text(head: bytes) -> bool:
    """Whether ``head`` reads as writing: valid UTF-8 without control characters (but tabs and
    line breaks) and, when there is enough of it to tell, with the redundancy of language or
    markup. Random bytes fail the first test; random *printable* characters fail the second
    (they barely compress, while prose, code, JSON and HTML shrink to well under 80 %)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # only a character cut at the end is allowed
            return False
        text = head[: exc.start].decode("utf-8")
    if not text or any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in text):
        return False
    return len(head) < 128 or len(zlib.compress(head, 9)) < 0.8 * len(head)


def unsupported_message(head: bytes) -> str:
    return f"not a supported image ({', '.join(s.upper() for s in SUPPORTED)}): {describe_head(head)}"
