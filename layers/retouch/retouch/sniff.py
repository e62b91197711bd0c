"""Which image format a file is, from its first bytes - no image library needed.

Used by enqueue (which runs without the image layer) and by :mod:`retouch.imageio`.
"""

from __future__ import annotations

import zlib

SNIFF_BYTES = 512
"""How many leading bytes :func:`sniff` and :func:`describe_head` read (enough to tell text
from binary data)."""

SUPPORTED = ("jpeg", "png", "webp", "gif", "tiff", "bmp", "avif", "heic")

HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1")
"""ISO media brands of HEIF still images coded with HEVC (what iPhones write)."""


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
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic TIFF and BigTIFF
        return "tiff"
    if head[:2] == b"BM" and len(head) >= 14:
        return "bmp"
    if head[4:8] == b"ftyp" and (head[8:12] in (b"avif", b"avis") or b"avif" in head[16:32]):
        return "avif"
    if head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return "heic"
    return None


_ISO_BRANDS: dict[bytes, str] = {
    b"hevc": "a HEIC image sequence (burst or live photo), not a still photo",
    b"hevx": "a HEIC image sequence (burst or live photo), not a still photo",
    b"msf1": "a HEIF image sequence, not a still photo",
    b"crx ": "a Canon CR3 camera raw file",
    b"jxl ": "a JPEG XL image",
    b"qt  ": "a QuickTime video",
    b"isom": "an MP4 video",
    b"iso2": "an MP4 video",
    b"mp41": "an MP4 video",
    b"mp42": "an MP4 video",
    b"M4V ": "an MP4 video",
    b"M4A ": "an MP4 audio file",
    b"3gp4": "a 3GP video",
    b"3gp5": "a 3GP video",
}
"""ISO media (``ftyp`` box) brands, by what a person would call the file."""

_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"8BPS", "a Photoshop document (PSD)"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image"),
    (0, b"\xffO\xffQ", "a JPEG 2000 codestream"),
    (0, b"\xff\x0a", "a JPEG XL image"),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "a JPEG XL image"),
    (0, b"%PDF-", "a PDF document"),
    (0, b"%!PS", "a PostScript or EPS file"),
    (0, b"\xc5\xd0\xd3\xc6", "an EPS file"),
    (0, b"gimp xcf", "a GIMP image (XCF)"),
    (0, b"v/1\x01", "an OpenEXR image"),
    (0, b"qoif", "a QOI image"),
    (0, b"DDS ", "a DirectDraw texture (DDS)"),
    (0, b"icns", "a macOS icon (ICNS)"),
    (0, b"\x00\x00\x01\x00", "a Windows icon (ICO)"),
    (0, b"\x00\x00\x02\x00", "a Windows cursor (CUR)"),
    (0, b"FUJIFILMCCD-RAW", "a Fujifilm RAF camera raw file"),
    (0, b"IIRO", "an Olympus ORF camera raw file"),
    (0, b"IIU\x00", "a Panasonic RW2 camera raw file"),
    (0, b"PK\x03\x04", "a ZIP archive (or a document packed as one, like DOCX or ODT)"),
    (0, b"PK\x05\x06", "an empty ZIP archive"),
    (0, b"\x1f\x8b", "a gzip-compressed file"),
    (0, b"BZh", "a bzip2-compressed file"),
    (0, b"\xfd7zXZ\x00", "an xz-compressed file"),
    (0, b"(\xb5/\xfd", "a zstd-compressed file"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (0, b"ID3", "an MP3 audio file"),
    (0, b"OggS", "an Ogg audio or video file"),
    (0, b"fLaC", "a FLAC audio file"),
    (0, b"\x1aE\xdf\xa3", "a Matroska or WebM video"),
    (0, b"\x7fELF", "a Linux program (ELF)"),
    (0, b"MZ", "a Windows program (EXE or DLL)"),
    (0, b"\xca\xfe\xba\xbe", "a Java class or macOS program"),
    (0, b"SQLite format 3\x00", "an SQLite database"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office document"),
    (0, b"{\\rtf", "an RTF document"),
)
"""Formats people upload by mistake, by their magic numbers: (offset, bytes, description)."""

_RIFF_KINDS = {b"WAVE": "a WAV audio file", b"AVI ": "an AVI video", b"ACON": "an animated Windows cursor"}
_TIFF_RAW = {b"CR": "a Canon CR2 camera raw file"}


def identify(head: bytes) -> str | None:
    """What an unsupported file is, from its magic number (``None`` if it is not known)."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return _ISO_BRANDS.get(brand, f"an ISO media file (brand {brand.decode('latin-1')!r}, such as a video or HEIF)")
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    if head[:4] in (b"II*\x00", b"MM\x00*") and head[8:10] in _TIFF_RAW:
        return _TIFF_RAW[head[8:10]]
    for offset, magic, description in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return description
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in head.lower():
        return "an SVG drawing (vector graphics)"
    if text.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML)"
    return None


def describe_head(head: bytes) -> str:
    """A short human description of unrecognised leading bytes, for error messages."""
    if not head:
        return "the file is empty"
    known = identify(head)
    if known is not None:
        return f"it is {known}"
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
