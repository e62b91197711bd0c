"""Which local files are images, and what to call their outputs."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from pathlib import Path

from retouch.sniff import SNIFF_BYTES, sniff

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".avif"}
SNIFFED_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "avif": "image/avif",
}


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory means the images directly inside it (by suffix, sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(c for c in p.iterdir() if c.is_file() and c.suffix.lower() in IMAGE_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
    return out


def content_type(path: Path) -> str:
    """The image/* type to declare: sniffed from the bytes, else guessed from the name.

    Files that are not images are still declared as ``image/*`` and sent, so the service
    rejects them with its own readable reason rather than the client guessing.
    """
    with path.open("rb") as fh:
        fmt = sniff(fh.read(SNIFF_BYTES))
    if fmt:
        return SNIFFED_TYPES[fmt]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed if guessed and guessed.startswith("image/") else "image/x-unknown"


def output_names(inputs: list[Path], extension: str) -> list[str]:
    """``<stem>.<ext>`` for each input; repeated stems get ``-2``, ``-3`` ... in input order."""
    seen: dict[str, int] = {}
    names = []
    for p in inputs:
        stem = p.stem or "image"
        key = stem.lower()
        seen[key] = seen.get(key, 0) + 1
        names.append(f"{stem}.{extension}" if seen[key] == 1 else f"{stem}-{seen[key]}.{extension}")
    return names
