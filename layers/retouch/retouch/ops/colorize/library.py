"""The reference library for ``colorize`` (``mode=auto`` without a model): build, load, retrieve.

No trained colorization weights can be installed here, so automatic colorization retrieves the
library photos whose *luminance* looks most like the target's and transfers their colour with the
exemplar method of :mod:`retouch.ops.colorize` (after Welsh, Ashikhmin & Mueller, SIGGRAPH 2002).
Retrieval by global descriptors of the luminance follows the spirit of Liu et al., "Intrinsic
colorization" (SIGGRAPH Asia 2008) and Chia et al., "Semantic colorization with internet images"
(2011), reduced to two cheap descriptors:

* a 16-bin histogram of CIE L* (tonal distribution), compared with the chi-squared distance;
* a GIST-like layout descriptor (Oliva & Torralba, IJCV 2001, simplified): gradient energy in
  8 unsigned orientations on a 4x4 grid of a 64x64 thumbnail (128 numbers, L2-normalised),
  compared with the Euclidean distance.

The library file is an ``.npz`` (``numpy.savez_compressed``) holding, per photo, a Lab thumbnail
(longest side :data:`THUMB_SIDE`, OpenCV's 8-bit Lab encoding: ``L*255/100, a+128, b+128``) and
both descriptors. It is *built* from photographs that install offline with scikit-image
(``astronaut``, ``coffee``, ``chelsea``, ``rocket``; ``camera`` is grey and useless here) plus any
image files given on the command line::

    python -m retouch.ops.colorize_library OUT.npz [EXTRA_IMAGE ...]

scikit-image is not in the Lambda layer, so the file is built at build time and shipped with the
package; at run time :func:`load_library` reads the configured path (``COLORIZE_LIBRARY_PATH``, through
the operations' settings), else the file packaged
next to this module (:data:`PACKAGED_PATH`), else builds the library in-process when scikit-image
is importable (development and tests).
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
THUMB_SIDE = 256
"""Longest side of the stored thumbnails; the colorizer matches at the same scale."""
HIST_BINS = 16
GIST_SIZE = 64
GIST_GRID = 4
GIST_ORIENTATIONS = 8
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
PACKAGED_PATH = Path(__file__).with_name("colorize_library.npz")
"""Where the layer build puts the library file (used when no library path is configured)."""


class LibraryUnavailable(RuntimeError):
    """No library file is configured or packaged, and scikit-image is not importable to build one."""


@dataclass(frozen=True)
class ReferenceLibrary:
    """Lab thumbnails and their luminance descriptors."""

    names: tuple[str, ...]
    labs: tuple[np.ndarray, ...]
    """float32 (h, w, 3) CIE Lab: L in 0..100, a and b in about -128..127."""
    hist: np.ndarray
    """(n, HIST_BINS) normalised L* histograms."""
    gist: np.ndarray
    """(n, GIST_GRID * GIST_GRID * GIST_ORIENTATIONS) L2-normalised layout descriptors."""

    def __len__(self) -> int:
        return len(self.names)


# --- colour helpers (kept here so this module does not depend on the operation module) ---------


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 CIE Lab (D65, sRGB), L in 0..100."""
    return cv2.cvtColor(np.ascontiguousarray(rgb[:, :, :3]).astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2Lab)


