"""teeth_whitening to natural white at every face size, judged against the photo's own white.

Synthetic scenes with known answers (:mod:`retouch_testkit.teeth`, measured as
:mod:`bench.eval_teeth` does): the astronaut's natural-white teeth yellowed at the photo's
resolution, the face scaled to 60-250 px, the whole picture lit by a blue or cool light or
none. Whitening must take off at least 90 % of the added yellow and end near the teeth's own
natural white *under that light* (not absolute b* 10), without touching lips or skin; closed
mouths are left alone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from retouch.ops.context import ChainContext
from retouch.ops.faces import Face, detect_faces
from retouch.ops.portrait import teeth, white
from retouch_testkit.teeth import LIGHTS, STAINS, face_scene, measure


def _check(m: dict[str, float], tolerance: float = 2.5) -> None:
    assert m["yellowed"] - m["natural"] > 12  # clearly yellowed
    assert m["removed"] >= 0.9, m  # at least 90 % of the added yellow goes...
    assert abs(m["whitened"] - m["natural"]) <= tolerance, m  # ...ending at natural white, not bluer
    assert m["skin_max"] == 0.0 and m["lips_max"] < 1.0, m  # skin untouched, lips all but so


@pytest.mark.parametrize("width", [60, 100, 250])
def test_yellowed_teeth_come_back_to_natural_white_at_every_face_size(width: int) -> None:
    """Before (issue 24.3) small faces kept part of the cast: the inner-lip contour of the face
    mesh cuts off rims of teeth, and stained teeth (warmer, a* 10-14) fell out of the mask."""
    m = measure(width, None)
    _check(m)
    assert 8 <= m["whitened"] <= 13


@pytest.mark.parametrize("width", [60, 150])
def test_brown_yellow_stains_are_whitened_too(width: int) -> None:
    _check(measure(width, None, stain=STAINS["brown-yellow"]))


@pytest.mark.parametrize(("light", "width"), [("blue stage", 60), ("blue stage", 150), ("cool evening", 100)])
def test_teeth_under_tinted_light_end_at_the_photos_white(light: str, width: int) -> None:
    """Under a blue light natural teeth measure b* -11 (cool evening -1); whitened against
    absolute neutral they kept b* 5.7-6.1 (3-8 % of the yellow removed; cool evening 36-43 %)."""
    m = measure(width, LIGHTS[light])
    assert m["natural"] < 0
    _check(m)


def test_a_blue_sky_is_not_taken_for_the_light() -> None:
    m = measure(80, None, sky=True)
    _check(m)
    assert m["whitened"] > 8  # not whitened against the sky's blue


def test_photo_white_finds_the_light_and_nothing_in_neutral_photos() -> None:
    natural, _, _ = face_scene(150)
    assert white.photo_white(natural, detect_faces(natural)) is None
    blue, _, _ = face_scene(150, light=LIGHTS["blue stage"])
    gains = white.photo_white(blue, detect_faces(blue))
    assert gains is not None
    light = LIGHTS["blue stage"]
    assert light is not None
    truth = np.array(light) / light[1]
    assert np.allclose(gains, truth, atol=0.08), gains
    sky, _, _ = face_scene(150, sky=True)
    assert white.photo_white(sky, detect_faces(sky)) is None


def test_a_closed_mouth_is_left_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    _, yellow, _ = face_scene(150)
    [face] = detect_faces(yellow)
    assert face.landmarks is not None
    closed = face.landmarks.copy()
    closed[14] = closed[13]  # lower inner lip on the upper one
    shut = replace(face, landmarks=closed)
    assert shut.mouth_opening == 0.0

    def only(image: np.ndarray, context: ChainContext | None) -> list[Face]:
        return [shut]

    monkeypatch.setattr(teeth, "faces_in", only)
    context = ChainContext()
    assert teeth.teeth_whitening(yellow, context=context) is yellow
    assert context.outcome.teeth_whitened == 0 and context.outcome.faces_found == 1


def test_teeth_whitened_counts_faces_whose_teeth_were_whitened() -> None:
    _, yellow, _ = face_scene(100, light=LIGHTS["blue stage"])
    context = ChainContext()
    out = teeth.teeth_whitening(yellow, context=context)
    assert context.outcome.teeth_whitened == 1 and context.outcome.faces_found == 1
    assert not np.array_equal(out, yellow)


def test_balancing_round_trips_and_is_skipped_in_neutral_light() -> None:
    rgb = np.random.default_rng(0).uniform(0.05, 0.7, (8, 8, 3)).astype(np.float32)
    assert white.to_balanced(rgb, None) is rgb and white.from_balanced(rgb, None) is rgb
    gains = white.white_gains(0.0, -20.0)  # a blue light: blue above green above red
    assert gains[2] > gains[1] == 1.0 > gains[0]
    assert np.allclose(white.from_balanced(white.to_balanced(rgb, gains), gains), rgb, atol=1e-4)
