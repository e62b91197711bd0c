"""The operations table: every operation, its parameters and its cross-parameter checks.

An operation's *implementation* (the pure function on pixels) lives in its family's module
(:mod:`.geometry`, :mod:`.tone`, :mod:`.portrait`, :mod:`.colorize`) and is named by
``Operation.implementation``; it is imported the first time it runs (:mod:`.registry`).
Light: no numpy, OpenCV or Pillow.
"""

from __future__ import annotations

from typing import Any

from retouch.errors import InvalidParameters
from retouch.ops.hints import MAX_HINTS, parse_hints
from retouch.ops.operation import Operation
from retouch.ops.params import Aspect, Bool, Choice, Float, Int, Numbers, Points, Text
from retouch.ops.sizes import crop_output, thumbnail_largest, thumbnail_output, thumbnail_resampled

MAX_OPERATIONS = 20
"""Operations per job."""

REFERENCE_PARAM = "reference"
"""A parameter that names another image of the job; the pipeline replaces it by that image's
pixels before calling the operation (see :func:`retouch.ops.registry.apply_operations`)."""

GRAVITIES = ("center", "face", "smart")
"""Where a crop window sits (see :mod:`.framing`)."""

DEFAULT_GRAVITY = "face"
"""Face-aware framing by default, for a crop to an aspect and a cover thumbnail alike: every face
stays in frame when the faces fit, else the largest group that fits (and the outcome says how
many could not); with no face it is the centre."""

MAX_POINTS = 32
"""Points per ``points`` parameter (eyes pointed at in one photo)."""

NEEDS_REFERENCE = "colorize: mode=reference needs reference=<name of another image in the job>"


def _check_crop(values: dict[str, Any]) -> None:
    if ("box" in values) == ("aspect" in values):
        raise InvalidParameters("crop: give either box=x,y,w,h or aspect=W:H")
    box = values.get("box")
    if box is not None:
        if any(v < 0 for v in box):
            raise InvalidParameters(f"crop: box values must not be negative, got {box}")
        if box[2] <= 0 or box[3] <= 0:
            raise InvalidParameters(f"crop: box width and height must be positive, got {box}")


def _check_thumbnail(values: dict[str, Any]) -> None:
    if not values.get("width") and not values.get("height"):
        raise InvalidParameters("thumbnail: give width, height or both")


def _check_contrast(values: dict[str, Any]) -> None:
    if values.get("method") == "auto" and values["low"] >= values["high"]:
        raise InvalidParameters(f"contrast: low ({values['low']}) must be below high ({values['high']})")


def _check_colorize(values: dict[str, Any]) -> None:
    mode = values.get("mode")
    if mode == "hints":
        if "hints" not in values:
            raise InvalidParameters('colorize: mode=hints needs hints="x,y,#rrggbb;x,y,#rrggbb"')
        parse_hints(values["hints"])
    if mode == "reference" and "reference" not in values:
        raise InvalidParameters(NEEDS_REFERENCE)


GRAVITY_HELP = "face (default): every face in frame, or the largest group of faces that fits; smart: faces, else saliency; center"

CROP = Operation(
    name="crop",
    summary="Crop to a box (pixels or fractions) or to an aspect ratio.",
    implementation="retouch.ops.geometry:crop",
    params=(
        Numbers("box", "x,y,w,h in pixels, or fractions of the image written as decimals (0.1,0.1,0.8,0.8)", count=4),
        Aspect("aspect", "aspect ratio W:H of the largest window to keep, e.g. 1:1 or 16:9"),
        Choice("gravity", "where the aspect window sits: " + GRAVITY_HELP, default=DEFAULT_GRAVITY, choices=GRAVITIES),
    ),
    check=_check_crop,
    output_size=crop_output,
    uses_context=True,
)

THUMBNAIL = Operation(
    name="thumbnail",
    summary="Resize to fit (contain) or fill (cover) a box, never enlarging unless asked.",
    implementation="retouch.ops.geometry:thumbnail",
    params=(
        Int("width", "box width in pixels", minimum=1, maximum=8192),
        Int("height", "box height in pixels", minimum=1, maximum=8192),
        Choice(
            "fit",
            "contain: whole image inside the box; cover: fill the box, crop overflow",
            default="contain",
            choices=("contain", "cover"),
        ),
        Bool("upscale", "enlarge images smaller than the box", default=False),
        Choice(
            "gravity",
            "cover: the part to keep: " + GRAVITY_HELP,
            default=DEFAULT_GRAVITY,
            choices=GRAVITIES,
            only_with={"fit": ("cover",)},
        ),
    ),
    check=_check_thumbnail,
    output_size=thumbnail_output,
    decode_hint=thumbnail_resampled,
    largest_output=thumbnail_largest,
    uses_context=True,
)