def fit_side(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so that the longest side is ``side`` (area averaging when shrinking)."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def lab_to_u8(lab: np.ndarray) -> np.ndarray:
    out = np.empty(lab.shape, np.float32)
    out[..., 0] = lab[..., 0] * (255.0 / 100.0)
    out[..., 1:] = lab[..., 1:] + 128.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def u8_to_lab(encoded: np.ndarray) -> np.ndarray:
    lab = encoded.astype(np.float32)
    lab[..., 0] *= 100.0 / 255.0
    lab[..., 1:] -= 128.0
    return lab


# --- descriptors ------------------------------------------------------------------------------


def luminance_histogram(lightness: np.ndarray) -> np.ndarray:
    """Normalised histogram of L* (0..100) in :data:`HIST_BINS` bins."""
    hist, _ = np.histogram(lightness, bins=HIST_BINS, range=(0.0, 100.0))
    hist = hist.astype(np.float32)
    return hist / max(float(hist.sum()), 1.0)


def gist_descriptor(lightness: np.ndarray) -> np.ndarray:
    """Gradient energy per orientation and grid cell of a 64x64 thumbnail (GIST-like)."""
    small = cv2.resize(lightness.astype(np.float32), (GIST_SIZE, GIST_SIZE), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    orientation = np.mod(np.arctan2(gy, gx), np.pi)
    bins = np.minimum((orientation / np.pi * GIST_ORIENTATIONS).astype(np.int32), GIST_ORIENTATIONS - 1)
    cell = GIST_SIZE // GIST_GRID
    rows = np.arange(GIST_SIZE) // cell
    index = (rows[:, None] * GIST_GRID + rows[None, :]) * GIST_ORIENTATIONS + bins
    descriptor = np.bincount(index.ravel(), weights=magnitude.ravel(), minlength=GIST_GRID * GIST_GRID * GIST_ORIENTATIONS)
    descriptor = descriptor.astype(np.float32)
    return descriptor / max(float(np.linalg.norm(descriptor)), 1e-6)


def describe(lightness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both descriptors of an L* image (any size; a 256-px version is plenty)."""
    return luminance_histogram(lightness), gist_descriptor(lightness)


def retrieve(library: ReferenceLibrary, lightness: np.ndarray, k: int = 2) -> list[int]:
    """Indices of the ``k`` library photos closest to ``lightness`` (L*), best first.

    Distance: chi-squared between histograms plus Euclidean distance between GIST descriptors
    (both are about 0..2, so they are simply added).
    """
    hist, gist = describe(lightness)
    chi2 = 0.5 * np.sum((library.hist - hist) ** 2 / (library.hist + hist + 1e-9), axis=1)
    layout = np.linalg.norm(library.gist - gist, axis=1)
    order = np.argsort(chi2 + layout, kind="stable")
    return [int(i) for i in order[: max(1, k)]]


# --- build / save / load ----------------------------------------------------------------------


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
    """The colour photographs bundled with scikit-image (importable in development only)."""
    from skimage import data  # build-time only: scikit-image is not in the Lambda layer

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


def read_library(path: str | Path) -> ReferenceLibrary:
    with np.load(path, allow_pickle=False) as data:
        version = int(data["version"])
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: library format {version}, expected {FORMAT_VERSION}; rebuild it")
        names = tuple(str(n) for n in data["names"])
        labs = tuple(u8_to_lab(data[f"lab_{i}"]) for i in range(len(names)))
        return ReferenceLibrary(names, labs, data["hist"].astype(np.float32), data["gist"].astype(np.float32))


@functools.lru_cache(maxsize=4)
def _cached_library(path: str | None) -> ReferenceLibrary:
    if path is not None:
        return read_library(path)
    try:
        return build_library()
    except ImportError as exc:
        raise LibraryUnavailable(
            "no colorize reference library: set COLORIZE_LIBRARY_PATH or ship "
            f"{PACKAGED_PATH.name} with the package (build it with python -m retouch.ops.colorize_library)"
        ) from exc


def packaged_path() -> str | None:
    """The library file shipped with the package, if the build put one there."""
    return str(PACKAGED_PATH) if PACKAGED_PATH.is_file() else None


def load_library(path: str | None = None) -> ReferenceLibrary:
    """The library at ``path`` (the ``colorize_library_path`` setting; default: the packaged
    file), or one built in-process from scikit-image's photos when no file exists. Cached per
    path.

    :raises LibraryUnavailable: no file and no scikit-image.
    """
    return _cached_library(path if path is not None else packaged_path())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m retouch.ops.colorize_library",
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
