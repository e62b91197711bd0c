"""``auto`` mode: a compact learned colorizer run by ``cv2.dnn``, else library retrieval.

* **Model** (default): ``model/colorize-auto.onnx``, trained by ``training/train_colorize.py``
  on openly licensed photos listed in ``training/colorize_data.json``. It follows Zhang, Isola &
  Efros, "Colorful image colorization" (ECCV 2016) at a small scale: classification over
  in-gamut a*b* bins with class rebalancing (which keeps colours from fading to sepia), decoded
  by the annealed mean, with a global-context branch after Iizuka et al. (SIGGRAPH 2016). Any
  other ONNX model with the same interface can be named by ``$COLORIZE_MODEL_PATH``: see
  :func:`predict_with_model`.
* **Library**: when ``$COLORIZE_LIBRARY_PATH`` is set (and no model path is), or when no model
  is packaged, the :data:`RETRIEVE` photos of the reference library
  (:mod:`retouch.ops.colorize.library`) whose luminance descriptors are closest to the input
  are used as references for the ``reference`` method.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from retouch.errors import ValidationError
from retouch.observability import logger
from retouch.ops.colorize.colour import ColorizeModelError, guided_upsample
from retouch.ops.colorize.library import LibraryUnavailable, fit_side, load_library, retrieve
from retouch.ops.colorize.natural import naturalize
from retouch.ops.colorize.reference import SMOOTH_EPS, SMOOTH_RADIUS, WORK_SIDE, transfer_from_references
from retouch.settings import OperationSettings

if TYPE_CHECKING:
    from retouch.ops.faces import Face

PACKAGED_MODEL = Path(__file__).with_name("model") / "colorize-auto.onnx"
"""The model trained by ``training/train_colorize.py`` (shipped inside the package and layer)."""
MODEL_SIZE = 224
"""Side of the square L* input of the ``auto`` model."""
RETRIEVE = 2
"""Library photos used as references in ``auto`` mode without a model."""
MODEL_SIDE = WORK_SIDE
"""Longest side of the grid on which a model's (coarse) output is smoothed along L* edges."""
AB_OUTPUT = "ab"
CONFIDENCE_OUTPUT = "confidence"
"""Optional second output of a model (1x1xHxW, 0..1): the probability, under the model's own
colour distribution, that the true a*b* is closer to its estimate than to grey (added to the
packaged model by ``training/add_confidence.py``); used by :func:`~.natural.naturalize`. A model
with one output is run as before."""


MODEL_BROKEN = "colorize: the colorization model could not be loaded (the service's log has the details)"
MODEL_MISSING = "colorize: the colorization model could not be read (the service's log has the details)"
MODEL_FAILED = "colorize: the colorization model failed on this image (the service's log has the details)"
MODEL_INTERFACE = "colorize: the colorization model gives an output of the wrong shape (the service's log has the details)"
"""What a user is told (no local path, no OpenCV internals); the details go to the log."""

_nets = threading.local()
"""Each thread's own networks, ``{(path, mtime): net}``: a ``cv2.dnn`` network keeps its
buffers in itself, so two threads running one network at once corrupt each other's work
(``retouch apply`` renders images in threads). A network is small (1.3 M parameters)."""
MODELS_PER_THREAD = 2


def _load_model(path: str, mtime: float) -> Any:
    """This thread's network for the model at ``path`` (as modified at ``mtime``)."""
    cache: dict[tuple[str, float], Any] = _nets.__dict__.setdefault("cache", {})
    key = (path, mtime)
    if key not in cache:
        try:
            net = cv2.dnn.readNetFromONNX(path)
        except cv2.error as exc:
            logger.warning("colorize: cannot load the ONNX model", extra={"path": path, "detail": str(exc)[:500]})
            raise ColorizeModelError(MODEL_BROKEN) from exc
        while len(cache) >= MODELS_PER_THREAD:
            del cache[next(iter(cache))]
        cache[key] = net
    return cache[key]


def predict_with_model(full_l: np.ndarray, path: str) -> np.ndarray:
    """a*b* (H, W, 2) predicted by the ONNX model at ``path`` for the L* image ``full_l``.

    Interface (that of the Zhang et al. 2016 colorizer as exported from the authors' Caffe model,
    with the annealed-mean ``class8_ab`` output, as OpenCV's ``colorization.py`` sample uses it;
    the packaged model has the same):

    * one input, float32 NCHW ``1 x 1 x 224 x 224``: the image's L* (0..100), resized to 224x224
      with area averaging (aspect ratio not kept), minus 50;
    * one output, float32 ``1 x 2 x h x w`` (any h, w; 56x56 for Zhang et al., 28x28 for the
      packaged model): a* and b* in CIE Lab units, for the whole image; or two, named
      :data:`AB_OUTPUT` (that) and :data:`CONFIDENCE_OUTPUT` (``1 x 1 x h x w``, see there),
      which ``auto`` mode uses to keep colour where the model is sure and calm it where not.

    The output is resized bilinearly to a grid whose longest side is :data:`MODEL_SIDE`,
    smoothed there and brought to full resolution by the fast guided filter on L* (so colour
    edges follow luminance edges and do not bleed across them), then combined with the
    original L*.
    """
    work_l, ab_work, _ = predict_work(full_l, path)
    return guided_upsample(work_l / 100.0, ab_work, full_l / 100.0, SMOOTH_RADIUS, SMOOTH_EPS)