_AUTO, _CLAHE, _LINEAR = {"method": ("auto",)}, {"method": ("clahe",)}, {"method": ("linear",)}

CONTRAST = Operation(
    name="contrast",
    summary="Contrast on luminance: auto levels, CLAHE, or brightness/contrast/gamma.",
    implementation="retouch.ops.tone:contrast",
    params=(
        Choice(
            "method",
            "auto: percentile stretch; clahe: adaptive equalisation; linear: brightness/contrast/gamma",
            default="auto",
            choices=("auto", "clahe", "linear"),
        ),
        Float("low", "percentile of luma mapped to black", default=0.5, minimum=0, maximum=50, only_with=_AUTO),
        Float("high", "percentile of luma mapped to white", default=99.5, minimum=50, maximum=100, only_with=_AUTO),
        Float("clip_limit", "CLAHE clip limit", default=2.0, minimum=0.1, maximum=40, only_with=_CLAHE),
        Int("tiles", "CLAHE grid size (tiles x tiles)", default=8, minimum=1, maximum=64, only_with=_CLAHE),
        Float("brightness", "offset, -1 to 1", default=0.0, minimum=-1, maximum=1, only_with=_LINEAR),
        Float("contrast", "slope around mid-grey; 1 keeps contrast", default=1.0, minimum=0, maximum=5, only_with=_LINEAR),
        Float("gamma", "gamma; above 1 brightens mid-tones", default=1.0, minimum=0.1, maximum=10, only_with=_LINEAR),
    ),
    check=_check_contrast,
)

RED_EYE = Operation(
    name="red_eye",
    summary="Remove red eye: find red, round pupils inside detected irises and neutralise them.",
    implementation="retouch.ops.portrait:red_eye",
    params=(
        Float("strength", "how much of the correction to apply, 0 to 1", default=1.0, minimum=0, maximum=1),
        Float(
            "threshold",
            "minimum redness (R - max(G, B)) / R of a pupil pixel; lower catches paler red eye",
            default=0.45,
            minimum=0.2,
            maximum=0.9,
        ),
        Bool("cat_eye", "also darken golden or white flash pupils (cat's eye); may darken pale irises", default=False),
        Points(
            "points",
            "eyes to fix by pointing at them, for eyes no face was found for (a close crop, a pet): "
            '"x,y;x,y" or "x,y,r" with r the iris radius, in pixels (a JSON list of [x, y] or [x, y, r]); '
            "a red pupil is neutralised, a golden, green or white eye-shine darkened, other eyes left alone",
            count=MAX_POINTS,
        ),
    ),
    uses_context=True,
)

TEETH_WHITENING = Operation(
    name="teeth_whitening",
    summary="Whiten visible teeth: less yellow (Lab b*) and a little lighter, inside the inner lips.",
    implementation="retouch.ops.portrait:teeth_whitening",
    params=(
        Float("strength", "0 none, 0.6 natural white (removes the yellow cast), 1 whitest", default=0.6, minimum=0, maximum=1),
    ),
    uses_context=True,
)

COLORIZE = Operation(
    name="colorize",
    summary="Colorize on luminance: from a reference photo, from colour hints, or automatically.",
    implementation="retouch.ops.colorize:colorize",
    params=(
        Choice(
            "mode",
            "auto: model or reference library; reference: colours of another image of the job; hints: colour hints",
            default="auto",
            choices=("auto", "reference", "hints"),
        ),
        Float("strength", "chroma multiplier: 0 grey, 1 as predicted", default=1.0, minimum=0, maximum=2),
        Bool("force", "a photo that is already in colour is left as it is; true colours it anyway", default=False),
        Text(
            "hints",
            'colour hints "x,y,#rrggbb;x,y,#rrggbb" (x,y in pixels, or fractions like 0.25,0.5)',
            max_length=16 * MAX_HINTS,
            only_with={"mode": ("hints",)},
        ),
        Text(
            REFERENCE_PARAM,
            "name of another image of the same job whose colours are transferred",
            max_length=1024,
            only_with={"mode": ("reference",)},
        ),
    ),
    check=_check_colorize,
    uses_context=True,
)

OPERATIONS: tuple[Operation, ...] = (CROP, THUMBNAIL, CONTRAST, RED_EYE, TEETH_WHITENING, COLORIZE)

REGISTRY: dict[str, Operation] = {op.name: op for op in OPERATIONS}


def get(name: str) -> Operation:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InvalidParameters(f"unknown operation {name!r}; available: {', '.join(sorted(REGISTRY))}") from None


def describe_all() -> list[dict[str, Any]]:
    return [REGISTRY[name].describe() for name in sorted(REGISTRY)]
