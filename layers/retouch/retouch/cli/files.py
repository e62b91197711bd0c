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
    "heic": "image/heic",
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


def collect_inputs(paths: Iterable[Path], *, recursive: bool = False) -> tuple[list[tuple[Path, str]], list[dict[str, str]]]:
    """``(path, name relative to its folder)`` for every image to process, and the files skipped
    (with the reason). Files named on the command line are taken whatever their name; in a folder,
    files with an image suffix (with ``recursive``, in its subfolders too, keeping the structure in
    the relative name). Raises ``FileNotFoundError`` for a path that does not exist."""
    found: list[tuple[Path, str]] = []
    skipped: list[dict[str, str]] = []
    for p in paths:
        if p.is_dir():
            children = sorted(p.rglob("*") if recursive else p.iterdir())
            for c in children:
                if not c.is_file():
                    continue
                if c.name.startswith("."):
                    skipped.append({"path": str(c), "reason": "hidden file"})
                elif c.suffix.lower() in IMAGE_SUFFIXES:
                    found.append((c, str(c.relative_to(p))))
                else:
                    skipped.append({"path": str(c), "reason": f"not an image file name ({c.suffix or 'no suffix'})"})
        elif p.is_file():
            found.append((p, p.name))
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
    seen: set[Path] = set()
    unique = []
    for path, rel in found:  # a file named twice (or inside a folder also named) is one input
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append((path, rel))
    return unique, skipped


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


def unique_names(wanted: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """Each wanted name, or ``<stem>-2<ext>``, ``-3`` ... when it (case-insensitively) is taken,
    by a name in ``taken`` or an earlier one - so ``a.jpg``, ``a.png`` and ``a-2.jpg`` never
    collide, whatever their order."""
    used = {t.lower() for t in taken}
    names = []
    for name in wanted:
        path = Path(name)
        candidate, n = name, 1
        while candidate.lower() in used:
            n += 1
            candidate = str(path.with_name(f"{path.stem}-{n}{path.suffix}"))
        used.add(candidate.lower())
        names.append(candidate)
    return names
