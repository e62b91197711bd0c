"""Face and saliency gravity for crops and cover thumbnails."""

from __future__ import annotations

import numpy as np
from skimage import data

from retouch import ops
from retouch.ops.faces import detect_faces
from retouch.ops.framing import place_window, spectral_residual_saliency


def off_centre_portrait(side: str = "right") -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The astronaut pasted near one edge of a wide, plain canvas; returns (image, face box)."""
    face = data.astronaut()
    canvas = np.full((512, 1600, 3), 90, dtype=np.uint8)
    x = 1600 - 512 - 20 if side == "right" else 20
    canvas[:, x : x + 512] = face
    [found] = detect_faces(canvas)
    return canvas, found.box


def inside(box: tuple[int, int, int, int], x: int, y: int, w: int, h: int) -> bool:
    bx, by, bw, bh = box
    return bx >= x and by >= y and bx + bw <= x + w and by + bh <= y + h


def test_crop_face_gravity_keeps_an_off_centre_face_in_frame() -> None:
    image, box = off_centre_portrait("right")
    spec = ops.validate_operations([{"op": "crop", "params": {"aspect": "1:1", "gravity": "face"}}])
    out = ops.apply_operations(image, spec)
    assert out.shape[:2] == (512, 512)
    x = int(np.argmax([np.abs(image[:, i : i + 512].astype(int) - out.astype(int)).sum() == 0 for i in range(0, 1089)]))
    assert inside(box, x, 0, 512, 512)
    centre = ops.apply_operations(
        image, ops.validate_operations([{"op": "crop", "params": {"aspect": "1:1", "gravity": "center"}}])
    )
    assert not np.array_equal(out, centre)  # the centre crop would have cut the face


def test_thumbnail_cover_defaults_to_face_gravity() -> None:
    image, box = off_centre_portrait("left")
    x, y = place_window(image, 512, 512, "face")
    assert inside(box, x, y, 512, 512)
    spec = ops.validate_operations([{"op": "thumbnail", "params": {"width": 128, "height": 128, "fit": "cover"}}])
    assert spec[0].params["gravity"] == "face"
    out = ops.apply_operations(image, spec)
    assert out.shape[:2] == (128, 128)
    expected = ops.get("thumbnail").fn(image[:, x : x + 512], width=128, height=128)
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 3


def test_smart_gravity_without_faces_follows_saliency() -> None:
    rng = np.random.default_rng(0)
    image = np.full((400, 1200, 3), 120, dtype=np.uint8) + rng.integers(0, 3, (400, 1200, 3), dtype=np.uint8)
    image[150:250, 950:1100] = (230, 40, 30)  # a red object near the right edge
    saliency = spectral_residual_saliency(image)
    assert saliency[200, 1000] > saliency[200, 200]
    x, _ = place_window(image, 400, 400, "smart")
    assert x <= 950 and x + 400 >= 1100
    assert place_window(image, 400, 400, "face") == (400, 0)  # no faces: centre


def test_gravity_parameter_is_validated() -> None:
    import pytest

    from retouch.errors import InvalidParameters

    with pytest.raises(InvalidParameters, match="gravity"):
        ops.validate_operations([{"op": "crop", "params": {"aspect": "1:1", "gravity": "left"}}])
    with pytest.raises(InvalidParameters, match="only applies when fit is cover"):
        ops.validate_operations([{"op": "thumbnail", "params": {"width": 10, "gravity": "smart"}}])
