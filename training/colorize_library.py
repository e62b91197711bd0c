"""Build the ``colorize`` reference library (build time only; nothing here runs on Lambda).

    python -m training.colorize_library OUT.npz [EXTRA_IMAGE ...]

The library (see :mod:`retouch.ops.colorize.library`, which loads and searches it at run time)
is made from the photographs that install offline with scikit-image (``astronaut``, ``coffee``,
``chelsea``, ``rocket``; ``camera`` is grey and useless here; public domain / CC0) plus any
image files given on the command line. scikit-image is a development dependency, not in the
Lambda layer, so the file is built here and shipped next to the runtime module
(:data:`retouch.ops.colorize.library.PACKAGED_PATH`) or named by ``COLORIZE_LIBRARY_PATH``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from retouch.ops.colorize.library import (
    FORMAT_VERSION,
    THUMB_SIDE,
    ReferenceLibrary,
    describe,
    fit_side,
    rgb_to_lab,
    u8_to_lab,
)

logger = logging.getLogger(__name__)

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def lab_to_u8(lab: np.ndarray) -> np.ndarray:
    """float32 Lab -> the stored 8-bit encoding (``L*255/100, a+128, b+128``)."""
    out = np.empty(lab.shape, np.float32)
    out[..., 0] = lab[..., 0] * (255.0 / 100.0)
    out[..., 1:] = lab[..., 1:] + 128.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def library_from_images(images: Iterable[tuple[str, np.ndarray]]) -> ReferenceLibrary:
    """Build a library from ``(name, uint8 RGB)`` pairs."""
    names: list[str] = []
    labs: list[np.ndarray] = []
    hists: list[np.ndarray] = []
    gists: list[np.ndarray] = []
    for name, rgb in images:
        if rgb.ndim != 3 or rgb.shape[2] < 3:
            raise ValueError(f"library image {name!r} is not a colour image (shape {rgb.shape})")
        # round-trip through the stored 8-bit encoding so built and loaded libraries are identical
        lab = u8_to_lab(lab_to_u8(rgb_to_lab(fit_side(rgb[:, :, :3], THUMB_SIDE))))
        hist, gist = describe(lab[:, :, 0])
        names.append(name)
        labs.append(lab)
        hists.append(hist)
        gists.append(gist)
    if not names:
        raise ValueError("a reference library needs at least one photo")
    return ReferenceLibrary(tuple(names), tuple(labs), np.stack(hists), np.stack(gists))


def skimage_photos() -> list[tuple[str, np.ndarray]]:
    """The colour photographs bundled with scikit-image (a development dependency)."""
    from skimage import data

    return [(name, np.asarray(getattr(data, name)())) for name in SKIMAGE_PHOTOS]


def read_photo(path: str | Path) -> tuple[str, np.ndarray]:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read image {str(path)!r}")
    return Path(path).stem, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def build_library(extra: Sequence[str | Path] = ()) -> ReferenceLibrary:
    """The default library: scikit-image's colour photos plus ``extra`` image files."""
    return library_from_images([*skimage_photos(), *(read_photo(p) for p in extra)])


def save_library(library: ReferenceLibrary, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "version": np.array(FORMAT_VERSION),
        "names": np.array(library.names),
        "hist": library.hist,
        "gist": library.gist,
    }
    for i, lab in enumerate(library.labs):
        arrays[f"lab_{i}"] = lab_to_u8(lab)
    with path.open("wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.colorize_library",
        description="Build the colorize reference library (.npz) from scikit-image's photos and optional image files.",
    )
    parser.add_argument("out", help="output .npz path")
    parser.add_argument("extra", nargs="*", help="more colour photos to include (any format OpenCV reads)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logger.info("building colorize library from %s%s", ", ".join(SKIMAGE_PHOTOS), "".join(f", {p}" for p in args.extra))
    library = build_library(args.extra)
    out = save_library(library, args.out)
    logger.info("wrote %d photos (%s) to %s (%.0f kB)", len(library), ", ".join(library.names), out, out.stat().st_size / 1024)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
