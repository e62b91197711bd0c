"""The reference library for ``colorize`` (``mode=auto`` without a model): load and retrieve.

Automatic colorization without a model retrieves the library photos whose *luminance* looks
most like the target's and transfers their colour with the exemplar method of
:mod:`retouch.ops.colorize.reference` (after Welsh, Ashikhmin & Mueller, SIGGRAPH 2002).
Retrieval by global descriptors of the luminance follows the spirit of Liu et al., "Intrinsic
colorization" (SIGGRAPH Asia 2008) and Chia et al., "Semantic colorization with internet images"
(2011), reduced to two cheap descriptors:

* a 16-bin histogram of CIE L* (tonal distribution), compared with the chi-squared distance;
* a GIST-like layout descriptor (Oliva & Torralba, IJCV 2001, simplified): gradient energy in
  8 unsigned orientations on a 4x4 grid of a 64x64 thumbnail (128 numbers, L2-normalised),
  compared with the Euclidean distance.

The library file is an ``.npz`` (``numpy.savez_compressed``) holding, per photo, a Lab thumbnail
(longest side :data:`THUMB_SIDE`, OpenCV's 8-bit Lab encoding: ``L*255/100, a+128, b+128``) and
both descriptors. It is *built* at build time, not here (scikit-image is not in the Lambda
layer)::

    python -m training.colorize_library OUT.npz [EXTRA_IMAGE ...]

At run time :func:`load_library` reads the configured path (``COLORIZE_LIBRARY_PATH``, through
the operations' settings), else the file packaged next to this module (:data:`PACKAGED_PATH`);
with neither it raises :class:`LibraryUnavailable`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FORMAT_VERSION = 1
THUMB_SIDE = 256
"""Longest side of the stored thumbnails; the colorizer matches at the same scale."""
HIST_BINS = 16
GIST_SIZE = 64
GIST_GRID = 4
GIST_ORIENTATIONS = 8
PACKAGED_PATH = Path(__file__).with_name("library.npz")
"""Where the layer build puts the library file (used when no library path is configured)."""


class LibraryUnavailable(RuntimeError):
    """No library file is configured or packaged."""


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


# --- colour helpers ---------------------------------------------------------------------------


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


# --- load -----------------------------------------------------------------------------------


def read_library(path: str | Path) -> ReferenceLibrary:
    with np.load(path, allow_pickle=False) as data:
        version = int(data["version"])
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: library format {version}, expected {FORMAT_VERSION}; rebuild it")
        names = tuple(str(n) for n in data["names"])
        labs = tuple(u8_to_lab(data[f"lab_{i}"]) for i in range(len(names)))
        return ReferenceLibrary(names, labs, data["hist"].astype(np.float32), data["gist"].astype(np.float32))


@functools.lru_cache(maxsize=4)
def _cached_library(path: str) -> ReferenceLibrary:
    return read_library(path)


def packaged_path() -> str | None:
    """The library file shipped with the package, if the build put one there."""
    return str(PACKAGED_PATH) if PACKAGED_PATH.is_file() else None


def load_library(path: str | None = None) -> ReferenceLibrary:
    """The library at ``path`` (the ``colorize_library_path`` setting; default: the packaged
    file). Cached per path.

    :raises LibraryUnavailable: no path is configured and no file is packaged.
    """
    path = path if path is not None else packaged_path()
    if path is None:
        raise LibraryUnavailable(
            "no colorize reference library: set COLORIZE_LIBRARY_PATH or ship "
            f"{PACKAGED_PATH.name} with the package (build it with python -m training.colorize_library)"
        )
    return _cached_library(path)
