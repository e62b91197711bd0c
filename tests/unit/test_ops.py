"""Pure image operations: the registry (schemas, validation, CLI parsing), geometry and tone.

Real photographs from scikit-image are used throughout; results are compared with
statistics and regions, never with exact bytes.
"""

from __future__ import annotations

import inspect
from dataclasses import fields
from functools import cache

import cv2
import numpy as np
import pytest

from retouch import ops
from retouch.cli.operations import parse_cli_operation
from retouch.errors import OperationTimeout, PermanentError, ValidationError
from retouch.models import OperationSpec
from retouch.ops.context import ChainContext
from retouch.ops.geometry import crop, thumbnail
from retouch.ops.registry import apply_operations
from retouch.ops.specs import (
    MAX_OPERATIONS,
    Aspect,
    Bool,
    Choice,
    Float,
    Int,
    Numbers,
    Operation,
    aspect_ratio,
    box_in_pixels,
    centered_window,
    thumbnail_size,
    validate_operations,
)
from retouch.ops.tone import contrast


# --- photos -----------------------------------------------------------------------------------
@cache
def _photo(name: str) -> np.ndarray:
    from skimage import data

    arr = getattr(data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=2)
    arr = np.ascontiguousarray(arr[:, :, :3])
    arr.setflags(write=False)
    return arr


def photo(name: str = "astronaut") -> np.ndarray:
    return _photo(name).copy()


def low_contrast(image: np.ndarray, scale: float = 0.4, offset: float = 80) -> np.ndarray:
    """A washed-out version of a photo: every channel squeezed into a narrow band."""
    return (image.astype(np.float32) * scale + offset).round().astype(np.uint8)


def with_alpha(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    alpha = np.tile(np.linspace(0, 255, w).round().astype(np.uint8), (h, 1))
    alpha[: h // 4] = 0  # a fully transparent band too
    return np.ascontiguousarray(np.dstack([image, alpha]))


def luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)


def mean_chroma(image: np.ndarray) -> np.ndarray:
    """Mean Cr, Cb (YCrCb) and mean a, b (CIE Lab) of an RGB image."""
    rgb = np.ascontiguousarray(image[:, :, :3])
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float64)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float64)
    return np.array([ycc[..., 1].mean(), ycc[..., 2].mean(), lab[..., 1].mean(), lab[..., 2].mean()])


def local_contrast(gray: np.ndarray, k: int = 15) -> float:
    """Mean local standard deviation in a ``k`` x ``k`` window."""
    g = gray.astype(np.float64)
    mean = cv2.blur(g, (k, k))
    sq = cv2.blur(g * g, (k, k))
    return float(np.sqrt(np.clip(sq - mean * mean, 0, None)).mean())


def spec(op: str, **params: object) -> OperationSpec:
    return OperationSpec(op=op, params=dict(params))


# --- registry: Param ----------------------------------------------------------------------------
def test_param_int_parses_strings_floats_and_bounds() -> None:
    p = Int("width", "w", minimum=1, maximum=100)
    assert p.parse("thumbnail", "42") == 42
    assert p.parse("thumbnail", " +7 ") == 7
    assert p.parse("thumbnail", 5.0) == 5 and isinstance(p.parse("thumbnail", 5.0), int)
    for bad in ("5.5", 5.5, "abc", "", True, None, [1], 0, 101, "nan", "inf"):
        with pytest.raises(ValidationError):
            p.parse("thumbnail", bad)


def test_param_int_error_names_operation_and_parameter() -> None:
    p = Int("width", "w", minimum=1)
    with pytest.raises(ValidationError, match=r"thumbnail: parameter 'width' must be at least 1"):
        p.parse("thumbnail", 0)


def test_param_float_parses_and_rejects_non_finite() -> None:
    p = Float("gamma", "g", minimum=0.1, maximum=10)
    assert p.parse("contrast", "2") == 2.0 and isinstance(p.parse("contrast", "2"), float)
    assert p.parse("contrast", "1e0") == 1.0
    assert p.parse("contrast", 3) == 3.0
    for bad in (float("nan"), float("inf"), "-inf", "x", False, 0.05, 10.5):
        with pytest.raises(ValidationError):
            p.parse("contrast", bad)


