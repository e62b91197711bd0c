"""Colorization: give a greyscale photo plausible colours while keeping its luminance.

Everything happens in CIE Lab (D65, sRGB): the output's L* is the input's L* (only rounding to
8 bits and a gamut limit on chroma move it, by far less than one L* unit); the operation only
chooses the chroma channels a* and b*. An input that already has colour is treated the same way:
its own chroma is discarded and replaced (colorize works on the luminance of any image). Alpha is
kept.

Three modes:

* ``reference`` - exemplar-based colour transfer after Welsh, Ashikhmin & Mueller, "Transferring
  color to greyscale images" (SIGGRAPH 2002): the reference's L* is remapped to the target's
  mean and standard deviation, :data:`SAMPLES` reference pixels are taken on a jittered grid, and
  every target pixel copies the a*b* of the sample with the closest weighted luminance and 5x5
  neighbourhood standard deviation (Welsh's 50/50 weighting), plus a coarser local mean for
  context. Matching runs with the longest side at :data:`WORK_SIDE`; the chroma is then smoothed
  and brought to full resolution by an edge-aware *guided filter* with L* as guide (He, Sun &
  Tang, "Guided image filtering", ECCV 2010; the fast variant of He & Sun 2015, "Fast guided
  filter", which computes the linear coefficients at low resolution) so colours do not bleed
  across strong luminance edges.
* ``hints`` - user colour hints propagated after Levin, Lischinski & Weiss, "Colorization using
  optimization" (SIGGRAPH 2004): affinities ``w_rs = exp(-(Y_r - Y_s)^2 / (0.6 var_r))`` between
  each pixel and its 3x3 neighbours (with Levin's floors on the variance), normalised per pixel
  as in the paper's code and then symmetrised, so that the chroma minimises
  ``sum w_rs (U_r - U_s)^2`` subject to the hints. The sparse system is solved without scipy on a
  grid whose longest side is at most :data:`HINTS_SIDE`, by Jacobi-preconditioned conjugate
  gradients on 3x3 stencils, coarse to fine (each level starts from the upsampled solution of the
  level below), then upsampled with the guided filter on full-resolution L*. Only a hint's hue
  and saturation matter (its a*b*); its lightness is ignored.
* ``auto`` (default) - a learned model when ``$COLORIZE_MODEL_PATH`` names an ONNX file (see
  :func:`predict_with_model` for the exact interface, that of the exported Zhang, Isola & Efros
  "Colorful image colorization", ECCV 2016, network), run with ``cv2.dnn``. Without a model, the
  :data:`RETRIEVE` photos of the reference library (:mod:`retouch.ops.colorize_library`) whose
  luminance descriptors are closest to the input are used as references for the ``reference``
  method.

In the service, ``reference`` names another image of the same job; the pipeline loads that image
and passes its pixels to :func:`colorize` as the ``reference`` array (the registered parameter
only carries the name).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from retouch.errors import InvalidParameters, PermanentError
from retouch.ops import colorize_library
from retouch.ops.hints import Hint, parse_hints
from retouch.ops.registry import Image
from retouch.ops.specs import NEEDS_REFERENCE
from retouch.settings import _EnvSettings

WORK_SIDE = colorize_library.THUMB_SIDE
"""Longest side at which ``reference``/``auto`` matching runs (the library thumbnails' size)."""
HINTS_SIDE = 256
"""Longest side of the grid on which hints are propagated."""
SAMPLES = 2048
"""Reference pixels sampled per reference (Welsh et al. used about 200)."""
RETRIEVE = 2
"""Library photos used as references in ``auto`` mode without a model."""
MODEL_SIZE = 224
"""Side of the square L* input of the ``auto`` model."""

# guided filter settings, in units of the working grid and of (L*/100)^2
SMOOTH_RADIUS = 4
SMOOTH_EPS = 2e-3
HINTS_RADIUS = 2
HINTS_EPS = 1e-4
MODEL_EPS = 1e-3


class ColorizeModelError(PermanentError):
    """The configured colorization model is missing, unreadable or has the wrong interface."""


@dataclass(frozen=True, kw_only=True)
class ColorizeSettings(_EnvSettings):
    """``COLORIZE_MODEL_PATH``: ONNX model for ``auto`` (optional); ``COLORIZE_LIBRARY_PATH``:
    reference library ``.npz`` (optional; see :func:`colorize_library.load_library`)."""

    colorize_model_path: str = ""
    colorize_library_path: str = ""


# --- colour space -----------------------------------------------------------------------------

# sRGB (D65) XYZ -> linear RGB, and the white point, as OpenCV uses them
_XYZ_TO_RGB = np.array(
    [[3.240479, -1.53715, -0.498535], [-0.969256, 1.875991, 0.041556], [0.055648, -0.204043, 1.057311]], dtype=np.float64
)
_WHITE = np.array([0.950456, 1.0, 1.088754])
_HUE_BINS = 180


def _split_alpha(image: Image) -> tuple[np.ndarray, np.ndarray | None]:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2), None
    if image.ndim == 3 and image.shape[2] == 4:
        return image[:, :, :3], image[:, :, 3:]
    if image.ndim == 3 and image.shape[2] == 3:
        return image, None
    raise InvalidParameters(f"colorize: expected an RGB or RGBA image, got shape {image.shape}")


