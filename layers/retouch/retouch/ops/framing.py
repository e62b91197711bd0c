"""Where to place a crop window: the centre, the faces, or the most salient part.

* ``center`` - the image centre.
* ``face`` - the window that keeps every detected face (:mod:`.faces`) in frame, centred on
  them; when they cannot all fit, centred on their bounding box; no faces -> centre.
* ``smart`` - faces when there are any, otherwise the window with the most visual saliency,
  using the spectral residual saliency of Hou & Zhang, "Saliency Detection: A Spectral Residual
  Approach" (CVPR 2007), computed on a 64 px greyscale copy.
"""

from __future__ import annotations

import cv2
import numpy as np

from retouch.ops.context import ChainContext, check_time, faces_in
from retouch.ops.table import GRAVITIES  # noqa: F401  (re-exported)
from retouch.ops.types import Image

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


def _face_window(image: Image, win_w: int, win_h: int, context: ChainContext | None) -> tuple[int, int] | None:
    faces = faces_in(image, context)
    if not faces:
        return None
    h, w = image.shape[:2]
    x0 = min(f.box[0] for f in faces)
    y0 = min(f.box[1] for f in faces)
    x1 = max(f.box[0] + f.box[2] for f in faces)
    y1 = max(f.box[1] + f.box[3] for f in faces)
    # faces sit a little above the centre of a well-framed picture (room for the shoulders)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.1 * (y1 - y0)
    x, y = _clamp(cx - win_w / 2, win_w, w), _clamp(cy - win_h / 2, win_h, h)
    # if they fit, make sure every face is inside (the centring may have cut one)
    if x1 - x0 <= win_w:
        x = _clamp(min(max(x, x1 - win_w), x0), win_w, w)
    if y1 - y0 <= win_h:
        y = _clamp(min(max(y, y1 - win_h), y0), win_h, h)
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