def test_param_bool_accepts_words_and_rejects_others() -> None:
    p = Bool("upscale", "u")
    for raw, want in [
        (True, True),
        (False, False),
        ("true", True),
        ("YES", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("no", False),
        ("Off", False),
        ("0", False),
    ]:
        assert p.parse("thumbnail", raw) is want, raw
    for bad in ("maybe", 1, 0, None, ""):
        with pytest.raises(ValidationError):
            p.parse("thumbnail", bad)


def test_param_choice_is_case_insensitive_and_closed() -> None:
    p = Choice("fit", "f", choices=("contain", "cover"))
    assert p.parse("thumbnail", "COVER") == "cover"
    for bad in ("fill", 1, None, ["cover"]):
        with pytest.raises(ValidationError, match="must be one of contain, cover"):
            p.parse("thumbnail", bad)


def test_param_numbers_from_string_or_list_keep_ints() -> None:
    p = Numbers("box", "b", count=4)
    assert p.parse("crop", "10, 20,30,40") == [10, 20, 30, 40]
    assert all(isinstance(v, int) for v in p.parse("crop", "10,20,30,40"))
    fr = p.parse("crop", "0.1,0.1,0.8,0.8")
    assert fr == [0.1, 0.1, 0.8, 0.8] and all(isinstance(v, float) for v in fr)
    assert p.parse("crop", [1, 2.5, 3, 4]) == [1, 2.5, 3, 4]
    for bad in ("1,2,3", "1,2,3,4,5", [1, 2, 3], "a,b,c,d", 7, {"x": 1}, [1, 2, 3, float("nan")]):
        with pytest.raises(ValidationError):
            p.parse("crop", bad)


def test_param_aspect_accepts_w_h_and_rejects_garbage() -> None:
    p = Aspect("aspect", "a")
    assert p.parse("crop", " 16:9 ") == "16:9"
    assert p.parse("crop", "1.5:1") == "1.5:1"
    assert aspect_ratio("16:9") == pytest.approx(16 / 9)
    for bad in ("16x9", "16", "16:9:1", "0:9", "-4:3", "a:b", "inf:1", "nan:1", ""):
        with pytest.raises(ValidationError):
            p.parse("crop", bad)


def test_param_describe_lists_only_set_fields() -> None:
    d = ops.get("contrast").describe()
    low = next(p for p in d["params"] if p["name"] == "low")
    assert low == {
        "name": "low",
        "type": "float",
        "help": low["help"],
        "label": low["label"],
        "plain_help": low["plain_help"],
        "default": 0.5,
        "minimum": 0,
        "maximum": 50,
        "only_with": {"method": ["auto"]},
    }
    box = next(p for p in ops.get("crop").describe()["params"] if p["name"] == "box")
    assert set(box) == {"name", "type", "help", "label", "plain_help"}


FORMULA_SPEAK = ("R - max", "Lab b*", "CLAHE", "percentile", "luma", "chroma", "saliency", "gamma")


def test_every_operation_and_parameter_has_plain_words() -> None:
    """The words people read (the web page shows only these) are in the table, plain: a label and
    help for every operation and parameter, a label for every choice, no formula or algorithm."""
    orders = []
    for op in ops.specs.OPERATIONS:
        d = op.describe()
        assert d["label"] and d["task_help"], op.name
        orders.append(d["order"])
        assert set(d["preset"]) <= {p.name for p in op.params}, op.name
        op.validate(d["preset"])  # a preset is a valid start
        words = [d["label"], d["task_help"]]
        for p in d["params"]:
            assert p["label"] and p["plain_help"], (op.name, p["name"])
            words += [p["label"], p["plain_help"], *(p.get("choice_labels") or {}).values()]
            if p["type"] == "choice":
                assert set(p["choice_labels"]) == set(p["choices"]), (op.name, p["name"])
            assert p.get("ui") in (None, "points", "photo"), (op.name, p["name"])
        for text in words:
            for jargon in FORMULA_SPEAK:
                assert jargon.lower() not in text.lower(), (op.name, text, jargon)
    assert sorted(orders) == list(range(1, len(ops.specs.OPERATIONS) + 1))  # one place each


def test_operations_document_publishes_the_upload_limits() -> None:
    from retouch.logic.api import list_operations
    from retouch.settings import ApiSettings
    from retouch.sniff import SUPPORTED

    limits = list_operations(400_000, 20_000_000).model_dump()["limits"]
    assert limits == {"max_upload_bytes": 400_000, "max_pixels": 20_000_000, "formats": list(SUPPORTED)}
    defaults = {f.name: f.default for f in fields(ApiSettings)}
    assert list_operations().limits.max_upload_bytes == defaults["max_upload_bytes"] == 50 * 1024 * 1024
    assert list_operations().limits.max_pixels == defaults["max_pixels"]


# --- registry: Operation.validate ----------------------------------------------------------------
def test_operation_validate_fills_defaults() -> None:
    assert ops.get("thumbnail").validate({"width": "64"}) == {"width": 64, "fit": "contain", "upscale": False}
    assert ops.get("contrast").validate(None) == {"method": "auto", "low": 0.5, "high": 99.5}
    assert ops.get("contrast").validate({"method": "clahe"}) == {"method": "clahe", "clip_limit": 2.0, "tiles": 8}
    assert ops.get("contrast").validate({"method": "linear"}) == {
        "method": "linear",
        "brightness": 0.0,
        "contrast": 1.0,
        "gamma": 1.0,
    }


def test_operation_validate_rejects_unknown_parameter_naming_allowed_ones() -> None:
    with pytest.raises(
        ValidationError, match=r"thumbnail: unknown parameter 'size' \(allowed: width, height, fit, upscale, gravity\)"
    ):
        ops.get("thumbnail").validate({"width": 10, "size": 3})


def test_operation_validate_unknown_parameter_of_parameterless_operation() -> None:
    op = Operation(name="noop", summary="", implementation="builtins:id")
    assert op.validate({}) == {}
    with pytest.raises(ValidationError, match=r"allowed: none"):
        op.validate({"x": 1})


def test_operation_validate_only_with_rejects_parameter_of_other_method() -> None:
    c = ops.get("contrast")
    with pytest.raises(ValidationError, match=r"'clip_limit' only applies when method is clahe"):
        c.validate({"method": "auto", "clip_limit": 3})
    with pytest.raises(ValidationError, match=r"'low' only applies when method is auto"):
        c.validate({"method": "linear", "low": 1})
    with pytest.raises(ValidationError, match="gamma"):
        c.validate({"gamma": 2})  # method defaults to auto
    assert c.validate({"low": 2, "high": 98}) == {"method": "auto", "low": 2.0, "high": 98.0}


def test_operation_validate_drops_defaults_that_do_not_apply() -> None:
    values = ops.get("contrast").validate({"method": "clahe", "tiles": "4"})
    assert values == {"method": "clahe", "clip_limit": 2.0, "tiles": 4}
    assert not {"low", "high", "brightness", "contrast", "gamma"} & set(values)


def test_operation_validate_none_value_means_default() -> None:
    assert ops.get("thumbnail").validate({"width": 10, "fit": None}) == {"width": 10, "fit": "contain", "upscale": False}


def test_operation_validate_is_idempotent() -> None:
    for name, raw in [
        ("thumbnail", {"height": "20", "fit": "cover"}),
        ("crop", {"box": "0.1,0.1,0.8,0.8"}),
        ("contrast", {"method": "linear", "gamma": "2"}),
        ("crop", {"aspect": "4:3"}),
    ]:
        once = ops.get(name).validate(raw)
        assert ops.get(name).validate(once) == once


def test_operation_validate_cross_checks() -> None:
    with pytest.raises(ValidationError, match="either box"):
        ops.get("crop").validate({})
    with pytest.raises(ValidationError, match="either box"):
        ops.get("crop").validate({"box": "0,0,5,5", "aspect": "1:1"})
    with pytest.raises(ValidationError, match="negative"):
        ops.get("crop").validate({"box": [-1, 0, 5, 5]})
    with pytest.raises(ValidationError, match="positive"):
        ops.get("crop").validate({"box": [0, 0, 0, 5]})
    with pytest.raises(ValidationError, match="width, height or both"):
        ops.get("thumbnail").validate({"fit": "cover"})
    with pytest.raises(ValidationError, match=r"low .* must be below high"):
        ops.get("contrast").validate({"low": 50, "high": 50})


def test_registry_get_unknown_operation_lists_available() -> None:
    with pytest.raises(ValidationError, match=r"unknown operation 'blur'; available: ") as info:
        ops.get("blur")
    available = info.value.message.split("available: ")[1].split(", ")
    assert available == sorted(ops.REGISTRY) and {"contrast", "crop", "thumbnail"} <= set(available)


def test_registry_describe_all_sorted_and_complete() -> None:
    names = [d["name"] for d in ops.describe_all()]
    assert names == sorted(names) and {"crop", "thumbnail", "contrast"} <= set(names)


# --- registry: validate_operations ---------------------------------------------------------------
def test_validate_operations_normalises_into_specs() -> None:
    specs = validate_operations(
        [
            {"op": "crop", "params": {"box": "10,10,200,100"}},
            {"op": "thumbnail", "params": {"width": "64"}},
            {"op": "contrast"},
        ]
    )
    assert specs == (
        OperationSpec("crop", {"box": [10, 10, 200, 100], "gravity": "face"}),  # crop's default, as thumbnail's
        OperationSpec("thumbnail", {"width": 64, "fit": "contain", "upscale": False}),
        OperationSpec("contrast", {"method": "auto", "low": 0.5, "high": 99.5}),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("thumbnail", "must be a list"),
        (b"[]", "must be a list"),
        ({"op": "thumbnail"}, "must be a list"),
        (None, "must be a list"),
        (42, "must be a list"),
        ([], "at least one"),
        ([{"op": "contrast"}] * (MAX_OPERATIONS + 1), f"at most {MAX_OPERATIONS}"),
        (["thumbnail"], "object with an 'op' name"),
        ([{"params": {}}], "object with an 'op' name"),
        ([{"op": 3}], "object with an 'op' name"),
        ([{"op": "thumbnail", "params": [1]}], "'params' must be an object"),
        ([{"op": "sharpen"}], "unknown operation 'sharpen'"),
        ([{"op": "thumbnail", "params": {"width": 0}}], "at least 1"),
        ([{"op": "contrast"}, {"op": "thumbnail", "params": {"width": 9, "dpi": 3}}], "unknown parameter 'dpi'"),
    ],
)
def test_validate_operations_errors(raw: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_operations(raw)


def test_validate_operations_accepts_the_maximum() -> None:
    assert len(validate_operations([{"op": "contrast"}] * MAX_OPERATIONS)) == MAX_OPERATIONS


# --- registry: parse_cli_operation ---------------------------------------------------------------
def test_parse_cli_operation_box_continuation() -> None:
    assert parse_cli_operation("crop:box=10,10,200,100") == {"op": "crop", "params": {"box": "10,10,200,100"}}


def test_parse_cli_operation_several_params_and_continuations() -> None:
    assert parse_cli_operation(" thumbnail : width=200, fit = cover ,upscale=true") == {
        "op": "thumbnail",
        "params": {"width": "200", "fit": "cover", "upscale": "true"},
    }
    assert parse_cli_operation("crop:box=0.1,0.1,0.8,0.8,gravity=center") == {
        "op": "crop",
        "params": {"box": "0.1,0.1,0.8,0.8", "gravity": "center"},
    }
    assert parse_cli_operation("crop:aspect=16:9") == {"op": "crop", "params": {"aspect": "16:9"}}


def test_parse_cli_operation_without_params() -> None:
    assert parse_cli_operation("contrast") == {"op": "contrast", "params": {}}
    assert parse_cli_operation("contrast:") == {"op": "contrast", "params": {}}


def test_parse_cli_operation_value_before_any_key_is_an_error() -> None:
    with pytest.raises(ValidationError, match=r"crop: expected key=value, got '10'"):
        parse_cli_operation("crop:10,10,20,20")


def test_parse_cli_operation_feeds_validate_operations() -> None:
    specs = validate_operations([parse_cli_operation("crop:box=10,10,200,100"), parse_cli_operation("thumbnail:width=64")])
    assert specs[0].params["box"] == [10, 10, 200, 100]
    assert specs[1].params == {"width": 64, "fit": "contain", "upscale": False}


# --- registry: apply_operations -----------------------------------------------------------------
def test_apply_operations_runs_in_order() -> None:
    img = photo("astronaut")  # 512 x 512
    crop_then_thumb = apply_operations(img, [spec("crop", box=[0, 0, 256, 128]), spec("thumbnail", width=64)])
    thumb_then_crop = apply_operations(img, [spec("thumbnail", width=64), spec("crop", box=[0, 0, 256, 128])])
    assert crop_then_thumb.shape == (32, 64, 3)
    assert thumb_then_crop.shape == (64, 64, 3)
    # the content is the top-left quarter strip in the first case
    expected = cv2.resize(img[:128, :256], (64, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(crop_then_thumb.astype(int) - expected).mean() < 2


def test_apply_operations_validates_raw_params_again() -> None:
    img = photo("coffee")
    out = apply_operations(img, [spec("thumbnail", width="150")])
    assert out.shape == (100, 150, 3)
    with pytest.raises(ValidationError):
        apply_operations(img, [spec("thumbnail", width=-3)])
    with pytest.raises(ValidationError):
        apply_operations(img, [spec("vignette")])


def test_apply_operations_does_not_modify_input() -> None:
    img = photo("chelsea")
    before = img.copy()
    apply_operations(img, [spec("contrast", method="clahe"), spec("crop", aspect="1:1")])
    assert np.array_equal(img, before)


def test_apply_operations_budget_exceeded_is_permanent() -> None:
    img = photo("rocket")
    with pytest.raises(OperationTimeout, match="stopped after thumbnail") as exceeded:
        apply_operations(img, [spec("thumbnail", width=64), spec("contrast")], ChainContext.with_budget(0.0))
    assert isinstance(exceeded.value, PermanentError)  # it would run past it again: fail the image once
    assert apply_operations(img, [spec("thumbnail", width=64)], ChainContext.with_budget(60)).shape[1] == 64


@pytest.mark.parametrize(
    ("operation", "where"),
    [
        ({"op": "colorize", "params": {"mode": "hints", "hints": "10,10,#ff0000", "force": True}}, "in colorize"),
        ({"op": "crop", "params": {"aspect": "1:1", "gravity": "smart"}}, "in face analysis"),
        ({"op": "red_eye"}, "in face analysis"),
    ],
)
def test_long_operations_check_the_deadline_inside_their_work(operation: dict, where: str) -> None:
    """A chain out of time stops inside the long operation, not only after it."""
    context = ChainContext.with_budget(0.0)
    with pytest.raises(OperationTimeout, match=f"stopped {where}"):
        apply_operations(photo("rocket"), ops.validate_operations([operation]), context)


def test_apply_operations_empty_is_identity() -> None:
    img = photo("coffee")
    assert apply_operations(img, []) is img


# --- geometry: crop ----------------------------------------------------------------------------
def test_crop_pixel_box_returns_exact_region() -> None:
    img = photo("coffee")  # 600 x 400
    params = ops.get("crop").validate({"box": "10,20,200,100"})
    out = crop(img, **params)
    assert out.shape == (100, 200, 3)
    assert np.array_equal(out, img[20:120, 10:210])
    assert out.flags["C_CONTIGUOUS"]


def test_crop_fraction_box() -> None:
    img = photo("coffee")  # 600 x 400
    out = crop(img, **ops.get("crop").validate({"box": "0.1,0.1,0.8,0.8"}))
    assert out.shape == (320, 480, 3)
    assert np.array_equal(out, img[40:360, 60:540])


def test_crop_fraction_box_from_json_list() -> None:
    img = photo("chelsea")  # 451 x 300
    out = crop(img, **ops.get("crop").validate({"box": [0, 0, 0.5, 0.5]}))
    assert out.shape == (150, round(451 * 0.5), 3)


def test_crop_integer_box_within_unit_range_is_pixels() -> None:
    img = photo("chelsea")
    out = crop(img, **ops.get("crop").validate({"box": "0,0,1,1"}))
    assert out.shape == (1, 1, 3)


def test_crop_box_in_pixels_rules() -> None:
    assert box_in_pixels([0.25, 0.5, 0.5, 0.25], 400, 200) == (100, 100, 200, 50)
    assert box_in_pixels([1, 2, 3, 4], 400, 200) == (1, 2, 3, 4)
    assert box_in_pixels([10.0, 20.0, 30.0, 40.0], 400, 200) == (10, 20, 30, 40)


def test_crop_box_partly_outside_is_clipped() -> None:
    img = photo("coffee")  # 600 x 400
    out = crop(img, box=[500, 300, 300, 300])
    assert out.shape == (100, 100, 3)
    assert np.array_equal(out, img[300:, 500:])


@pytest.mark.parametrize("box", [[600, 0, 10, 10], [0, 400, 10, 10], [1000, 1000, 50, 50]])
def test_crop_box_outside_image_is_invalid(box: list[int | float]) -> None:
    img = photo("coffee")  # 600 x 400
    with pytest.raises(ValidationError, match="outside the 600x400 image"):
        crop(img, box=box)


def test_crop_box_outside_image_through_apply_is_permanent() -> None:
    with pytest.raises(PermanentError):
        apply_operations(photo("coffee"), [spec("crop", box="2000,10,10,10")])


@pytest.mark.parametrize(
    ("name", "aspect"),
    [
        ("astronaut", "16:9"),
        ("coffee", "16:9"),
        ("coffee", "1:1"),
        ("chelsea", "9:16"),
        ("rocket", "4:3"),
        ("camera", "3:2"),
        ("coffee", "2.35:1"),
    ],
)
def test_crop_aspect_gives_correct_ratio(name: str, aspect: str) -> None:
    img = photo(name)
    h, w = img.shape[:2]
    out = crop(img, **ops.get("crop").validate({"aspect": aspect}))
    oh, ow = out.shape[:2]
    ratio = aspect_ratio(aspect)
    assert abs(ow / oh - ratio) <= ratio * (1 / min(ow, oh)) + 1e-9
    # the largest such window: one side is the full image side
    assert ow == w or oh == h
    assert ow <= w and oh <= h


def test_crop_aspect_window_is_centred() -> None:
    img = photo("astronaut")  # 512 x 512
    out = crop(img, aspect="16:9", gravity="center")
    assert out.shape == (288, 512, 3)
    assert np.array_equal(out, img[112:400, :])


def test_crop_centered_window_shifts_to_stay_inside() -> None:
    assert centered_window(600, 400, 1.0) == (100, 0, 400, 400)
    assert centered_window(600, 400, 1.0, center=(10, 200)) == (0, 0, 400, 400)
    assert centered_window(600, 400, 1.0, center=(590, 200)) == (200, 0, 400, 400)


# --- geometry: thumbnail -------------------------------------------------------------------------
def thumb(img: np.ndarray, **raw: object) -> np.ndarray:
    return thumbnail(img, **ops.get("thumbnail").validate(raw))


def test_thumbnail_contain_fits_inside_box() -> None:
    assert thumb(photo("coffee"), width=100, height=100).shape == (67, 100, 3)  # 600 x 400
    assert thumb(photo("chelsea"), width=200, height=50).shape == (50, 75, 3)  # 451 x 300
    assert thumb(photo("astronaut"), width=128, height=128).shape == (128, 128, 3)


def test_thumbnail_cover_fills_box_exactly() -> None:
    for name in ("coffee", "chelsea", "rocket", "astronaut"):
        assert thumb(photo(name), width=100, height=100, fit="cover").shape == (100, 100, 3), name
    assert thumb(photo("coffee"), width=160, height=40, fit="cover").shape == (40, 160, 3)


def test_thumbnail_cover_crops_around_centre() -> None:
    img = photo("coffee")  # 600 x 400 -> scale 0.25 -> 150 x 100 -> crop 25 px each side
    out = thumb(img, width=100, height=100, fit="cover")
    reference = cv2.resize(img, (150, 100), interpolation=cv2.INTER_AREA)[:, 25:125]
    assert np.abs(out.astype(int) - reference).mean() < 1


def test_thumbnail_width_only_keeps_aspect() -> None:
    img = photo("coffee")  # 3:2
    out = thumb(img, width=300)
    assert out.shape == (200, 300, 3)
    out = thumb(photo("rocket"), width=320)  # 640 x 427
    assert out.shape == (round(427 / 2), 320, 3)


def test_thumbnail_height_only_keeps_aspect() -> None:
    assert thumb(photo("chelsea"), height=150).shape == (150, round(451 / 2), 3)


def test_thumbnail_content_matches_a_plain_resize() -> None:
    img = photo("astronaut")
    out = thumb(img, width=64)
    ref = cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(out.astype(int) - ref).mean() < 1
    assert abs(out.mean() - img.mean()) < 2


def test_thumbnail_never_upscales_by_default() -> None:
    img = photo("coffee")  # 600 x 400
    assert thumb(img, width=1000).shape == (400, 600, 3)
    assert thumb(img, width=2000, height=2000).shape == (400, 600, 3)
    assert thumb(img, width=800, height=800, fit="cover").shape == (400, 600, 3)
    assert np.array_equal(thumb(img, width=1000), img)


def test_thumbnail_upscale_when_asked() -> None:
    img = photo("coffee")
    assert thumb(img, width=1200, upscale="true").shape == (800, 1200, 3)
    assert thumb(img, width=900, height=900, fit="cover", upscale=True).shape == (900, 900, 3)


def test_thumbnail_rgba_keeps_alpha_channel() -> None:
    img = with_alpha(photo("chelsea"))  # 451 x 300 with a horizontal alpha ramp
    out = thumb(img, width=100)
    assert out.shape == (round(300 * 100 / 451), 100, 4)
    alpha = out[:, :, 3].astype(int)
    # the ramp survives: left transparent-ish, right opaque-ish, top band transparent
    assert alpha[-1, :5].mean() < 20 and alpha[-1, -5:].mean() > 235
    assert alpha[:10].max() == 0
    cover = thumb(img, width=50, height=50, fit="cover")
    assert cover.shape == (50, 50, 4)


def test_thumbnail_size_never_zero() -> None:
    assert thumbnail_size(5000, 10, 100, None, "contain") == (100, 1)
    assert thumb(np.zeros((2, 4000, 3), np.uint8), width=10).shape == (1, 10, 3)


# --- tone -------------------------------------------------------------------------------------
def test_contrast_auto_stretches_low_contrast_photo() -> None:
    src = low_contrast(photo("coffee"))
    y_in = luma(src)
    out = contrast(src, **ops.get("contrast").validate({}))
    y_out = luma(out)
    lo_in, hi_in = np.percentile(y_in, [1, 99])
    lo_out, hi_out = np.percentile(y_out, [1, 99])
    assert hi_in - lo_in < 110
    assert hi_out - lo_out > 200
    p_lo, p_hi = np.percentile(y_out, [0.5, 99.5])
    assert p_lo <= 3 and p_hi >= 252
    assert y_out.std() > 1.8 * y_in.std()


def test_contrast_auto_flat_image_is_left_alone() -> None:
    """When the low and high percentiles coincide there is nothing to stretch: a uniform
    image (a blank slide, a plain backdrop) must not be turned black."""
    for colour in ((128, 128, 128), (200, 40, 40), (30, 160, 220)):
        flat = np.zeros((64, 64, 3), np.uint8)
        flat[:] = colour
        out = contrast(flat, **ops.get("contrast").validate({}))
        assert np.abs(out.astype(int) - flat).max() <= 2, (colour, out[0, 0])


def test_contrast_auto_small_subject_on_plain_backdrop_keeps_backdrop() -> None:
    backdrop = np.full((400, 400, 3), 128, np.uint8)
    backdrop[190:210, 190:210] = cv2.resize(photo("astronaut"), (20, 20), interpolation=cv2.INTER_AREA)  # 0.25 %
    out = contrast(backdrop, **ops.get("contrast").validate({}))
    assert abs(float(luma(out)[:100].mean()) - 128) <= 2


def test_contrast_auto_percentiles_control_clipping() -> None:
    src = low_contrast(photo("chelsea"))
    gentle = luma(contrast(src, **ops.get("contrast").validate({"low": 0, "high": 100})))
    strong = luma(contrast(src, **ops.get("contrast").validate({"low": 10, "high": 90})))
    # (a black/white luma keeps its chroma, so the RGB result is near, not at, 0/255)
    assert (strong <= 10).mean() > 0.07 and (strong >= 245).mean() > 0.07
    assert (gentle <= 10).mean() < 0.01 and (gentle >= 245).mean() < 0.01


def test_contrast_auto_is_monotonic_in_luma() -> None:
    src = low_contrast(photo("rocket"))
    y_in, y_out = luma(src).ravel(), luma(contrast(src)).ravel().astype(float)
    levels = np.unique(y_in)
    means = np.array([y_out[y_in == v].mean() for v in levels])
    # per input level, the mean output level never goes down (1 level of rounding slack)
    assert (np.diff(means) >= -1).all()
    assert means[-1] - means[0] > 200


def test_contrast_clahe_raises_local_contrast() -> None:
    src = low_contrast(photo("astronaut"), scale=0.5, offset=60)
    out = contrast(src, **ops.get("contrast").validate({"method": "clahe"}))
    assert local_contrast(luma(out)) > 1.3 * local_contrast(luma(src))
    stronger = contrast(src, **ops.get("contrast").validate({"method": "clahe", "clip_limit": 6}))
    assert local_contrast(luma(stronger)) > local_contrast(luma(out))


def test_contrast_linear_brightness_shifts_mean_luma() -> None:
    src = low_contrast(photo("coffee"))  # no clipping at +/- 0.1
    y = luma(src).astype(float).mean()
    brighter = luma(contrast(src, **ops.get("contrast").validate({"method": "linear", "brightness": 0.1}))).mean()
    darker = luma(contrast(src, **ops.get("contrast").validate({"method": "linear", "brightness": -0.1}))).mean()
    assert brighter - y == pytest.approx(25.5, abs=2)
    assert y - darker == pytest.approx(25.5, abs=2)


def test_contrast_linear_contrast_scales_spread_around_mid_grey() -> None:
    src = low_contrast(photo("chelsea"))
    y = luma(src).astype(float)
    more = luma(contrast(src, method="linear", contrast=1.5)).astype(float)
    less = luma(contrast(src, method="linear", contrast=0.5)).astype(float)
    assert more.std() == pytest.approx(1.5 * y.std(), rel=0.05)
    assert less.std() == pytest.approx(0.5 * y.std(), rel=0.05)


def test_contrast_linear_gamma_brightens_mid_tones() -> None:
    src = photo("camera")
    y = luma(src).astype(float)
    up = luma(contrast(src, method="linear", gamma=2.0)).astype(float)
    down = luma(contrast(src, method="linear", gamma=0.5)).astype(float)
    mid = (y > 100) & (y < 160)
    assert (up[mid] - y[mid]).mean() > 40
    assert (y[mid] - down[mid]).mean() > 30
    # black and white stay put
    assert contrast(np.zeros((4, 4, 3), np.uint8), method="linear", gamma=2.0).max() == 0
    assert contrast(np.full((4, 4, 3), 255, np.uint8), method="linear", gamma=2.0).min() >= 254


def test_contrast_linear_defaults_are_identity() -> None:
    img = photo("astronaut")
    out = contrast(img, **ops.get("contrast").validate({"method": "linear"}))
    diff = np.abs(out.astype(int) - img)
    assert diff.max() <= 2 and diff.mean() < 0.6


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize("params", [{}, {"method": "clahe"}, {"method": "clahe", "clip_limit": 4}])
def test_contrast_no_colour_cast(name: str, params: dict) -> None:
    for src in (photo(name), low_contrast(photo(name), scale=0.5, offset=60)):
        out = contrast(src, **ops.get("contrast").validate(params))
        shift = np.abs(mean_chroma(out) - mean_chroma(src))
        assert shift[:2].max() < 1.5, shift  # Cr, Cb
        assert shift[2:].max() < 2.0, shift  # Lab a, b


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_contrast_linear_no_colour_cast(name: str) -> None:
    src = low_contrast(photo(name), scale=0.5, offset=60)
    out = contrast(src, **ops.get("contrast").validate({"method": "linear", "brightness": 0.1, "contrast": 1.3, "gamma": 1.2}))
    shift = np.abs(mean_chroma(out) - mean_chroma(src))
    assert shift[:2].max() < 1.0, shift
    assert shift[2:].max() < 2.0, shift


@pytest.mark.parametrize("params", [{}, {"method": "clahe"}, {"method": "linear", "brightness": 0.2, "gamma": 1.5}])
def test_contrast_gray_stays_gray(params: dict) -> None:
    gray = low_contrast(photo("camera"))  # R == G == B
    out = contrast(gray, **ops.get("contrast").validate(params))
    assert out.shape == gray.shape and out.dtype == np.uint8
    spread = out.max(axis=2).astype(int) - out.min(axis=2)
    assert spread.max() <= 1
    assert not np.array_equal(out, gray)


@pytest.mark.parametrize("params", [{}, {"method": "clahe"}, {"method": "linear", "contrast": 2}])
def test_contrast_alpha_preserved(params: dict) -> None:
    img = with_alpha(low_contrast(photo("chelsea")))
    out = contrast(img, **ops.get("contrast").validate(params))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out[:, :, 3], img[:, :, 3])
    assert luma(out).std() != pytest.approx(luma(img).std(), rel=0.05)
    # the colour result is the same as without alpha
    rgb = contrast(np.ascontiguousarray(img[:, :, :3]), **ops.get("contrast").validate(params))
    assert np.array_equal(out[:, :, :3], rgb)


def test_contrast_output_is_uint8_rgb_and_input_untouched() -> None:
    img = photo("rocket")
    before = img.copy()
    for params in ({}, {"method": "clahe"}, {"method": "linear", "brightness": 0.3}):
        out = contrast(img, **ops.get("contrast").validate(params))
        assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.array_equal(img, before)


# --- defaults written once; a chain validated once ----------------------------------------------
def test_implementations_take_every_param_and_their_defaults_agree_with_the_table() -> None:
    """Defaults are the table's (a bound chain passes every one); an implementation may repeat one
    so that it can be called on its own, and then it must be the same."""
    for operation in ops.specs.OPERATIONS:
        signature = inspect.signature(operation.fn).parameters
        for p in operation.params:
            assert p.name in signature, f"{operation.name} does not take {p.name}"
            default = signature[p.name].default
            if p.default is None:  # optional: absent from bound parameters, so None by default
                assert default is None, f"{operation.name}({p.name}=...) should default to None"
            else:
                assert default in (inspect.Parameter.empty, p.default), f"{operation.name}({p.name}={default!r})"
                assert type(default) is type(p.default) or default is inspect.Parameter.empty
        assert ("context" in signature) == operation.uses_context, operation.name
        assert ("source_size" in signature) == (operation.decode_hint is not None), operation.name


def counting_validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    validate = Operation.validate

    def counting(self: Operation, raw: object) -> dict:
        calls.append(self.name)
        return validate(self, raw)  # type: ignore[arg-type]

    monkeypatch.setattr(Operation, "validate", counting)
    return calls


def test_a_bound_chain_is_never_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from retouch import pipeline
    from retouch.models import OutputSpec

    calls = counting_validations(monkeypatch)
    chain = ops.bind([{"op": "thumbnail", "params": {"width": "64"}}, {"op": "crop", "params": {"box": "0,0,32,32"}}])
    assert calls == ["thumbnail", "crop"]
    assert chain.specs == (
        OperationSpec("thumbnail", {"width": 64, "fit": "contain", "upscale": False}),
        OperationSpec("crop", {"box": [0, 0, 32, 32], "gravity": "face"}),
    )
    assert ops.bind(chain) is chain and ops.as_chain(chain) is chain
    chain.check_request(10**8)
    assert chain.check((512, 512), 10**8) == (32, 32) == ops.output_size(chain, (512, 512))
    png = cv2.imencode(".png", photo("astronaut"))[1].tobytes()
    rendered = pipeline.render(png, chain, OutputSpec("png"), max_pixels=10**8, max_bytes=10**8)
    assert (rendered.width, rendered.height) == (32, 32)
    assert calls == ["thumbnail", "crop"]  # the size checks, the decode hint and the loop validate nothing


def test_the_api_validates_a_request_s_operations_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from retouch import apimodels

    calls = counting_validations(monkeypatch)
    body = {
        "images": [{"name": "a.jpg", "content_type": "image/jpeg", "size": 10}],
        "operations": [{"op": "contrast", "params": {"method": "clahe"}}, {"op": "thumbnail", "params": {"width": "64"}}],
    }
    request = apimodels.JobRequest.model_validate(body)
    chain = request.chain()
    chain.check_request(10**8)
    assert calls == ["contrast", "thumbnail"]
    assert request.model_dump(mode="json")["operations"] == chain.to_dicts()
    assert chain.to_dicts()[1] == {"op": "thumbnail", "params": {"width": 64, "fit": "contain", "upscale": False}}


def test_the_api_document_takes_each_parameter_s_schema_from_its_kind() -> None:
    from retouch import apimodels

    schemas = apimodels.JobRequest.model_json_schema()["$defs"]
    for operation in ops.specs.OPERATIONS:
        properties = schemas[operation.name.title().replace("_", "") + "Params"]["properties"]
        for p in operation.params:
            assert properties[p.name]["anyOf"] == [p.json_schema(), {"type": "null"}]
            assert properties[p.name]["description"] == p.help
            assert properties[p.name].get("default") == p.default


def test_the_deadline_is_checked_after_the_leading_thumbnail_too() -> None:
    from retouch import pipeline
    from retouch.models import OutputSpec

    jpeg = cv2.imencode(".jpg", cv2.cvtColor(photo("astronaut"), cv2.COLOR_RGB2BGR))[1].tobytes()
    chain = ops.bind([{"op": "thumbnail", "params": {"width": 64}}])
    with pytest.raises(OperationTimeout, match="stopped after thumbnail"):
        pipeline.render(jpeg, chain, OutputSpec("jpeg"), max_pixels=10**8, max_bytes=10**8, budget_seconds=0.0)
    shrunk = pipeline.render(jpeg, chain, OutputSpec("jpeg"), max_pixels=10**8, max_bytes=10**8, budget_seconds=60)
    assert (shrunk.width, shrunk.height) == (64, 64)


def test_the_operations_modules_import_no_image_library_and_form_no_circle() -> None:
    import subprocess
    import sys

    code = (
        "import sys, retouch.ops, retouch.ops.specs, retouch.cli.operations, retouch.apimodels; "
        "print(sorted(m for m in ('numpy', 'cv2', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    for module in ("retouch.ops.context", "retouch.ops.faces", "retouch.ops.registry", "retouch.ops.framing"):
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)  # each first: no partial-import error