@functools.lru_cache(maxsize=1)
def _grey_lightness_lut() -> np.ndarray:
    grey = np.repeat(np.arange(256, dtype=np.float32)[:, None, None] / 255.0, 3, axis=2)
    return np.ascontiguousarray(cv2.cvtColor(grey, cv2.COLOR_RGB2Lab)[:, 0, 0])


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (0..100, float32) of a uint8 RGB image; a lookup table when R = G = B."""
    rgb = np.ascontiguousarray(rgb)
    r, g, b = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    if np.array_equal(r, g) and np.array_equal(g, b):
        return cv2.LUT(r, _grey_lightness_lut())
    out = np.empty(rgb.shape[:2], np.float32)
    for rows in _strips(rgb.shape[0]):  # float copies of a strip only: bounded memory at 24 MP
        strip = rgb[rows].astype(np.float32) * np.float32(1.0 / 255.0)
        out[rows] = cv2.cvtColor(strip, cv2.COLOR_RGB2Lab)[:, :, 0]
    return out


STRIP_ROWS = 512
"""Rows per strip for full-resolution colour conversions (memory stays ~O(strip))."""


def _strips(height: int) -> list[slice]:
    return [slice(y, min(height, y + STRIP_ROWS)) for y in range(0, height, STRIP_ROWS)]


def _lab_to_linear_rgb(lab: np.ndarray) -> np.ndarray:
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    delta = 6.0 / 29.0
    xyz = np.where(f > delta, f**3, 3 * delta**2 * (f - 4.0 / 29.0)) * _WHITE
    return xyz @ _XYZ_TO_RGB.T


@functools.lru_cache(maxsize=1)
def _max_chroma_table() -> np.ndarray:
    """Largest in-gamut chroma for L* = 0..100 (step 1) and hue in :data:`_HUE_BINS` steps,
    found by bisection from the grey axis and made conservative by a 3x3 minimum filter."""
    lightness_axis = np.arange(101, dtype=np.float64)[:, None]
    hue = np.arange(_HUE_BINS, dtype=np.float64)[None, :] * (2 * np.pi / _HUE_BINS)
    lo = np.zeros((101, _HUE_BINS))
    hi = np.full((101, _HUE_BINS), 200.0)
    for _ in range(24):
        mid = (lo + hi) / 2
        lab = np.stack(np.broadcast_arrays(lightness_axis, mid * np.cos(hue), mid * np.sin(hue)), axis=-1)
        rgb = _lab_to_linear_rgb(lab)
        inside = np.all((rgb >= -1e-6) & (rgb <= 1 + 1e-6), axis=-1)
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    wrapped = np.concatenate([lo[:, -1:], lo, lo[:, :1]], axis=1).astype(np.float32)
    eroded = cv2.erode(wrapped, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)[:, 1:-1]
    return np.ascontiguousarray(eroded * 0.98)


def limit_chroma(lab_l: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale a*b* down (keeping hue) where ``(L*, a*, b*)`` falls outside the sRGB gamut, so the
    conversion to RGB does not clip and L* survives. Returns the limited a* and b* planes.

    The largest chroma per (L*, hue) comes from :func:`_max_chroma_table`, read with bilinear
    ``cv2.remap`` (cheap at 12 MP)."""
    a = np.ascontiguousarray(ab[:, :, 0], dtype=np.float32)
    b = np.ascontiguousarray(ab[:, :, 1], dtype=np.float32)
    chroma, angle = cv2.cartToPolar(a, b)
    table = _max_chroma_table()
    wrapped = np.ascontiguousarray(np.concatenate([table[:, -1:], table, table[:, :1]], axis=1))
    map_x = np.asarray(angle, np.float32) * np.float32(_HUE_BINS / (2 * np.pi)) + np.float32(1.0)
    map_y = np.ascontiguousarray(lab_l, dtype=np.float32)
    limit = cv2.remap(wrapped, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    scale = np.minimum(limit / np.maximum(chroma, np.float32(1e-6)), np.float32(1.0))
    return cv2.multiply(a, scale), cv2.multiply(b, scale)


def compose(lab_l: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """uint8 RGB from L* (H, W) and a*b* (H, W, 2), with the gamut limit of :func:`limit_chroma`."""
    out = np.empty((*lab_l.shape[:2], 3), np.uint8)
    for rows in _strips(lab_l.shape[0]):
        a, b = limit_chroma(lab_l[rows], ab[rows])
        lab = cv2.merge([np.ascontiguousarray(lab_l[rows], dtype=np.float32), a, b])
        out[rows] = cv2.convertScaleAbs(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), alpha=255.0)
    return out


def colorfulness(image: Image) -> float:
    """Colourfulness metric M of Hasler & Süsstrunk, "Measuring colourfulness in natural images"
    (2003): ``sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)`` with ``rg = R - G`` and
    ``yb = (R + G) / 2 - B`` on 0..255 values. 0 for grey; about 30 is "moderately", above 60
    "quite" colourful."""
    rgb = image[:, :, :3].astype(np.float64)
    rg = rgb[:, :, 0] - rgb[:, :, 1]
    yb = 0.5 * (rgb[:, :, 0] + rgb[:, :, 1]) - rgb[:, :, 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


# --- guided filter ----------------------------------------------------------------------------


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Averaged linear coefficients ``(A, B)`` of the guided filter (He et al. 2010) for a
    single-channel float32 ``guide`` and a (H, W, C) ``src``: the output is ``A * guide + B``."""
    guide = np.ascontiguousarray(guide, dtype=np.float32)
    src = np.ascontiguousarray(src, dtype=np.float32)
    g = guide[:, :, None]
    mean_g = _box(guide, radius)[:, :, None]
    mean_s = _box(src, radius).reshape(src.shape)
    corr_gs = _box(src * g, radius).reshape(src.shape)
    var_g = _box(guide * guide, radius)[:, :, None] - mean_g * mean_g
    a = (corr_gs - mean_g * mean_s) / (np.maximum(var_g, 0) + eps)
    b = mean_s - a * mean_g
    return _box(a, radius).reshape(src.shape), _box(b, radius).reshape(src.shape)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``src`` (H, W, C) guided by ``guide`` (He et al. 2010)."""
    a, b = guided_coefficients(guide, src, radius, eps)
    return a * np.asarray(guide, np.float32)[:, :, None] + b


def guided_upsample(guide_low: np.ndarray, src_low: np.ndarray, guide_full: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Fast guided filter (He & Sun 2015): coefficients from the low-resolution ``guide_low`` and
    ``src_low``, bilinearly upsampled and applied to the full-resolution ``guide_full``."""
    a, b = guided_coefficients(guide_low, src_low, radius, eps)
    h, w = guide_full.shape[:2]
    channels = src_low.shape[2]
    out = np.empty((h, w, channels), np.float32)
    for c in range(channels):
        up_a = cv2.resize(np.ascontiguousarray(a[:, :, c]), (w, h), interpolation=cv2.INTER_LINEAR)
        up_b = cv2.resize(np.ascontiguousarray(b[:, :, c]), (w, h), interpolation=cv2.INTER_LINEAR)
        out[:, :, c] = cv2.add(cv2.multiply(up_a, guide_full), up_b)
    return out


# --- reference: Welsh et al. 2002 -------------------------------------------------------------


def _features(lab_l: np.ndarray) -> np.ndarray:
    """Per-pixel matching features: L*, 5x5 standard deviation (Welsh), 15x15 mean (context)."""
    lab_l = np.ascontiguousarray(lab_l, dtype=np.float32)
    mean5 = _box(lab_l, 2)
    std5 = np.sqrt(np.maximum(_box(lab_l * lab_l, 2) - mean5 * mean5, 0))
    mean15 = _box(lab_l, 7)
    return np.stack([lab_l, std5, mean15], axis=-1)


# Welsh et al. weight luminance and neighbourhood deviation 50/50; the coarse mean gets half that
_FEATURE_WEIGHTS = np.sqrt(np.array([0.5, 0.5, 0.25], np.float32))


def _jittered_grid(h: int, w: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    cell = max(1.0, math.sqrt(h * w / count))
    ys = np.arange(0, h, cell)
    xs = np.arange(0, w, cell)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    jy = np.minimum(gy + rng.random(gy.shape) * cell, h - 1).astype(np.intp)
    jx = np.minimum(gx + rng.random(gx.shape) * cell, w - 1).astype(np.intp)
    return jy.ravel(), jx.ravel()


def transfer_from_references(target_l: np.ndarray, references: Sequence[np.ndarray], *, seed: int = 0) -> np.ndarray:
    """Welsh et al. (2002) colour transfer: a*b* (H, W, 2) for the L* image ``target_l`` from
    float32 Lab ``references`` (same scale as the target; see the module docstring)."""
    target_l = np.asarray(target_l, np.float32)
    mu_t, sd_t = float(target_l.mean()), float(target_l.std())
    rng = np.random.default_rng(seed)
    sample_features: list[np.ndarray] = []
    sample_ab: list[np.ndarray] = []
    for ref in references:
        ref_l = ref[:, :, 0]
        mu_r, sd_r = float(ref_l.mean()), float(ref_l.std())
        remapped = (ref_l - mu_r) * (sd_t / max(sd_r, 1e-3)) + mu_t  # luminance remapping
        ys, xs = _jittered_grid(ref_l.shape[0], ref_l.shape[1], SAMPLES, rng)
        sample_features.append(_features(remapped)[ys, xs])
        sample_ab.append(ref[ys, xs, 1:])
    samples = np.concatenate(sample_features) * _FEATURE_WEIGHTS
    colours = np.concatenate(sample_ab).astype(np.float32)
    pixels = _features(target_l).reshape(-1, 3) * _FEATURE_WEIGHTS
    sample_norms = np.sum(samples * samples, axis=1)
    best = np.empty(len(pixels), np.intp)
    chunk = 16384
    for start in range(0, len(pixels), chunk):
        block = pixels[start : start + chunk]
        # |p - s|^2 = |p|^2 - 2 p.s + |s|^2; |p|^2 does not change the argmin
        best[start : start + chunk] = np.argmin(sample_norms[None, :] - 2.0 * (block @ samples.T), axis=1)
    return colours[best].reshape(*target_l.shape, 2)


def _reference_lab(reference: np.ndarray) -> np.ndarray:
    if not isinstance(reference, np.ndarray) or reference.dtype != np.uint8:
        raise InvalidParameters("colorize: the reference image must be 8-bit RGB pixels")
    rgb, _ = _split_alpha(reference)
    return colorize_library.rgb_to_lab(colorize_library.fit_side(np.ascontiguousarray(rgb), WORK_SIDE))


def _ab_from_references(full_l: np.ndarray, references: Sequence[np.ndarray]) -> np.ndarray:
    work_l = colorize_library.fit_side(full_l, WORK_SIDE)
    ab = transfer_from_references(work_l, references)
    return guided_upsample(work_l / 100.0, ab, full_l / 100.0, SMOOTH_RADIUS, SMOOTH_EPS)


# --- hints: Levin et al. 2004 -----------------------------------------------------------------


def _levin_edges(y: np.ndarray) -> list[tuple[tuple[int, int], np.ndarray]]:
    """Symmetrised, per-pixel normalised Levin affinities for the edges to the right, down,
    down-right and down-left neighbours, each as an array over the pixels that have that edge."""
    h, w = y.shape
    offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    padded = np.pad(y, 1, mode="edge")
    valid = np.pad(np.ones_like(y, dtype=bool), 1, constant_values=False)
    diffs = np.stack([(padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] - y) ** 2 for dy, dx in offsets])
    inside = np.stack([valid[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in offsets])
    mean = cv2.boxFilter(y, -1, (3, 3), borderType=cv2.BORDER_REPLICATE)
    var = cv2.boxFilter(y * y, -1, (3, 3), borderType=cv2.BORDER_REPLICATE) - mean * mean
    sigma2 = 0.6 * np.maximum(var, 0)
    smallest = np.where(inside, diffs, np.inf).min(axis=0)
    sigma2 = np.maximum(np.maximum(sigma2, smallest / math.log(100.0)), 2e-6)
    weights = np.exp(-diffs / sigma2) * inside
    weights /= np.maximum(weights.sum(axis=0), 1e-12)
    by_offset = dict(zip(offsets, weights, strict=True))
    edges = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ys0, ys1 = slice(0, h - dy), slice(dy, h)
        xs0, xs1 = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(1, w), slice(0, w - 1))
        forward = by_offset[(dy, dx)][ys0, xs0]
        backward = by_offset[(-dy, -dx)][ys1, xs1]
        edges.append(((dy, dx), (0.5 * (forward + backward)).astype(np.float32)))
    return edges


def _edge_slices(dy: int, dx: int, h: int, w: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    if dx >= 0:
        return (slice(0, h - dy), slice(0, w - dx)), (slice(dy, h), slice(dx, w))
    return (slice(0, h - dy), slice(1, w)), (slice(dy, h), slice(0, w - 1))


def _laplacian(edges: list[tuple[tuple[int, int], np.ndarray]], x: np.ndarray) -> np.ndarray:
    """``sum_s w_rs (x_r - x_s)`` for a (H, W, C) array."""
    out = np.zeros_like(x)
    h, w = x.shape[:2]
    for (dy, dx), weight in edges:
        here, there = _edge_slices(dy, dx, h, w)
        flow = weight[:, :, None] * (x[here] - x[there])
        out[here] += flow
        out[there] -= flow
    return out


def _solve_level(y: np.ndarray, fixed: np.ndarray, values: np.ndarray, x0: np.ndarray, iterations: int) -> np.ndarray:
    """Minimise ``sum w_rs (U_r - U_s)^2`` with ``U = values`` where ``fixed``: conjugate
    gradients on the free pixels, Jacobi-preconditioned, from ``x0``."""
    edges = _levin_edges(y)
    free = (~fixed)[:, :, None].astype(np.float32)
    h, w = y.shape
    degree = np.zeros((h, w), np.float32)
    for (dy, dx), weight in edges:
        here, there = _edge_slices(dy, dx, h, w)
        degree[here] += weight
        degree[there] += weight
    diagonal = (degree + 1e-6)[:, :, None]
    x = np.where(fixed[:, :, None], values, x0).astype(np.float32)

    def operator(v: np.ndarray) -> np.ndarray:
        return free * _laplacian(edges, free * v)

    residual = -free * _laplacian(edges, x)
    z = residual / diagonal
    direction = z.copy()
    rz = np.sum(residual * z, axis=(0, 1))
    start = float(np.sqrt(np.sum(residual * residual))) + 1e-12
    for _ in range(iterations):
        product = operator(direction)
        alpha = rz / np.maximum(np.sum(direction * product, axis=(0, 1)), 1e-20)
        x += alpha * direction
        residual -= alpha * product
        if float(np.sqrt(np.sum(residual * residual))) < 1e-4 * start:
            break
        z = residual / diagonal
        rz_next = np.sum(residual * z, axis=(0, 1))
        direction = z + (rz_next / np.maximum(rz, 1e-20)) * direction
        rz = rz_next
    return x


def propagate_hints(grid_l: np.ndarray, hints: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    """Levin et al. (2004) propagation of ``(x, y, a, b)`` hints (pixel coordinates of
    ``grid_l``) over the L* image ``grid_l``; coarse-to-fine CG (see the module docstring)."""
    pyramid: list[np.ndarray] = [np.asarray(grid_l, np.float32) / np.float32(100.0)]
    while min(pyramid[-1].shape) > 24:
        prev = pyramid[-1]
        pyramid.append(cv2.resize(prev, ((prev.shape[1] + 1) // 2, (prev.shape[0] + 1) // 2), interpolation=cv2.INTER_AREA))
    full_h, full_w = pyramid[0].shape
    solution: np.ndarray | None = None
    for level in reversed(pyramid):
        h, w = level.shape
        fixed = np.zeros((h, w), bool)
        values = np.zeros((h, w, 2), np.float32)
        for hx, hy, a, b in hints:
            px = min(w - 1, max(0, int(hx * w / full_w)))
            py = min(h - 1, max(0, int(hy * h / full_h)))
            fixed[py, px] = True
            values[py, px] = (a, b)
        x0: np.ndarray
        if solution is None:
            x0 = np.broadcast_to(values[fixed].mean(axis=0), (h, w, 2)).copy()
            iterations = 400
        else:
            x0 = cv2.resize(solution, (w, h), interpolation=cv2.INTER_LINEAR)
            iterations = 100 if level is not pyramid[0] else 60
        solution = _solve_level(level, fixed, values, x0, iterations)
    assert solution is not None
    return solution


def _ab_from_hints(full_l: np.ndarray, hints: Sequence[Hint]) -> np.ndarray:
    height, width = full_l.shape
    grid_l = colorize_library.fit_side(full_l, HINTS_SIDE)
    gh, gw = grid_l.shape
    points = []
    for number, hint in enumerate(hints, start=1):
        x, y = hint.pixel(width, height)
        if not (0 <= x <= width and 0 <= y <= height):
            raise InvalidParameters(
                f"colorize: hint {number} at ({hint.x:g}, {hint.y:g}) lies outside the {width}x{height} image"
            )
        swatch = np.array([[hint.rgb]], np.float32) / 255.0
        _, a, b = cv2.cvtColor(swatch, cv2.COLOR_RGB2Lab)[0, 0]
        points.append((x * gw / width, y * gh / height, float(a), float(b)))
    ab = propagate_hints(grid_l, points)
    return guided_upsample(grid_l / 100.0, ab, full_l / 100.0, HINTS_RADIUS, HINTS_EPS)


# --- auto: model or library -------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _load_model(path: str, mtime: float) -> Any:
    try:
        return cv2.dnn.readNetFromONNX(path)
    except cv2.error as exc:
        raise ColorizeModelError(f"colorize: cannot load the ONNX model {path}: {exc}") from exc


def predict_with_model(full_l: np.ndarray, path: str) -> np.ndarray:
    """a*b* (H, W, 2) predicted by the ONNX model at ``path`` for the L* image ``full_l``.

    Interface (that of the Zhang et al. 2016 colorizer as exported from the authors' Caffe model,
    with the annealed-mean ``class8_ab`` output, as OpenCV's ``colorization.py`` sample uses it):

    * one input, float32 NCHW ``1 x 1 x 224 x 224``: the image's L* (0..100), resized to 224x224
      with area averaging (aspect ratio not kept), minus 50;
    * one output, float32 ``1 x 2 x h x w`` (any h, w; 56x56 for Zhang et al.): a* and b* in CIE
      Lab units, for the whole image.

    The output is upsampled to the full image with the fast guided filter on L*, then combined
    with the original L*.
    """
    try:
        net = _load_model(path, os.path.getmtime(path))
    except OSError as exc:
        raise ColorizeModelError(f"colorize: COLORIZE_MODEL_PATH={path} cannot be read: {exc}") from exc
    small = cv2.resize(full_l, (MODEL_SIZE, MODEL_SIZE), interpolation=cv2.INTER_AREA)
    net.setInput((small - 50.0).astype(np.float32)[None, None])
    try:
        out = np.asarray(net.forward())
    except cv2.error as exc:
        raise ColorizeModelError(f"colorize: the model {path} failed: {exc}") from exc
    if out.ndim != 4 or out.shape[:2] != (1, 2):
        raise ColorizeModelError(f"colorize: the model {path} must output 1x2xHxW a*b*, got shape {out.shape}")
    ab_low = np.ascontiguousarray(out[0].transpose(1, 2, 0), dtype=np.float32)
    guide_low = cv2.resize(full_l, (ab_low.shape[1], ab_low.shape[0]), interpolation=cv2.INTER_AREA)
    return guided_upsample(guide_low / 100.0, ab_low, full_l / 100.0, 1, MODEL_EPS)


def _ab_auto(full_l: np.ndarray, settings: ColorizeSettings) -> np.ndarray:
    if settings.colorize_model_path:
        return predict_with_model(full_l, settings.colorize_model_path)
    try:
        library = colorize_library.load_library(settings.colorize_library_path or None)
    except colorize_library.LibraryUnavailable as exc:
        raise InvalidParameters(
            "colorize: mode=auto has neither a model nor a reference library here; use mode=reference or mode=hints"
        ) from exc
    work_l = colorize_library.fit_side(full_l, WORK_SIDE)
    chosen = colorize_library.retrieve(library, work_l, k=RETRIEVE)
    ab = transfer_from_references(work_l, [library.labs[i] for i in chosen])
    return guided_upsample(work_l / 100.0, ab, full_l / 100.0, SMOOTH_RADIUS, SMOOTH_EPS)


# --- the operation ----------------------------------------------------------------------------


def colorize(
    image: Image,
    mode: str = "auto",
    strength: float = 1.0,
    hints: str | Sequence[Hint] | None = None,
    reference: np.ndarray | str | None = None,
) -> Image:
    """Colorize ``image`` on its luminance (see the module docstring for the methods).

    :param mode: ``auto`` (model, else library retrieval + transfer), ``reference`` or ``hints``.
    :param strength: multiplies the chroma (0 = grey, 1 = as predicted, 2 = twice as saturated).
    :param hints: ``mode=hints``: ``"x,y,#rrggbb;..."`` (see :func:`parse_hints`) or parsed hints.
    :param reference: ``mode=reference``: the reference photo as uint8 RGB(A) pixels. As a
        registered parameter this is the *name* of another image of the same job, which the
        pipeline resolves to its pixels before calling this function; a name that was not
        resolved, or no reference at all, raises :class:`InvalidParameters`.
    :returns: uint8 RGB (RGBA when the input has alpha) with the input's L*.
    """
    rgb, alpha = _split_alpha(image)
    if image.dtype != np.uint8:
        raise InvalidParameters(f"colorize: expected 8-bit pixels, got {image.dtype}")
    full_l = lightness(rgb)
    if mode == "reference":
        if reference is None:
            raise InvalidParameters(NEEDS_REFERENCE)
        if isinstance(reference, str):
            raise InvalidParameters(f"colorize: the reference image {reference!r} was not loaded; {NEEDS_REFERENCE}")
        ab = _ab_from_references(full_l, [_reference_lab(reference)])
    elif mode == "hints":
        if hints is None:
            raise InvalidParameters('colorize: mode=hints needs hints="x,y,#rrggbb;x,y,#rrggbb"')
        ab = _ab_from_hints(full_l, parse_hints(hints) if isinstance(hints, str) else hints)
    elif mode == "auto":
        ab = _ab_auto(full_l, ColorizeSettings.from_env())
    else:
        raise InvalidParameters(f"colorize: mode must be one of auto, reference, hints, got {mode!r}")
    if strength != 1.0:
        ab *= np.float32(strength)
    out = compose(full_l, ab)
    return out if alpha is None else np.ascontiguousarray(np.concatenate([out, alpha], axis=2))
