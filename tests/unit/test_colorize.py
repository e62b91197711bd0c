"""colorize: reference transfer, hint propagation and auto mode (model / library) on real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import color, data

from retouch.errors import ValidationError
from retouch.ops.colorize import colorfulness, colorize
from retouch.ops.colorize import library as colorize_library
from retouch.ops.context import ChainContext
from retouch.ops.hint_syntax import parse_hints
from retouch.ops.specs import get as get_operation
from retouch.settings import OperationSettings
from retouch_testkit.synthetic import edge_halves, edge_image
from retouch_testkit.tints import TONES, toned
from training import colorize_library as library_builder

COLORIZE = get_operation("colorize")


def configured(**settings: str) -> ChainContext:
    """A chain context whose operations are configured as the functions configure them."""
    return ChainContext(settings=OperationSettings(**settings))


PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")


def grey(rgb: np.ndarray) -> np.ndarray:
    g = np.rint(color.rgb2gray(rgb) * 255).astype(np.uint8)
    return np.dstack([g, g, g])


def lightness_psnr(result: np.ndarray, grey_input: np.ndarray) -> float:
    mse = np.mean((color.rgb2lab(result)[..., 0] - color.rgb2lab(grey_input)[..., 0]) ** 2)
    return float(10 * np.log10(100.0**2 / max(mse, 1e-12)))


def ab_error(result: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.linalg.norm(color.rgb2lab(result)[..., 1:] - color.rgb2lab(truth)[..., 1:], axis=-1)))


def jitter_colours(rgb: np.ndarray, degrees: float = 10.0, chroma: float = 1.15) -> np.ndarray:
    """The same photo with its hue rotated and chroma scaled in Lab, mirrored left-right."""
    lab = color.rgb2lab(rgb)
    angle = np.deg2rad(degrees)
    a, b = lab[..., 1], lab[..., 2]
    lab[..., 1] = chroma * (a * np.cos(angle) - b * np.sin(angle))
    lab[..., 2] = chroma * (a * np.sin(angle) + b * np.cos(angle))
    out = np.clip(color.lab2rgb(lab) * 255, 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(out[:, ::-1])


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {name: getattr(data, name)() for name in PHOTOS}


@pytest.mark.parametrize("name", PHOTOS)
def test_colorize_reference_self_jittered_recovers_colour(photos: dict[str, np.ndarray], name: str) -> None:
    truth = photos[name]
    g = grey(truth)
    result = colorize(g, mode="reference", reference=jitter_colours(truth))
    assert result.shape == truth.shape and result.dtype == np.uint8
    assert lightness_psnr(result, g) > 40
    assert colorfulness(result) > colorfulness(g) + 15
    baseline = ab_error(g, truth)  # grey: a* = b* = 0
    assert ab_error(result, truth) < 0.7 * baseline


@pytest.mark.parametrize(("name", "other"), [("coffee", "astronaut"), ("chelsea", "coffee"), ("rocket", "chelsea")])
def test_colorize_reference_other_photo_keeps_lightness_and_adds_colour(
    photos: dict[str, np.ndarray], name: str, other: str
) -> None:
    g = grey(photos[name])
    result = colorize(g, mode="reference", reference=photos[other])
    assert lightness_psnr(result, g) > 40
    assert colorfulness(result) > colorfulness(g) + 10


def test_colorize_colour_input_uses_its_lightness_and_keeps_alpha(photos: dict[str, np.ndarray]) -> None:
    truth = photos["chelsea"]
    alpha = np.full((*truth.shape[:2], 1), 77, np.uint8)
    result = colorize(np.concatenate([truth, alpha], axis=2), mode="reference", reference=photos["coffee"], force=True)
    assert result.shape == (*truth.shape[:2], 4)
    assert np.all(result[:, :, 3] == 77)
    assert lightness_psnr(result[:, :, :3], truth) > 40


def test_colorize_strength_zero_gives_grey(photos: dict[str, np.ndarray]) -> None:
    g = grey(photos["coffee"])
    result = colorize(g, mode="reference", reference=photos["coffee"], strength=0.0)
    assert np.abs(result.astype(int) - g).max() <= 1


def synthetic_edge() -> np.ndarray:
    """A dark left half and a bright right half with mild noise, split by a sharp vertical edge."""
    return edge_image()


def hue_degrees(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = color.rgb2lab(rgb)
    return np.degrees(np.arctan2(lab[..., 2], lab[..., 1])), np.hypot(lab[..., 1], lab[..., 2])


def test_colorize_hints_do_not_bleed_across_edge() -> None:
    image = synthetic_edge()
    w = image.shape[1]
    result = colorize(image, mode="hints", hints="0.25,0.5,#ff0000; 240,120,#0000ff")
    hue, chroma = hue_degrees(result)
    red_hue = hue_degrees(np.array([[[255, 0, 0]]], np.uint8))[0][0, 0]
    blue_hue = hue_degrees(np.array([[[0, 0, 255]]], np.uint8))[0][0, 0]

    def near(h: np.ndarray, target: float) -> np.ndarray:
        return np.abs((h - target + 180) % 360 - 180) < 25

    left = near(hue[:, : w // 2], red_hue) & (chroma[:, : w // 2] > 15)
    right = near(hue[:, w // 2 :], blue_hue) & (chroma[:, w // 2 :] > 15)
    assert left.mean() > 0.9
    assert right.mean() > 0.9
    assert lightness_psnr(result, image) > 40


def test_parse_hints_accepts_pixels_fractions_and_rgb_triples() -> None:
    hints = parse_hints("10,20,#FF8000; 0.5,0.25,00ff00 ;3,4,1,2,3")
    assert [(h.x, h.y, h.fractional, h.rgb) for h in hints] == [
        (10, 20, False, (255, 128, 0)),
        (0.5, 0.25, True, (0, 255, 0)),
        (3, 4, False, (1, 2, 3)),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10,20", "hint 1 ('10,20') must be x,y,#rrggbb or x,y,r,g,b"),
        ("1,2,#ff0000;a,2,#ff0000", "hint 2 ('a,2,#ff0000'): x and y must be numbers"),
        ("1,2,#ff00", "colour must be #rrggbb, got '#ff00'"),
        ("1,2,300,0,0", "r,g,b must be whole numbers 0-255"),
        ("-1,2,#ff0000", "x and y must be non-negative numbers"),
    ],
)
def test_parse_hints_rejects_malformed_hints_precisely(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_hints(text)


def test_colorize_hints_outside_image_rejected() -> None:
    with pytest.raises(ValidationError, match=r"hint 1 at \(900, 10\) lies outside the 320x240 image"):
        colorize(synthetic_edge(), mode="hints", hints="900,10,#ff0000")


def test_colorize_reference_missing_is_invalid() -> None:
    needs = "colorize: mode=reference needs reference=<name of another image in the job>"
    with pytest.raises(ValidationError) as raised:
        colorize(synthetic_edge(), mode="reference")
    assert raised.value.message == needs
    with pytest.raises(ValidationError) as raised:
        COLORIZE.validate({"mode": "reference"})
    assert raised.value.message == needs
    with pytest.raises(ValidationError, match=r"'other\.jpg' was not loaded"):
        colorize(synthetic_edge(), mode="reference", reference="other.jpg")


def test_colorize_registered_params_validate() -> None:
    assert COLORIZE.validate({}) == {"mode": "auto", "strength": 1.0, "force": False}
    assert COLORIZE.validate({"mode": "reference", "reference": " b.jpg "}) == {
        "mode": "reference",
        "strength": 1.0,
        "force": False,
        "reference": "b.jpg",
    }
    with pytest.raises(ValidationError, match="hints' only applies when mode is hints"):
        COLORIZE.validate({"hints": "1,1,#ff0000"})
    with pytest.raises(ValidationError, match="mode=hints needs hints="):
        COLORIZE.validate({"mode": "hints"})
    with pytest.raises(ValidationError, match="colour must be #rrggbb"):
        COLORIZE.validate({"mode": "hints", "hints": "1,1,red"})
    described = {p["name"]: p for p in COLORIZE.describe()["params"]}
    assert described["reference"]["type"] == "string"
    assert set(described) == {"mode", "strength", "hints", "reference", "force"}


def write_onnx(path: Path, weight: tuple[float, float], bias: tuple[float, float]) -> Path:
    """A tiny model with the Zhang et al. interface: 1x1x224x224 L-50 -> 1x2x56x56 ab = w*(L-50)+b."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.array(weight, np.float32).reshape(2, 1, 1, 1)
    b = np.array(bias, np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["data_l", "W", "B"], ["conv"]),
            helper.make_node("AveragePool", ["conv"], ["class8_ab"], kernel_shape=[4, 4], strides=[4, 4]),
        ],
        "tiny_colorizer",
        [helper.make_tensor_value_info("data_l", TensorProto.FLOAT, [1, 1, 224, 224])],
        [helper.make_tensor_value_info("class8_ab", TensorProto.FLOAT, [1, 2, 56, 56])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_colorize_auto_constant_model_output_followed(
    photos: dict[str, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = write_onnx(tmp_path / "const.onnx", (0, 0), (20, -30))
    g = grey(photos["coffee"])
    result = colorize(g, context=configured(colorize_model_path=str(model)))
    lab = color.rgb2lab(result)
    mid = (lab[..., 0] > 35) & (lab[..., 0] < 80)  # where (20, -30) is inside the sRGB gamut
    assert np.median(lab[..., 1][mid]) == pytest.approx(20, abs=2)
    assert np.median(lab[..., 2][mid]) == pytest.approx(-30, abs=2)
    assert lightness_psnr(result, g) > 40


def test_colorize_auto_linear_model_output_followed(
    photos: dict[str, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = write_onnx(tmp_path / "linear.onnx", (0.4, 0), (0, 0))
    g = grey(photos["chelsea"])
    lab = color.rgb2lab(colorize(g, context=configured(colorize_model_path=str(model))))
    expected = 0.4 * (color.rgb2lab(g)[..., 0] - 50)
    mid = (lab[..., 0] > 25) & (lab[..., 0] < 85)
    assert np.corrcoef(lab[..., 1][mid], expected[mid])[0, 1] > 0.9
    assert np.median(np.abs(lab[..., 1][mid] - expected[mid])) < 3
    assert np.abs(lab[..., 2][mid]).mean() < 2


def test_colorize_auto_missing_model_is_permanent_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from retouch.errors import PermanentError

    with pytest.raises(PermanentError, match="the colorization model could not be read") as raised:
        colorize(synthetic_edge(), context=configured(colorize_model_path=str(tmp_path / "absent.onnx")))
    assert str(tmp_path) not in raised.value.message  # no local path for users (it is in the log)


@pytest.fixture(scope="module")
def library_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library as the layer build makes it: ``python -m training.colorize_library OUT.npz``."""
    out = tmp_path_factory.mktemp("library") / "lib.npz"
    assert library_builder.main([str(out)]) == 0
    return out


def test_colorize_library_builder_writes_loadable_library(library_file: Path) -> None:
    out = library_file
    library = colorize_library.read_library(out)
    assert library.names == library_builder.SKIMAGE_PHOTOS
    assert all(max(lab.shape[:2]) == colorize_library.THUMB_SIDE for lab in library.labs)
    assert out.stat().st_size < 1_000_000
    built = library_builder.build_library()
    assert all(np.allclose(a, b) for a, b in zip(library.labs, built.labs, strict=True))


def test_colorize_auto_without_model_uses_library(
    photos: dict[str, np.ndarray], library_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = library_file
    library = colorize_library.load_library(str(path))
    for name in ("chelsea", "coffee"):
        truth = photos[name]
        g = grey(truth)
        lightness = colorize_library.fit_side(color.rgb2lab(g)[..., 0].astype(np.float32), colorize_library.THUMB_SIDE)
        assert library.names[colorize_library.retrieve(library, lightness, k=1)[0]] == name
        result = colorize(g, mode="auto", context=configured(colorize_library_path=str(path)))
        assert lightness_psnr(result, g) > 40
        assert colorfulness(result) > colorfulness(g) + 15
        assert ab_error(result, truth) < 0.8 * ab_error(g, truth)


def test_colorize_auto_packaged_model_is_used_by_default(photos: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    from retouch.ops.colorize import PACKAGED_MODEL

    monkeypatch.delenv("COLORIZE_MODEL_PATH", raising=False)
    monkeypatch.delenv("COLORIZE_LIBRARY_PATH", raising=False)
    assert PACKAGED_MODEL.is_file() and PACKAGED_MODEL.stat().st_size < 8_000_000
    for name in ("chelsea", "rocket"):
        truth = photos[name]
        g = grey(truth)
        result = colorize(g)
        assert colorfulness(result) > colorfulness(g) + 5
        assert ab_error(result, truth) < ab_error(g, truth)
        # luminance unchanged: L* of the result is the grey input's to within 8-bit rounding
        diff = np.abs(color.rgb2lab(result)[..., 0] - color.rgb2lab(g)[..., 0])
        assert diff.mean() < 0.3 and diff.max() < 1.5


def test_colorize_auto_packaged_model_stays_in_gamut_and_calm_on_an_edge() -> None:
    image = synthetic_edge()
    result = colorize(image)
    lab = color.rgb2lab(result)
    assert np.abs(lab[..., 0] - color.rgb2lab(image)[..., 0]).max() < 1.5  # nothing clipped
    left, right = (half[..., 1:].reshape(-1, 2) for half in edge_halves(lab))
    # on each side of the luminance edge the chroma varies only gently (the model may shade a flat
    # region from top to bottom, like a sky), and not locally: no blotches
    assert left.std(axis=0).max() < 10 and right.std(axis=0).max() < 10
    ab = np.ascontiguousarray(lab[..., 1:], dtype=np.float32)
    local = ab - cv2.blur(ab, (31, 31), borderType=cv2.BORDER_REFLECT)
    for half in edge_halves(local):
        assert half.reshape(-1, 2).std(axis=0).max() < 1.5


def textured_edge() -> np.ndarray:
    """The synthetic edge with a fine texture on both halves (so it is not featureless)."""
    image = synthetic_edge().astype(np.float32)
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    texture = 14 * np.sin(xx / 1.3) * np.sin(yy / 1.7)
    return np.clip(image + texture[:, :, None], 0, 255).astype(np.uint8)


def test_colorize_auto_model_chroma_follows_luminance_edges(tmp_path: Path) -> None:
    model = write_onnx(tmp_path / "linear.onnx", (0.5, 0.3), (0, 0))
    image = textured_edge()
    lab = color.rgb2lab(colorize(image, context=configured(colorize_model_path=str(model))))
    w = image.shape[1]
    left, right = (half[..., 1:].reshape(-1, 2) for half in edge_halves(lab))
    # the chroma changes at the edge itself (most of the change within 2 px): no bleeding across it
    across = np.linalg.norm(lab[:, w // 2 + 1, 1:] - lab[:, w // 2 - 2, 1:], axis=-1).mean()
    assert across > 0.4 * np.linalg.norm(right.mean(axis=0) - left.mean(axis=0)) > 3


def test_colorize_training_list_is_licensed_held_out_and_free_of_reserved_photos() -> None:
    import json

    from training import colorize_data

    photos = json.loads(colorize_data.LIST.read_text())["photos"]
    assert all(entry["licence"] and entry["version"] and entry["split"] in colorize_data.SPLITS for entry in photos)
    assert not [entry for entry in photos if entry["package"].startswith(colorize_data.RESERVED)]
    names = [colorize_data.photo_name(entry) for entry in photos]
    assert len(set(names)) == len(names)
    trained = [entry for entry in photos if entry["split"] in ("train", "val")]
    held_out = sum(entry["split"] == "val" for entry in trained) / len(trained)
    assert 0.08 <= held_out <= 0.2
    # the test photos come from packages none of whose photos were trained on or tuned on
    test_packages = {entry["package"] for entry in photos if entry["split"] == "test"}
    assert sum(entry["split"] == "test" for entry in photos) >= 16
    assert not test_packages & {entry["package"] for entry in photos if entry["split"] == "train"}
    # the second test split (evaluated once) comes from packages that no other split uses
    test2_packages = {entry["package"] for entry in photos if entry["split"] == "test2"}
    assert sum(entry["split"] == "test2" for entry in photos) >= 16
    assert not test2_packages & {entry["package"] for entry in photos if entry["split"] != "test2"}


def test_colorize_training_fetcher_refuses_reserved_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from training import colorize_data

    for package in ("lomiri-wallpapers-16.04", "libdlib19.1", "python3-mahotas", "insightface", "@vladmandic/face-api"):
        listing = tmp_path / "list.json"
        entry = {"package": package, "version": "1", "file": "usr/share/x.jpg", "licence": "x", "split": "train"}
        listing.write_text(json.dumps({"seed": 1, "photos": [entry]}))
        monkeypatch.setattr(colorize_data, "LIST", listing)
        with pytest.raises(SystemExit, match="reserved for evaluation"):
            colorize_data.fetch(tmp_path / "out")
        assert not (tmp_path / "out").exists()


# --- monochrome or colour, calm, skin (issue 24.4) ----------------------------------------------


@pytest.mark.parametrize("tone", sorted(TONES))
def test_colorize_tinted_monochrome_is_coloured_as_its_grey(photos: dict[str, np.ndarray], tone: str) -> None:
    from retouch.ops.colorize.tint import is_monochrome

    g = grey(photos["chelsea"])
    tinted = toned(g, *TONES[tone])
    assert is_monochrome(tinted) and not is_monochrome(photos["chelsea"])
    context = ChainContext()
    result = colorize(tinted, context=context)
    assert context.outcome.colorized is True and not context.outcome.already_in_colour
    # the tint is dropped: the print is coloured from its luminance, as the grey photo is
    assert np.abs(color.rgb2lab(result)[..., 0] - color.rgb2lab(tinted)[..., 0]).mean() < 0.5
    assert np.abs(result.astype(int) - colorize(g).astype(int)).mean() < 4


@pytest.mark.parametrize("name", PHOTOS)
def test_colorize_leaves_a_colour_photo_exactly_as_it_is_unless_forced(photos: dict[str, np.ndarray], name: str) -> None:
    truth = photos[name]
    for mode, hints in (("auto", None), ("hints", "10,10,#ff0000")):
        context = ChainContext()
        result = colorize(truth.copy(), mode=mode, hints=hints, context=context)
        assert np.array_equal(result, truth)
        assert context.outcome.already_in_colour is True and context.outcome.colorized is False
    forced = ChainContext()
    result = colorize(truth, context=forced, force=True)
    assert forced.outcome.colorized is True and not np.array_equal(result, truth)
    assert lightness_psnr(result, truth) > 40


def test_colorize_keeps_a_featureless_grey_image_calm() -> None:
    rng = np.random.default_rng(3)
    flat = np.clip(128 + rng.normal(0, 2, (240, 320)), 0, 255).astype(np.uint8)
    context = ChainContext()
    lab = color.rgb2lab(colorize(np.dstack([flat] * 3), context=context))
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    assert chroma.max() < 1.5  # no blotches, no invented colour
    assert context.outcome.colorized is True and context.outcome.faces_found == 0


def test_colorize_gives_a_face_skin_tones(photos: dict[str, np.ndarray]) -> None:
    g = grey(photos["astronaut"])
    context = ChainContext()
    lab = color.rgb2lab(colorize(g, context=context))
    assert context.outcome.faces_found == 1
    face = context.faces(g)[0]
    x, y, w, h = face.box
    cheeks = lab[int(y + 0.55 * h) : int(y + 0.7 * h), int(x + 0.2 * w) : int(x + 0.8 * w)].reshape(-1, 3)
    a, b = np.median(cheeks[:, 1]), np.median(cheeks[:, 2])
    assert 7 < a < 25 and 8 < b < 30  # a warm, skin-like chroma (the truth is about 11, 19)
    hue = np.degrees(np.arctan2(b, a))
    assert 30 < hue < 70


def test_colorize_warm_chroma_fades_in_bright_regions_and_green_gets_livelier() -> None:
    from retouch.ops.colorize.natural import hue_prior

    work_l = np.array([[92.0, 50.0, 92.0, 50.0]], np.float32)
    ab = np.array([[[10.0, 30.0], [10.0, 30.0], [-3.0, -20.0], [-20.0, 20.0]]], np.float32)  # orange, orange, blue, green
    factor = hue_prior(work_l, ab)[0]
    assert factor[0] < 0.3  # cream painted on a white wall: mostly removed
    assert factor[1] == pytest.approx(1.0)  # orange in the mid-tones is kept
    assert factor[2] == pytest.approx(1.0)  # a bright blue sky is kept
    assert 1.2 < factor[3] < 1.5  # green foliage a little livelier


def test_colorize_magenta_on_texture_turns_green_and_stays_on_smooth_areas() -> None:
    from retouch.ops.colorize.natural import naturalize

    rng = np.random.default_rng(3)
    work_l = np.full((96, 128), 50.0, np.float32)
    work_l[:, 64:] += rng.normal(0, 10, (96, 64)).astype(np.float32)  # foliage-like texture on the right
    magenta = np.zeros((96, 128, 2), np.float32)
    magenta[:] = (20.0, -12.0)
    out = naturalize(work_l, magenta, packaged=True)
    smooth, textured = out[20:76, 8:40].reshape(-1, 2).mean(axis=0), out[20:76, 88:120].reshape(-1, 2).mean(axis=0)
    assert smooth[0] > 10 and smooth[1] < -5  # a magenta object (smooth) keeps its colour
    assert textured[0] < -5 and textured[1] > 3  # magenta on leaves and grass becomes green
    # no islands: the chroma within the textured half varies smoothly
    assert float(np.std(out[20:76, 88:120, 0])) < 4


# --- the model's own confidence (issue 24) ----------------------------------------------------


def three_bin_model(path: Path, bias: tuple[float, float, float], slope: float = 0.0, scale: float = 0.85) -> Path:
    """A model with the packaged one's tail: logits over three a*b* bins, (30, 0), (-30, 0) and
    (0, 0), softmax, and the chroma-scaled mean ``ab`` as a 1x1 convolution of it; the logits are
    ``bias + slope * (L* - 50)`` for the first bin (pooled to 28x28)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    bins = np.array([[30.0, 0.0], [-30.0, 0.0], [0.0, 0.0]], np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["data_l"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
            helper.make_node("Conv", ["pooled", "logit_w", "logit_b"], ["logits"], kernel_shape=[1, 1]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
            helper.make_node("Conv", ["probs", "centres.weight"], ["ab"], kernel_shape=[1, 1]),
        ],
        "three-bins",
        [helper.make_tensor_value_info("data_l", TensorProto.FLOAT, [1, 1, 224, 224])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, [1, 2, 28, 28])],
        [
            numpy_helper.from_array(np.array([slope, 0, 0], np.float32).reshape(3, 1, 1, 1), "logit_w"),
            numpy_helper.from_array(np.array(bias, np.float32), "logit_b"),
            numpy_helper.from_array((scale * bins.T).reshape(2, 3, 1, 1).astype(np.float32), "centres.weight"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, str(path))
    return path


def with_confidence(path: Path, scale: float = 0.85) -> Path:
    import onnx

    from training.add_confidence import add_confidence

    out = path.with_name(path.stem + "-confidence.onnx")
    onnx.save(add_confidence(onnx.load(str(path)), scale), str(out))
    return out


def run_model(path: Path, centred_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(centred_l.astype(np.float32)[None, None])
    ab, confidence = net.forward(["ab", "confidence"])
    return ab[0].transpose(1, 2, 0), confidence[0, 0]


@pytest.mark.parametrize(
    ("bias", "expected"),
    [
        ((12.0, 0.0, 0.0), 1.0),  # sure of (30, 0): the truth is closer to the estimate than to grey
        ((0.0, 0.0, -40.0), 0.5),  # torn between (30, 0) and (-30, 0): the estimate is grey itself
        ((np.log(0.6 / 0.4), 0.0, -40.0), 0.6),  # estimate (6, 0): closer for (30, 0) only, 60 %
    ],
)
def test_colorize_confidence_output_is_the_models_probability_of_beating_grey(
    tmp_path: Path, bias: tuple[float, float, float], expected: float
) -> None:
    model = with_confidence(three_bin_model(tmp_path / "three.onnx", bias))
    ab, confidence = run_model(model, np.zeros((224, 224)))
    assert confidence.shape == (28, 28)
    assert np.allclose(confidence, expected, atol=0.01)
    # the ab output is the model's as before
    original = cv2.dnn.readNetFromONNX(str(tmp_path / "three.onnx"))
    original.setInput(np.zeros((1, 1, 224, 224), np.float32))
    assert np.allclose(ab, original.forward()[0].transpose(1, 2, 0), atol=1e-4)


def test_colorize_confidence_output_matches_its_definition_per_pixel(tmp_path: Path) -> None:
    from training.add_confidence import SHARPNESS

    scale = 0.85
    model = with_confidence(three_bin_model(tmp_path / "three.onnx", (0.0, 0.5, -1.0), slope=0.08), scale)
    centred = np.tile(np.linspace(-50, 50, 224, dtype=np.float32), (224, 1))  # the first bin likelier to the right
    ab, confidence = run_model(model, centred)
    logits = np.stack(np.broadcast_arrays(0.08 * cv2.resize(centred, (28, 28), interpolation=cv2.INTER_AREA), 0.5, -1.0), -1)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    bins = np.array([[30.0, 0.0], [-30.0, 0.0], [0.0, 0.0]])
    m = p @ bins
    margin = (bins**2).sum(-1) - ((bins[None, None] - m[:, :, None]) ** 2).sum(-1)
    expected = (p / (1 + np.exp(-SHARPNESS * margin))).sum(-1)
    assert np.allclose(ab, scale * m, atol=1e-3)
    assert np.allclose(confidence, expected, atol=2e-3)
    assert confidence[:, -1].mean() > confidence[:, 0].mean() + 0.1


def test_colorize_model_without_confidence_runs_as_before_and_with_it_reports_it(tmp_path: Path) -> None:
    from retouch.ops.colorize.auto import predict_work

    full_l = np.full((120, 160), 50.0, np.float32)
    plain = three_bin_model(tmp_path / "three.onnx", (12.0, 0.0, 0.0))
    work_l, ab, confidence = predict_work(full_l, str(plain))
    assert confidence is None and ab.shape == (*work_l.shape, 2)
    work_l, ab2, confidence = predict_work(full_l, str(with_confidence(plain)))
    assert confidence is not None and confidence.shape == work_l.shape
    assert np.allclose(ab2, ab) and np.allclose(confidence, 1.0, atol=0.01)


def test_colorize_confident_regions_keep_their_colour_and_unsure_ones_calm() -> None:
    from retouch.ops.colorize.natural import CONFIDENCE_GAINS, naturalize

    rng = np.random.default_rng(5)
    work_l = (50 + rng.normal(0, 6, (96, 128))).astype(np.float32)  # textured, so not featureless
    ab = np.zeros((96, 128, 2), np.float32)
    ab[:] = (18.0, 24.0)  # chroma 30
    confidence = np.full((96, 128), 0.9, np.float32)
    confidence[:, 64:] = 0.3  # the model expects to be no better than grey on the right
    out = naturalize(work_l, ab, confidence=confidence)
    plain = naturalize(work_l, ab)  # without a confidence the chroma is followed as it is
    assert np.hypot(*plain[20:76, 8:120].reshape(-1, 2).T).std() < 0.5

    def chroma(region: np.ndarray) -> float:
        return float(np.hypot(*region.reshape(-1, 2).T).mean())

    sure = chroma(out[20:76, 8:40]) / chroma(plain[20:76, 8:40])
    unsure = chroma(out[20:76, 88:120]) / chroma(plain[20:76, 88:120])
    assert sure == pytest.approx(CONFIDENCE_GAINS[1], rel=0.03) and sure > 1  # kept, a little livelier
    assert unsure == pytest.approx(CONFIDENCE_GAINS[0], rel=0.03) and unsure < 0.6  # calmed
    # the hue is the model's in both
    for region in (out[20:76, 8:40], out[20:76, 88:120]):
        hue = np.degrees(np.arctan2(region[..., 1], region[..., 0]))
        assert np.abs(hue - np.degrees(np.arctan2(24, 18))).max() < 1


def test_colorize_packaged_model_reports_its_confidence_and_is_unsure_on_a_featureless_image() -> None:
    from retouch.ops.colorize import PACKAGED_MODEL, lightness
    from retouch.ops.colorize.auto import predict_work

    rng = np.random.default_rng(3)
    flat = np.clip(128 + rng.normal(0, 2, (240, 320)), 0, 255).astype(np.uint8)
    _, _, flat_confidence = predict_work(lightness(np.dstack([flat] * 3)), str(PACKAGED_MODEL))
    _, _, photo_confidence = predict_work(lightness(grey(data.coffee())), str(PACKAGED_MODEL))
    assert flat_confidence is not None and photo_confidence is not None
    assert flat_confidence.min() >= 0 and photo_confidence.max() <= 1
    # told nothing by the image, the model does not expect to beat grey by much
    assert flat_confidence.mean() < 0.6
    assert photo_confidence.max() > 0.7
