"""Where to place a crop window: the centre, the faces, or the most salient part.

* ``center`` - the image centre.
* ``face`` - the window that keeps every detected face (:mod:`.faces`) in frame, centred on
  them. When they cannot all fit, the largest group of faces that fits is kept (the most faces,
  then the largest total face area: :func:`largest_group`), and the chain's outcome says how
  many fell outside (``faces_outside``); no faces -> centre.
* ``smart`` - faces when there are any, otherwise the window with the most visual saliency,
  using the spectral residual saliency of Hou & Zhang, "Saliency Detection: A Spectral Residual
  Approach" (CVPR 2007), computed on a 64 px greyscale copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from retouch.ops.context import ChainContext, check_time, faces_in, report
from retouch.ops.table import GRAVITIES  # noqa: F401  (re-exported)
from retouch.ops.types import Image

if TYPE_CHECKING:
    from retouch.ops.faces import Face

SALIENCY_SIDE = 64


def _spectral_residual(channel: np.ndarray) -> np.ndarray:
    spectrum = np.fft.fft2(channel)
    log_amplitude = np.log(np.abs(spectrum) + 1e-8)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3))
    return (np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2).astype(np.float32)


def spectral_residual_saliency(image: Image, side: int = SALIENCY_SIDE) -> np.ndarray:
    """Saliency map (float32, same size as ``image``, 0..1) after Hou & Zhang 2007, summed over
    the L*, a* and b* channels so that colour contrast counts as well as lightness."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = cv2.resize(np.ascontiguousarray(image[:, :, :3]), size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    saliency = sum(_spectral_residual(lab[:, :, c]) for c in range(3))
    saliency = cv2.GaussianBlur(np.asarray(saliency, dtype=np.float32), (0, 0), 2.5)
    saliency = cv2.resize(saliency, (w, h), interpolation=cv2.INTER_LINEAR)
    peak = float(saliency.max())
    return saliency / peak if peak > 0 else saliency


def _clamp(start: float, size: int, total: int) -> int:
    return int(min(max(0, round(start)), total - size))


Box = tuple[int, int, int, int]
"""``(x, y, w, h)`` in pixels."""


def inside(box: Box, x: int, y: int, w: int, h: int) -> bool:
    """Whether ``box`` lies entirely in the window ``(x, y, w, h)``."""
    bx, by, bw, bh = box
    return bx >= x and by >= y and bx + bw <= x + w and by + bh <= y + h


def largest_group(boxes: Sequence[Box], win_w: int, win_h: int) -> list[Box]:
    """The faces a ``win_w`` x ``win_h`` window keeps: all of them when they fit, otherwise the
    group that fits with the most faces, then the largest total face area (empty when not even
    one face fits).

    Any group that fits also fits the window whose left edge is its leftmost face's left and
    whose top is its topmost face's top, so those ``n * n`` windows are all that need trying;
    the faces inside each are counted with two ``n x n`` matrix products.
    """
    if not boxes:
        return []
    b = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    if x1.max() - x0.min() <= win_w and y1.max() - y0.min() <= win_h:
        return list(boxes)
    # columns[i, k]: face k lies within the columns of a window whose left is face i's left; rows likewise
    columns = ((x0[None, :] >= x0[:, None]) & (x1[None, :] <= x0[:, None] + win_w)).astype(np.int64)
    rows = ((y0[None, :] >= y0[:, None]) & (y1[None, :] <= y0[:, None] + win_h)).astype(np.int64)
    area = b[:, 2] * b[:, 3]
    count = columns @ rows.T  # [i, j]: faces inside the window at (left of face i, top of face j)
    covered = (columns * area[None, :]) @ rows.T
    score = count * (int(area.sum()) + 1) + covered  # most faces first, then the largest area
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    if count[i, j] == 0:
        return []
    return [box for box, k, r in zip(boxes, columns[i], rows[j], strict=True) if k and r]


def _clipped(faces: Sequence[Face], width: int, height: int) -> list[Box]:
    """Face boxes clipped to the image (a face cut by the photo's edge is as inside as it can be)."""
    boxes = []
    for face in faces:
        x, y, w, h = face.box
        left, top = max(0, int(x)), max(0, int(y))
        boxes.append((left, top, max(0, min(width, int(x + w)) - left), max(0, min(height, int(y + h)) - top)))
    return boxes


def _centred_on(group: Sequence[Box], win_w: int, win_h: int, width: int, height: int) -> tuple[int, int]:
    """The window centred on ``group`` (a little below its middle), every face of it inside."""
    x0, y0 = min(b[0] for b in group), min(b[1] for b in group)
    x1, y1 = max(b[0] + b[2] for b in group), max(b[1] + b[3] for b in group)
    # faces sit a little above the centre of a well-framed picture (room for the shoulders)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.1 * (y1 - y0)
    x, y = _clamp(cx - win_w / 2, win_w, width), _clamp(cy - win_h / 2, win_h, height)
    # if they fit, make sure every face is inside (the centring may have cut one)
    if x1 - x0 <= win_w:
        x = _clamp(min(max(x, x1 - win_w), x0), win_w, width)
    if y1 - y0 <= win_h:
        y = _clamp(min(max(y, y1 - win_h), y0), win_h, height)
    return x, y


def _face_window(image: Image, win_w: int, win_h: int, context: ChainContext | None) -> tuple[int, int] | None:
    faces = faces_in(image, context)
    if not faces:
        report(context, faces_found=0)
        return None
    h, w = image.shape[:2]
    boxes = _clipped(faces, w, h)
    group = largest_group(boxes, win_w, win_h)
    # not even one face fits (a close-up): centre on the largest, which is cut least that way
    x, y = _centred_on(group or [max(boxes, key=lambda b: b[2] * b[3])], win_w, win_h, w, h)
    outside = sum(not inside(b, x, y, win_w, win_h) for b in boxes)
    report(context, faces_found=len(faces), faces_outside=outside)
    return x, y


def _salient_window(image: Image, win_w: int, win_h: int) -> tuple[int, int]:
    h, w = image.shape[:2]
    saliency = spectral_residual_saliency(image)
    cols, rows = saliency.sum(axis=0), saliency.sum(axis=1)
    best_x = int(np.argmax(np.convolve(cols, np.ones(win_w), mode="valid"))) if win_w < w else 0
    best_y = int(np.argmax(np.convolve(rows, np.ones(win_h), mode="valid"))) if win_h < h else 0
    return best_x, best_y


def place_window(
    image: Image, win_w: int, win_h: int, gravity: str = "center", context: ChainContext | None = None
) -> tuple[int, int]:
    """Top-left corner of a ``win_w`` x ``win_h`` window inside ``image`` for ``gravity``
    (faces through the chain's ``context``, which also bounds the time spent)."""
    h, w = image.shape[:2]
    win_w, win_h = min(win_w, w), min(win_h, h)
    if gravity in ("face", "smart"):
        placed = _face_window(image, win_w, win_h, context)
        if placed is not None:
            return placed
        if gravity == "smart":
            check_time(context, "in smart framing")
            return _salient_window(image, win_w, win_h)
    return (w - win_w) // 2, (h - win_h) // 2