def _forward(net: Any, small: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's a*b* (h, w, 2) for the 224x224 L* ``small`` and, when it has that output, its
    :data:`CONFIDENCE_OUTPUT` (h, w) (else ``None``)."""
    net.setInput((small - 50.0).astype(np.float32)[None, None])
    names = tuple(net.getUnconnectedOutLayersNames())
    try:
        if len(names) > 1 and CONFIDENCE_OUTPUT in names and AB_OUTPUT in names:
            out, confidence = (np.asarray(o) for o in net.forward([AB_OUTPUT, CONFIDENCE_OUTPUT]))
        else:
            out, confidence = np.asarray(net.forward()), None
    except cv2.error as exc:
        logger.warning("colorize: the model failed", extra={"path": path, "detail": str(exc)[:500]})
        raise ColorizeModelError(MODEL_FAILED) from exc
    if out.ndim != 4 or out.shape[:2] != (1, 2):
        logger.warning("colorize: the model must output 1x2xHxW a*b*", extra={"path": path, "shape": str(out.shape)})
        raise ColorizeModelError(MODEL_INTERFACE)
    if confidence is not None and confidence.shape != (1, 1, *out.shape[2:]):
        shape = str(confidence.shape)
        logger.warning("colorize: ignoring a confidence output of the wrong shape", extra={"path": path, "shape": shape})
        confidence = None
    ab = np.ascontiguousarray(out[0].transpose(1, 2, 0), dtype=np.float32)
    return ab, None if confidence is None else np.ascontiguousarray(confidence[0, 0], dtype=np.float32)


def predict_work(full_l: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(work_l, ab, confidence)``: the L* image on the working grid (longest side
    :data:`MODEL_SIDE`), the model's a*b* there - the mean of its predictions for the image and
    for its mirror image (a cheap test-time augmentation that cancels guesses the model makes on
    one side only) - and, for a model with a :data:`CONFIDENCE_OUTPUT`, the mean of that (else
    ``None``)."""
    try:
        net = _load_model(path, os.path.getmtime(path))
    except OSError as exc:
        logger.warning("colorize: the model cannot be read", extra={"path": path, "detail": str(exc)[:500]})
        raise ColorizeModelError(MODEL_MISSING) from exc
    small = cv2.resize(full_l, (MODEL_SIZE, MODEL_SIZE), interpolation=cv2.INTER_AREA)
    ab_low, conf_low = _forward(net, small, path)
    mirrored, conf_mirrored = _forward(net, np.ascontiguousarray(small[:, ::-1]), path)
    ab_low = 0.5 * (ab_low + np.ascontiguousarray(mirrored[:, ::-1]))
    work_l = fit_side(full_l, MODEL_SIDE)
    size = (work_l.shape[1], work_l.shape[0])
    ab_work = cv2.resize(np.ascontiguousarray(ab_low), size, interpolation=cv2.INTER_LINEAR)
    confidence = None
    if conf_low is not None and conf_mirrored is not None:
        conf_low = 0.5 * (conf_low + np.ascontiguousarray(conf_mirrored[:, ::-1]))
        confidence = cv2.resize(np.ascontiguousarray(conf_low), size, interpolation=cv2.INTER_LINEAR)
    return work_l, ab_work, confidence


def library_work(full_l: np.ndarray, library_path: str | None) -> tuple[np.ndarray, np.ndarray]:
    """``(work_l, ab)`` on the working grid from the :data:`RETRIEVE` nearest library photos
    (Welsh et al. transfer)."""
    try:
        library = load_library(library_path)
    except LibraryUnavailable as exc:
        raise ValidationError(
            "colorize: mode=auto has neither a model nor a reference library here; use mode=reference or mode=hints"
        ) from exc
    work_l = fit_side(full_l, WORK_SIDE)
    chosen = retrieve(library, work_l, k=RETRIEVE)
    return work_l, transfer_from_references(work_l, [library.labs[i] for i in chosen])


def ab_auto(full_l: np.ndarray, settings: OperationSettings, faces: Sequence[Face] = ()) -> np.ndarray:
    """a*b* for ``auto`` mode: ``$COLORIZE_MODEL_PATH``, else ``$COLORIZE_LIBRARY_PATH``, else
    the packaged model, else the packaged library; corrected by :func:`naturalize` (with the
    packaged model's calibration when it is the one used) and brought to full size along L*."""
    packaged = False
    confidence = None
    if settings.colorize_model_path:
        work_l, ab, confidence = predict_work(full_l, settings.colorize_model_path)
    elif not settings.colorize_library_path and PACKAGED_MODEL.is_file():
        work_l, ab, confidence = predict_work(full_l, str(PACKAGED_MODEL))
        packaged = True
    else:
        work_l, ab = library_work(full_l, settings.colorize_library_path or None)
    ab = naturalize(work_l, ab, faces, work_l.shape[1] / full_l.shape[1], packaged=packaged, confidence=confidence)
    return guided_upsample(work_l / 100.0, ab, full_l / 100.0, SMOOTH_RADIUS, SMOOTH_EPS)
