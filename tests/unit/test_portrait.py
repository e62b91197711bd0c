"""Face analysis, red-eye removal and teeth whitening on real photos with synthetic defects.

The photos are scikit-image's bundled public-domain images (``astronaut`` is a real smiling
face); the defects (red pupils over the detected irises, yellowed teeth, a red patch on the
shirt) are painted by the helpers in :mod:`retouch_testkit.portrait`, so the answers are known.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from skimage import data

from retouch import ops
from retouch.errors import ValidationError
from retouch.ops import faces as face_analysis
from retouch.ops import get
from retouch.ops.context import ChainContext
from retouch.ops.faces import Face, detect_faces
from retouch.ops.portrait import teeth
from retouch.ops.portrait.eyes import red_eye
from retouch.ops.portrait.patches import polygon_mask
from retouch_testkit.portrait import (
    collage,
    disc_mask,
    eye_windows,
    eyes_darkened,
    eyes_fixed,
    lab,
    matched,
    paint_red_eyes,
    paint_red_patch,
    psnr,
    teeth_region,
    yellow_teeth,
)

SHIRT = (140, 420, 60, 50)  # x, y, w, h of a patch on the astronaut's suit


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_face(astronaut: np.ndarray) -> Face:
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="module")
def red_eyed(astronaut: np.ndarray, astronaut_face: Face) -> tuple[np.ndarray, list[tuple[float, float, float]]]:
    painted, discs = paint_red_eyes(astronaut, [astronaut_face])
    return paint_red_patch(painted, SHIRT), discs


@pytest.fixture(scope="module")
def mosaic() -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[Face]]:
    img, placed = collage()
    return img, placed, detect_faces(img)


def inner_lips_mask(shape: tuple[int, ...], lips: np.ndarray) -> np.ndarray:
    return polygon_mask(lips, 0, 0, (shape[0], shape[1])).astype(bool)


# --------------------------------------------------------------------------- detection


def test_detect_faces_finds_astronaut_eyes_irises_and_lips(astronaut_face: Face) -> None:
    face = astronaut_face
    x, y, w, _ = face.box
    assert 70 <= w <= 110 and 180 <= x <= 190 and 55 <= y <= 75
    # eye centres measured by hand on the photo: (204, 101) and (247, 103)
    assert np.hypot(face.left_eye.center[0] - 204, face.left_eye.center[1] - 101) < 2.5
    assert np.hypot(face.right_eye.center[0] - 247, face.right_eye.center[1] - 103) < 2.5
    for eye in face.eyes:
        assert 3.0 <= eye.iris_radius <= 5.5
        assert eye.contour is not None and eye.contour.shape == (16, 2)
    assert face.inner_lips is not None and face.inner_lips.shape == (20, 2)
    # the smile: inner lips open, mouth between the eyes' x and below the nose
    assert face.mouth_opening > 0.1
    assert face.left_eye.center[0] - 10 < face.inner_lips[:, 0].mean() < face.right_eye.center[0] + 10
    assert face.inner_lips[:, 1].min() > face.nose[1]


def test_detect_faces_finds_every_face_in_collage_down_to_40px(
    mosaic: tuple[np.ndarray, list[tuple[int, int, int, int]], list[Face]],
) -> None:
    _, placed, faces = mosaic
    assert min(w for _, _, w, _ in placed) <= 42
    assert matched(placed, faces) == len(placed)
    assert len(faces) == len(placed)  # no false positives on the background


def test_detect_faces_finds_none_in_coffee() -> None:
    assert detect_faces(data.coffee()) == []


def test_a_chain_analyses_each_photo_once_until_its_geometry_changes(
    monkeypatch: pytest.MonkeyPatch, astronaut: np.ndarray
) -> None:
    calls = []
    real = face_analysis.analyse_faces

    def counting(image: np.ndarray) -> list[Face]:
        calls.append(image.shape)
        return real(image)

    painted, _ = paint_red_eyes(astronaut, detect_faces(astronaut))
    monkeypatch.setattr(face_analysis, "analyse_faces", counting)
    chain = ops.validate_operations([{"op": "red_eye"}, {"op": "teeth_whitening"}, {"op": "contrast"}, {"op": "red_eye"}])
    context = ChainContext()
    ops.apply_operations(painted, chain, context)
    assert len(calls) == 1  # one analysis for the chain: later operations reuse it
    ops.apply_operations(painted, ops.validate_operations([{"op": "crop", "params": {"aspect": "1:1"}}, {"op": "red_eye"}]))
    assert len(calls) == 2  # a fresh chain, and the crop changed the geometry: analysed again, once
    ops.apply_operations(
        painted,
        ops.validate_operations([{"op": "red_eye"}, {"op": "crop", "params": {"box": [0, 0, 300, 300]}}, {"op": "red_eye"}]),
    )
    assert len(calls) == 4


# --------------------------------------------------------------------------- red eye


def test_red_eye_fixes_painted_pupils_and_touches_nothing_else(
    astronaut: np.ndarray, astronaut_face: Face, red_eyed: tuple[np.ndarray, list[tuple[float, float, float]]]
) -> None:
    painted, discs = red_eyed
    fixed = red_eye(painted)
    assert eyes_fixed(painted, discs) == 0
    assert eyes_fixed(fixed, discs) == len(discs) == 2
    assert psnr(painted, fixed, ~eye_windows(astronaut.shape, [astronaut_face])) > 45
    x, y, w, h = SHIRT
    assert np.array_equal(fixed[y : y + h, x : x + w], painted[y : y + h, x : x + w])  # the red shirt stays red
    # pupils become dark and neutral, not grey-pink
    core = disc_mask(astronaut.shape, discs, 0.6)
    assert fixed[core].mean(axis=0).max() < 110
    assert np.ptp(fixed[core].mean(axis=0)) < 25


def test_red_eye_keeps_catch_light(red_eyed: tuple[np.ndarray, list[tuple[float, float, float]]]) -> None:
    painted, discs = red_eyed
    fixed = red_eye(painted)
    for x, y, r in discs:
        gx, gy = round(x + 0.35 * r - 0.5), round(y - 0.35 * r - 0.5)
        assert painted[gy, gx].min() > 200
        assert fixed[gy, gx].min() > 200


def test_red_eye_fixes_small_faces_in_collage(
    mosaic: tuple[np.ndarray, list[tuple[int, int, int, int]], list[Face]],
) -> None:
    img, _, faces = mosaic
    painted, discs = paint_red_eyes(img, faces)
    fixed = red_eye(painted)
    assert eyes_fixed(fixed, discs) == len(discs) == 2 * len(faces)
    assert psnr(painted, fixed, ~eye_windows(img.shape, faces)) > 45


def test_red_eye_leaves_photos_without_red_eyes_unchanged(
    astronaut: np.ndarray, mosaic: tuple[np.ndarray, list[tuple[int, int, int, int]], list[Face]]
) -> None:
    assert np.array_equal(red_eye(astronaut), astronaut)
    assert np.array_equal(red_eye(mosaic[0]), mosaic[0])
    assert np.array_equal(red_eye(data.coffee()), data.coffee())


def test_red_eye_strength_zero_changes_nothing(red_eyed: tuple[np.ndarray, list[tuple[float, float, float]]]) -> None:
    painted, _ = red_eyed
    assert np.array_equal(red_eye(painted, strength=0.0), painted)


def test_red_eye_keeps_alpha_channel(red_eyed: tuple[np.ndarray, list[tuple[float, float, float]]]) -> None:
    painted, discs = red_eyed
    alpha = np.full((*painted.shape[:2], 1), 77, np.uint8)
    fixed = red_eye(np.concatenate([painted, alpha], axis=2))
    assert fixed.shape[2] == 4 and np.all(fixed[..., 3] == 77)
    assert eyes_fixed(fixed[..., :3], discs) == 2


# --------------------------------------------------------------------------- teeth


def test_teeth_whitening_removes_yellow_only_inside_the_mouth(astronaut: np.ndarray, astronaut_face: Face) -> None:
    mask = teeth_region(astronaut, astronaut_face)
    assert mask.sum() > 80  # the smile shows teeth
    yellowed = yellow_teeth(astronaut, mask)
    whitened = teeth.teeth_whitening(yellowed)
    before, after = lab(yellowed), lab(whitened)
    b0, b1 = before[..., 2][mask].mean(), after[..., 2][mask].mean()
    assert b0 > 20
    assert b1 < 0.65 * b0  # default strength removes well over a third of the yellow
    assert after[..., 0][mask].mean() >= before[..., 0][mask].mean()  # lighter, never darker
    [seen] = detect_faces(yellowed)  # the lips as the operation saw them in its own input
    assert seen.inner_lips is not None and seen.outer_lips is not None
    mouth = inner_lips_mask(astronaut.shape, seen.inner_lips)
    outer = inner_lips_mask(astronaut.shape, seen.outer_lips)
    assert np.array_equal(whitened[~outer], yellowed[~outer])  # skin and everything else
    assert psnr(yellowed, whitened, ~mouth) > 45
    lips = outer & ~mouth & (before[..., 1] >= 10)  # lip tissue (reddish) between the contours
    assert lips.sum() > 200 and np.array_equal(whitened[lips], yellowed[lips])
    # between the contours only teeth the inner contour cuts off change: bright and not red
    rim = outer & ~mouth & np.any(whitened != yellowed, axis=2)
    assert rim.sum() < 40 and (before[..., 1][rim] < 10).all() and (before[..., 0][rim] > 60).all()


def test_teeth_whitening_strength_scales_the_effect(astronaut: np.ndarray, astronaut_face: Face) -> None:
    mask = teeth_region(astronaut, astronaut_face)
    yellowed = yellow_teeth(astronaut, mask)
    b = [lab(teeth.teeth_whitening(yellowed, strength=s))[..., 2][mask].mean() for s in (0.0, 0.3, 1.0)]
    assert b[0] > b[1] > b[2]
    assert np.array_equal(teeth.teeth_whitening(yellowed, strength=0.0), yellowed)


def test_teeth_whitening_leaves_closed_mouth_alone(astronaut: np.ndarray, astronaut_face: Face) -> None:
    assert astronaut_face.landmarks is not None
    closed = astronaut_face.landmarks.copy()
    closed[14] = closed[13]  # lower inner lip on the upper one
    face = replace(astronaut_face, landmarks=closed)
    assert face.mouth_opening == 0.0
    assert teeth._whiten_face(astronaut, face, 1.0) is None
    assert teeth._whiten_face(astronaut, astronaut_face, 1.0) is not None


def test_portrait_ops_leave_faceless_photo_unchanged() -> None:
    coffee = data.coffee()
    assert red_eye(coffee) is coffee
    assert teeth.teeth_whitening(coffee) is coffee


# --------------------------------------------------------------------------- registry


def test_portrait_ops_registered_with_validated_parameters() -> None:
    assert get("red_eye").validate({}) == {"strength": 1.0, "threshold": 0.45, "cat_eye": False}
    assert get("teeth_whitening").validate({"strength": "0.3"}) == {"strength": 0.3}
    with pytest.raises(ValidationError, match=r"teeth_whitening: parameter 'strength' must be at most 1"):
        get("teeth_whitening").validate({"strength": 2})
    with pytest.raises(ValidationError, match=r"red_eye: unknown parameter 'radius'"):
        get("red_eye").validate({"radius": 3})


def test_teeth_whitening_default_brings_clearly_yellow_teeth_to_natural_white(
    astronaut: np.ndarray, astronaut_face: Face
) -> None:
    mask = teeth_region(astronaut, astronaut_face)
    natural = lab(astronaut)[..., 2][mask].mean()
    assert 6 < natural < 16  # the astronaut's own teeth: natural white
    for db in (14.0, 20.0, 26.0):  # b* about 24, 30, 36: clearly yellow
        yellowed = yellow_teeth(astronaut, mask, db=db)
        whitened = teeth.teeth_whitening(yellowed)
        before, after = lab(yellowed), lab(whitened)
        assert 24 <= before[..., 2][mask].mean() <= 38
        assert 8 <= after[..., 2][mask].mean() <= 14  # near natural white, not blue-grey
        lift = after[..., 0][mask].mean() - before[..., 0][mask].mean()
        assert 0.5 < lift < 4  # lighter, gently
        assert abs(after[..., 1][mask].mean() - before[..., 1][mask].mean()) < 3  # hue of the teeth kept


def test_teeth_whitening_leaves_natural_white_teeth_nearly_unchanged(astronaut: np.ndarray, astronaut_face: Face) -> None:
    mask = teeth_region(astronaut, astronaut_face)
    before, after = lab(astronaut), lab(teeth.teeth_whitening(astronaut))
    # only the few pixels above natural white (b* 10) lose some yellow
    assert 0 <= before[..., 2][mask].mean() - after[..., 2][mask].mean() < 2.5
    assert after[..., 2][mask].mean() > 7


def test_whitening_targets_follow_strength() -> None:
    yellow = np.array([[[75.0, 2.0, 30.0]]], np.float32)
    b = {s: float(teeth.whitening_targets(yellow, s)[0, 0, 2]) for s in (0.0, 0.3, 0.6, 1.0)}
    assert b[0.0] == pytest.approx(30.0)
    assert b[0.3] == pytest.approx(20.0)  # half of the excess over natural white (10)
    assert b[0.6] == pytest.approx(teeth.NATURAL_TEETH_B)
    assert b[1.0] == pytest.approx(teeth.WHITEST_TEETH_B)
    bluish = np.array([[[75.0, 0.0, -3.0]]], np.float32)
    assert teeth.whitening_targets(bluish, 1.0)[0, 0, 2] == pytest.approx(-3.0)  # never bluer


def test_red_eye_fixes_faces_of_26_to_48_px() -> None:
    img, placed = collage(widths=(48, 40, 34, 30, 28, 26), seed=1)
    faces = detect_faces(img)
    assert matched(placed, faces) == len(placed)
    for colour in ((190, 25, 30), (160, 55, 50), (110, 30, 30)):
        painted, discs = paint_red_eyes(img, faces, colour)
        fixed = red_eye(painted)
        assert eyes_fixed(fixed, discs) == len(discs) == 2 * len(placed)
        assert psnr(painted, fixed, ~eye_windows(img.shape, faces)) > 45


def test_red_eye_cat_eye_darkens_golden_pupils_only_when_asked(astronaut: np.ndarray, astronaut_face: Face) -> None:
    painted, discs = paint_red_eyes(astronaut, [astronaut_face], (225, 185, 80))
    assert np.array_equal(red_eye(painted), painted)  # off by default
    fixed = red_eye(painted, cat_eye=True)
    core = disc_mask(astronaut.shape, discs, 0.6)
    assert fixed[core].astype(float).mean() < 90
    assert np.ptp(fixed[core].mean(axis=0)) < 10  # dark and neutral
    assert psnr(painted, fixed, ~eye_windows(astronaut.shape, [astronaut_face])) > 45
    assert np.array_equal(red_eye(astronaut, cat_eye=True), astronaut)  # no bright pupils here


def test_red_eye_cat_eye_finds_bright_pupils_in_faces_of_26_to_48_px() -> None:
    """Irises of 1-2 px are too small for the rim test; the brighter-centre test finds them
    (before it: 4 and 2 of 12) and still leaves normal eyes alone."""
    img, _ = collage(widths=(48, 40, 34, 30, 28, 26), seed=1)
    faces = detect_faces(img)
    assert np.array_equal(red_eye(img, cat_eye=True), img)
    for colour in ((225, 185, 80), (235, 232, 222)):  # golden, white
        painted, discs = paint_red_eyes(img, faces, colour)
        fixed = red_eye(painted, cat_eye=True)
        assert eyes_darkened(fixed, discs) >= 10 and len(discs) == 12
        assert psnr(painted, fixed, ~eye_windows(img.shape, faces)) > 45
