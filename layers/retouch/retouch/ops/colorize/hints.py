"""``hints`` mode: user colour hints propagated after Levin, Lischinski & Weiss, "Colorization
using optimization" (SIGGRAPH 2004).

Affinities ``w_rs = exp(-(Y_r - Y_s)^2 / (0.6 var_r))`` between each pixel and its 3x3
neighbours (with Levin's floors on the variance), normalised per pixel as in the paper's code
and then symmetrised, so that the chroma minimises ``sum w_rs (U_r - U_s)^2`` subject to the
hints. The sparse system is solved without scipy on a grid whose longest side is at most
:data:`HINTS_SIDE`, by Jacobi-preconditioned conjugate gradients on 3x3 stencils, coarse to fine
(each level starts from the upsampled solution of the level below), then upsampled with the
guided filter on full-resolution L*. Only a hint's hue and saturation matter (its a*b*); its
lightness is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from retouch.errors import ValidationError
from retouch.ops.colorize.colour import guided_upsample
from retouch.ops.colorize.library import fit_side
from retouch.ops.context import ChainContext, check_time
from retouch.ops.hint_syntax import Hint

HINTS_SIDE = 256
"""Longest side of the grid on which hints are propagated."""
HINTS_RADIUS = 2
HINTS_EPS = 1e-4


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


def propagate_hints(
    grid_l: np.ndarray, hints: Sequence[tuple[float, float, float, float]], context: ChainContext | None = None
) -> np.ndarray:
    """Levin et al. (2004) propagation of ``(x, y, a, b)`` hints (pixel coordinates of
    ``grid_l``) over the L* image ``grid_l``; coarse-to-fine CG (see the module docstring).
    The chain's deadline (``context``) is checked before each pyramid level."""
    pyramid: list[np.ndarray] = [np.asarray(grid_l, np.float32) / np.float32(100.0)]
    while min(pyramid[-1].shape) > 24:
        prev = pyramid[-1]
        pyramid.append(cv2.resize(prev, ((prev.shape[1] + 1) // 2, (prev.shape[0] + 1) // 2), interpolation=cv2.INTER_AREA))
    full_h, full_w = pyramid[0].shape
    solution: np.ndarray | None = None
    for level in reversed(pyramid):
        check_time(context, "in colorize (hints)")
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


def ab_from_hints(full_l: np.ndarray, hints: Sequence[Hint], context: ChainContext | None = None) -> np.ndarray:
    """a*b* (H, W, 2) for the full-resolution L* image ``full_l`` from parsed ``hints``."""
    height, width = full_l.shape
    grid_l = fit_side(full_l, HINTS_SIDE)
    gh, gw = grid_l.shape
    points = []
    for number, hint in enumerate(hints, start=1):
        x, y = hint.pixel(width, height)
        if not (0 <= x <= width and 0 <= y <= height):
            raise ValidationError(f"colorize: hint {number} at ({hint.x:g}, {hint.y:g}) lies outside the {width}x{height} image")
        swatch = np.array([[hint.rgb]], np.float32) / 255.0
        _, a, b = cv2.cvtColor(swatch, cv2.COLOR_RGB2Lab)[0, 0]
        points.append((x * gw / width, y * gh / height, float(a), float(b)))
    ab = propagate_hints(grid_l, points, context)
    return guided_upsample(grid_l / 100.0, ab, full_l / 100.0, HINTS_RADIUS, HINTS_EPS)
