"""Which local files are images, what to call their outputs, and whether the output folder takes them."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable
from pathlib import Path

from retouch.cli.errors import EXIT_USAGE, RunError
from retouch.models import AUTO, OutputSpec
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


def collect_inputs(paths: Iterable[Path], *, recursive: bool = False) -> tuple[list[tuple[Path, str]], list[dict[str, str]]]:
    """``(path, name relative to its folder)`` for every image to process, and what was skipped
    (``{"path", "reason"}``). ``retouch run`` and ``retouch apply`` both take their inputs here.

    Files named on the command line are taken whatever their name. In a folder: files with an
    image suffix; hidden files and folders (a leading dot) are skipped, and so are subfolders
    (with ``recursive``, their images are taken, keeping the structure in the relative name;
    links to folders are not followed) and files that are not images by name. Raises
    ``FileNotFoundError`` for a path that does not exist."""
    found: list[tuple[Path, str]] = []
    skipped: list[dict[str, str]] = []
    for p in paths:
        if p.is_dir():
            _walk(p, p, recursive, found, skipped)
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


def _walk(root: Path, folder: Path, recursive: bool, found: list[tuple[Path, str]], skipped: list[dict[str, str]]) -> None:
    def skip(path: Path, reason: str) -> None:
        skipped.append({"path": str(path), "reason": reason})

    for c in sorted(folder.iterdir()):
        if c.name.startswith("."):
            skip(c, "hidden folder" if c.is_dir() else "hidden file")
        elif c.is_dir():
            if not recursive:
                skip(c, "a folder (add --recursive to take the images in it)")
            elif c.is_symlink():
                skip(c, "a link to a folder (not followed)")
            else:
                _walk(root, c, recursive, found, skipped)
        elif not c.is_file():
            skip(c, "not a regular file")
        elif c.suffix.lower() in IMAGE_SUFFIXES:
            found.append((c, str(c.relative_to(root))))
        else:
            skip(c, f"not an image file name ({c.suffix or 'no suffix'})")


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


MAX_NAME_BYTES = 255
"""The longest file name (one path component, in bytes) of common filesystems (ext4, APFS,
NTFS in UTF-16 units, which a UTF-8 byte count bounds)."""
PART_SUFFIX = ".part"
"""A download lands in ``NAME.part`` first, so an output's name leaves room for it."""


def fit_name(stem: str, tail: str) -> str:
    """``stem + tail`` (``tail``: the ``-2`` and the extension), the stem cut short (at a
    character boundary) so that the name and :data:`PART_SUFFIX` fit in :data:`MAX_NAME_BYTES`."""
    room = MAX_NAME_BYTES - len(PART_SUFFIX) - len(os.fsencode(tail))
    while stem and len(os.fsencode(stem)) > room:
        stem = stem[: -max(1, (len(os.fsencode(stem)) - room) // 4)]
    return stem + tail


def name_fits(name: str) -> bool:
    """Whether the output name's file part (and its ``.part``) fits the filesystem's limit."""
    return len(os.fsencode(Path(name).name + PART_SUFFIX)) <= MAX_NAME_BYTES


def unique_names(wanted: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """Each wanted name, or ``<stem>-2<ext>``, ``-3`` ... when it (case-insensitively) is taken,
    by a name in ``taken`` or an earlier one - so ``a.jpg``, ``a.png`` and ``a-2.jpg`` never
    collide, whatever their order. A name too long for the filesystem (with ``.part``) has its
    stem shortened, the extension kept; names shortened alike are then told apart the same way."""
    used = {t.lower() for t in taken}
    names = []
    for name in wanted:
        path = Path(name)
        candidate, n = str(path.with_name(fit_name(path.stem, path.suffix))), 1
        while candidate.lower() in used:
            n += 1
            candidate = str(path.with_name(fit_name(path.stem, f"-{n}{path.suffix}")))
        used.add(candidate.lower())
        names.append(candidate)
    return names


def check_out_dir(out_dir: Path) -> None:
    """Fail fast (before any stack starts) when the outputs cannot be written."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RunError(f"--out {out_dir} is a file, not a folder", EXIT_USAGE)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".retouch-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunError(f"cannot write to --out {out_dir}: {exc.strerror or exc}", EXIT_USAGE) from exc


def extension_for(path: Path, output: OutputSpec) -> str:
    """The output's extension for an input: the format the service will write (``auto`` is
    decided from the file's header, by the same function the process function uses)."""
    if output.format != AUTO:
        return output.extension
    from retouch import imageio

    try:
        with path.open("rb") as fh:
            return imageio.output_for(fh, output).extension
    except OSError:
        return output.resolve(None, False).extension
