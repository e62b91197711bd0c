"""Face and saliency gravity for crops and cover thumbnails."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from skimage import data

from retouch import ops
from retouch.ops import framing
from retouch.ops.context import ChainContext
from retouch.ops.faces import detect_faces
from retouch.ops.framing import largest_group, place_window, spectral_residual_saliency


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

    from retouch.errors import ValidationError

    with pytest.raises(ValidationError, match="gravity"):
        ops.validate_operations([{"op": "crop", "params": {"aspect": "1:1", "gravity": "left"}}])
    with pytest.raises(ValidationError, match="only applies when fit is cover"):
        ops.validate_operations([{"op": "thumbnail", "params": {"width": 10, "gravity": "smart"}}])


# --- a group of faces that cannot all fit -------------------------------------------------------
WIDE = (1000, 500)
"""A 1000 x 500 photo: a 4:5 crop is a 400 x 500 window."""
THREE_SMALL_LEFT = [(40, 100, 80, 80), (180, 120, 80, 80), (300, 90, 80, 80)]
"""Three faces within 340 px of each other, on the left."""
TWO_LARGE_RIGHT = [(640, 100, 110, 110), (880, 110, 110, 110)]
"""Two larger faces within 350 px of each other, on the right."""


def fake_faces(monkeypatch: pytest.MonkeyPatch, boxes: list[tuple[int, int, int, int]]) -> None:
    """Faces at ``boxes`` (pixels of a 1000 px wide photo), scaled to the image analysed."""

    def faces_in(image: np.ndarray, context: object) -> list[SimpleNamespace]:
        s = image.shape[1] / WIDE[0]
        return [SimpleNamespace(box=tuple(round(v * s) for v in box)) for box in boxes]

    monkeypatch.setattr(framing, "faces_in", faces_in)


def crop_window(image: np.ndarray, out: np.ndarray) -> tuple[int, int, int, int]:
    h, w = out.shape[:2]
    [x] = [x for x in range(image.shape[1] - w + 1) if np.array_equal(image[:h, x : x + w], out)]
    return x, 0, w, h


def noise(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_when_faces_cannot_all_fit_the_largest_group_is_kept_and_the_rest_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_faces(monkeypatch, THREE_SMALL_LEFT + TWO_LARGE_RIGHT)
    image, context = noise(*WIDE), ChainContext()
    chain = ops.bind([{"op": "crop", "params": {"aspect": "4:5"}}])  # face gravity: crop's default
    out = ops.apply_operations(image, chain, context)
    window = crop_window(image, out)
    assert window[2:] == (400, 500)
    assert all(inside(b, *window) for b in THREE_SMALL_LEFT)  # most faces beat larger faces
    assert not any(inside(b, *window) for b in TWO_LARGE_RIGHT)
    assert (context.outcome.faces_found, context.outcome.faces_outside) == (5, 2)
    assert context.outcome.sentence() == "2 faces could not fit in the frame."


def test_between_groups_of_as_many_faces_the_larger_faces_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_faces(monkeypatch, THREE_SMALL_LEFT[:2] + TWO_LARGE_RIGHT)
    image, context = noise(*WIDE), ChainContext()
    window = (*place_window(image, 400, 500, "face", context), 400, 500)
    assert all(inside(b, *window) for b in TWO_LARGE_RIGHT)
    assert context.outcome.faces_outside == 2


def test_when_the_faces_fit_every_one_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    spread = [(330, 60, 90, 90), (520, 200, 90, 90), (640, 80, 80, 80)]  # 390 px from first to last
    fake_faces(monkeypatch, spread)
    image, context = noise(*WIDE), ChainContext()
    out = ops.apply_operations(image, ops.bind([{"op": "crop", "params": {"aspect": "4:5", "gravity": "face"}}]), context)
    window = crop_window(image, out)
    assert all(inside(b, *window) for b in spread)
    assert (context.outcome.faces_found, context.outcome.faces_outside) == (3, 0)
    assert context.outcome.sentence() == "Done."


def test_a_cover_thumbnail_keeps_the_largest_group_too(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_faces(monkeypatch, THREE_SMALL_LEFT + TWO_LARGE_RIGHT)
    image, context = noise(*WIDE), ChainContext()
    chain = ops.bind([{"op": "thumbnail", "params": {"width": 200, "height": 250, "fit": "cover"}}])
    out = ops.apply_operations(image, chain, context)
    assert out.shape[:2] == (250, 200)
    assert (context.outcome.faces_found, context.outcome.faces_outside) == (5, 2)


def test_largest_group_tries_every_window_a_group_fits() -> None:
    assert largest_group([], 10, 10) == []
    assert largest_group([(0, 0, 20, 20)], 10, 10) == []  # a face larger than the window
    row = [(0, 0, 10, 10), (30, 0, 10, 10), (60, 0, 10, 10), (90, 0, 10, 10)]
    assert largest_group(row, 45, 10) == row[:2]  # two at most; the first of equal groups
    assert largest_group(row, 100, 10) == row
    staggered = [(0, 0, 10, 10), (20, 25, 10, 10), (40, 50, 10, 10)]  # a diagonal
    assert largest_group(staggered, 40, 40) == staggered[:2]
