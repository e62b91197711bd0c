"""The operations table: every operation, its parameters and its cross-parameter checks.

An operation's *implementation* (the pure function on pixels) lives in its family's module
(:mod:`.geometry`, :mod:`.tone`, :mod:`.portrait`, :mod:`.colorize`) and is named by
``Operation.implementation``; it is imported the first time it runs (:mod:`.registry`).
Light: no numpy, OpenCV or Pillow.
"""

from __future__ import annotations

from typing import Any

from retouch.errors import ValidationError
from retouch.ops.hint_syntax import MAX_HINTS, parse_hints
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
        raise ValidationError("crop: give either box=x,y,w,h or aspect=W:H")
    box = values.get("box")
    if box is not None:
        if any(v < 0 for v in box):
            raise ValidationError(f"crop: box values must not be negative, got {box}")
        if box[2] <= 0 or box[3] <= 0:
            raise ValidationError(f"crop: box width and height must be positive, got {box}")


def _check_thumbnail(values: dict[str, Any]) -> None:
    if not values.get("width") and not values.get("height"):
        raise ValidationError("thumbnail: give width, height or both")


def _check_contrast(values: dict[str, Any]) -> None:
    if values.get("method") == "auto" and values["low"] >= values["high"]:
        raise ValidationError(f"contrast: low ({values['low']}) must be below high ({values['high']})")


def _check_colorize(values: dict[str, Any]) -> None:
    mode = values.get("mode")
    if mode == "hints":
        if "hints" not in values:
            raise ValidationError('colorize: mode=hints needs hints="x,y,#rrggbb;x,y,#rrggbb"')
        parse_hints(values["hints"])
    if mode == "reference" and "reference" not in values:
        raise ValidationError(NEEDS_REFERENCE)


GRAVITY_HELP = "face (default): every face in frame, or the largest group of faces that fits; smart: faces, else saliency; center"
GRAVITY_WORDS = {"center": "The middle", "face": "Every face", "smart": "Faces, else the most striking part"}
"""Where a crop window sits, in a person's words."""

# The words people read (the web page's, published by GET /operations): ``label``, ``task_help``
# and ``preset`` of each operation, ``label``, ``plain_help`` and ``choice_labels`` of each
# parameter. Plain words only: no formula, no algorithm's name (a unit test checks).

CROP = Operation(
    name="crop",
    summary="Crop to a box (pixels or fractions) or to an aspect ratio.",
    implementation="retouch.ops.geometry:crop",
    label="Crop for social media",
    task_help="Crops to a shape (4:5 for a portrait post), keeping every face in the frame.",
    preset={"aspect": "4:5", "gravity": "face"},
    order=5,
    params=(
        Numbers(
            "box",
            "x,y,w,h in pixels, or fractions of the image written as decimals (0.1,0.1,0.8,0.8)",
            count=4,
            label="Area to keep",
            plain_help="Left, top, width, height in pixels (or as parts of the photo: 0.1, 0.1, 0.8, 0.8). "
            "Leave empty to crop to a shape.",
        ),
        Aspect(
            "aspect",
            "aspect ratio W:H of the largest window to keep, e.g. 1:1 or 16:9",
            label="Shape (width:height)",
            plain_help="1:1 square, 4:5 portrait post, 16:9 wide, 9:16 story.",
            suggestions=("1:1", "4:5", "16:9", "9:16", "3:2"),
        ),
        Choice(
            "gravity",
            "where the aspect window sits: " + GRAVITY_HELP,
            default=DEFAULT_GRAVITY,
            choices=GRAVITIES,
            label="Keep in the frame",
            plain_help="Which part of the photo the crop keeps.",
            choice_labels=GRAVITY_WORDS,
        ),
    ),
    check=_check_crop,
    output_size=crop_output,
    uses_context=True,
)

THUMBNAIL = Operation(
    name="thumbnail",
    summary="Resize to fit (contain) or fill (cover) a box, never enlarging unless asked.",
    implementation="retouch.ops.geometry:thumbnail",
    label="Make thumbnails",
    task_help="Makes small copies for the web: 512 × 512 pixels, filled, faces kept.",
    preset={"width": 512, "height": 512, "fit": "cover"},
    order=6,
    params=(
        Int(
            "width",
            "box width in pixels",
            minimum=1,
            maximum=8192,
            label="Width (pixels)",
            plain_help="How wide the copies are at most.",
        ),
        Int(
            "height",
            "box height in pixels",
            minimum=1,
            maximum=8192,
            label="Height (pixels)",
            plain_help="How tall the copies are at most.",
        ),
        Choice(
            "fit",
            "contain: whole image inside the box; cover: fill the box, crop overflow",
            default="contain",
            choices=("contain", "cover"),
            label="Fit",
            plain_help="Show the whole photo, or fill the size and crop the rest.",
            choice_labels={"contain": "The whole photo inside the size", "cover": "Fill the size, cropping what overflows"},
        ),
        Bool(
            "upscale",
            "enlarge images smaller than the box",
            default=False,
            label="Enlarge smaller photos",
            plain_help="Photos smaller than the size are enlarged to it.",
        ),
        Choice(
            "gravity",
            "cover: the part to keep: " + GRAVITY_HELP,
            default=DEFAULT_GRAVITY,
            choices=GRAVITIES,
            only_with={"fit": ("cover",)},
            label="Keep in the frame",
            plain_help="When filling: which part of the photo stays.",
            choice_labels=GRAVITY_WORDS,
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
    label="Brighten and add contrast",
    task_help="Spreads the tones so dark photos brighten and flat ones gain contrast.",
    preset={"method": "auto"},
    order=4,
    params=(
        Choice(
            "method",
            "auto: percentile stretch; clahe: adaptive equalisation; linear: brightness/contrast/gamma",
            default="auto",
            choices=("auto", "clahe", "linear"),
            label="How",
            plain_help="Automatic suits most photos; local contrast brings back faded ones; or set it by hand.",
            choice_labels={
                "auto": "Automatic",
                "clahe": "Local contrast, for faded photos",
                "linear": "By hand: brightness, contrast, mid-tones",
            },
        ),
        Float(
            "low",
            "percentile of luma mapped to black",
            default=0.5,
            minimum=0,
            maximum=50,
            only_with=_AUTO,
            label="Share of the photo made black (%)",
            plain_help="The darkest part of the photo, this much of it, becomes black.",
        ),
        Float(
            "high",
            "percentile of luma mapped to white",
            default=99.5,
            minimum=50,
            maximum=100,
            only_with=_AUTO,
            label="Tones up to this share stay below white (%)",
            plain_help="The brightest part above this becomes white.",
        ),
        Float(
            "clip_limit",
            "CLAHE clip limit",
            default=2.0,
            minimum=0.1,
            maximum=40,
            only_with=_CLAHE,
            label="Local contrast strength",
            plain_help="Higher brings out more detail in flat areas, and more grain.",
        ),
        Int(
            "tiles",
            "CLAHE grid size (tiles x tiles)",
            default=8,
            minimum=1,
            maximum=64,
            only_with=_CLAHE,
            label="Areas across and down",
            plain_help="The photo is balanced in this many areas across and this many down.",
        ),
        Float(
            "brightness",
            "offset, -1 to 1",
            default=0.0,
            minimum=-1,
            maximum=1,
            only_with=_LINEAR,
            label="Brightness",
            plain_help="-1 darkest, 0 unchanged, 1 brightest.",
        ),
        Float(
            "contrast",
            "slope around mid-grey; 1 keeps contrast",
            default=1.0,
            minimum=0,
            maximum=5,
            only_with=_LINEAR,
            label="Contrast",
            plain_help="0 flat grey, 1 unchanged, higher for more contrast.",
        ),
        Float(
            "gamma",
            "gamma; above 1 brightens mid-tones",
            default=1.0,
            minimum=0.1,
            maximum=10,
            only_with=_LINEAR,
            label="Mid-tones",
            plain_help="Above 1 brightens the middle tones, below 1 darkens them.",
        ),
    ),
    check=_check_contrast,
)

RED_EYE = Operation(
    name="red_eye",
    summary="Remove red eye: find red, round pupils inside detected irises and neutralise them.",
    implementation="retouch.ops.portrait:red_eye",
    label="Fix red eyes",
    task_help="Finds faces and takes the red out of eyes lit by the flash. Open a result to point at an eye it missed.",
    order=1,
    params=(
        Float(
            "strength",
            "how much of the correction to apply, 0 to 1",
            default=1.0,
            minimum=0,
            maximum=1,
            label="How much to fix",
            plain_help="0 leaves the eyes as they are, 1 fixes them fully.",
        ),
        Float(
            "threshold",
            "minimum redness (R - max(G, B)) / R of a pupil pixel; lower catches paler red eye",
            default=0.45,
            minimum=0.2,
            maximum=0.9,
            label="Sensitivity to red",
            plain_help="Lower also catches paler red eyes; higher only deep red ones.",
        ),
        Bool(
            "cat_eye",
            "also darken golden or white flash pupils (cat's eye); may darken pale irises",
            default=False,
            label="Also fix golden or white eye-shine",
            plain_help="Also darkens pupils the flash made gold or white. It may darken pale eyes.",
        ),
        Points(
            "points",
            "eyes to fix by pointing at them, for eyes no face was found for (a close crop, a pet): "
            '"x,y;x,y" or "x,y,r" with r the iris radius, in pixels (a JSON list of [x, y] or [x, y, r]); '
            "a red pupil is neutralised, a golden, green or white eye-shine darkened, other eyes left alone",
            count=MAX_POINTS,
            label="Eyes you pointed at",
            plain_help="Open a result full size and click an eye to fix it.",
            ui="points",
        ),
    ),
    uses_context=True,
)

TEETH_WHITENING = Operation(
    name="teeth_whitening",
    summary="Whiten visible teeth: less yellow (Lab b*) and a little lighter, inside the inner lips.",
    implementation="retouch.ops.portrait:teeth_whitening",
    label="Whiten teeth",
    task_help="Takes the yellow out of visible teeth, and lightens them a little.",
    order=2,
    params=(
        Float(
            "strength",
            "0 none, 0.6 natural white (removes the yellow cast), 1 whitest",
            default=0.6,
            minimum=0,
            maximum=1,
            label="How white",
            plain_help="0 leaves the teeth as they are, 0.6 is a natural white, 1 is the whitest.",
        ),
    ),
    uses_context=True,
)

COLORIZE = Operation(
    name="colorize",
    summary="Colorize on luminance: from a reference photo, from colour hints, or automatically.",
    implementation="retouch.ops.colorize:colorize",
    label="Colour an old photo",
    task_help="Adds colour to a black-and-white or faded photo. Open a result to place colours yourself.",
    preset={"mode": "auto"},
    order=3,
    params=(
        Choice(
            "mode",
            "auto: model or reference library; reference: colours of another image of the job; hints: colour hints",
            default="auto",
            choices=("auto", "reference", "hints"),
            label="Where the colours come from",
            plain_help="Automatic guesses them; another photo lends its colours; or you place them.",
            choice_labels={
                "auto": "Automatic",
                "reference": "From another photo of this job",
                "hints": "From colours I place on the photo",
            },
        ),
        Float(
            "strength",
            "chroma multiplier: 0 grey, 1 as predicted",
            default=1.0,
            minimum=0,
            maximum=2,
            label="How much colour",
            plain_help="0 stays grey, 1 is the colour as guessed, 2 twice as strong.",
        ),
        Bool(
            "force",
            "a photo that is already in colour is left as it is; true colours it anyway",
            default=False,
            label="Colour photos that already have colour",
            plain_help="A photo already in colour is normally left as it is; this colours it anyway.",
        ),
        Text(
            "hints",
            'colour hints "x,y,#rrggbb;x,y,#rrggbb" (x,y in pixels, or fractions like 0.25,0.5)',
            max_length=16 * MAX_HINTS,
            only_with={"mode": ("hints",)},
            label="Colours you placed",
            plain_help="Open a result full size and click where a colour belongs.",
            ui="points",
        ),
        Text(
            REFERENCE_PARAM,
            "name of another image of the same job whose colours are transferred",
            max_length=1024,
            only_with={"mode": ("reference",)},
            label="Photo to take the colours from",
            plain_help="One of the photos you added.",
            ui="photo",
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
        raise ValidationError(f"unknown operation {name!r}; available: {', '.join(sorted(REGISTRY))}") from None


def describe_all() -> list[dict[str, Any]]:
    return [REGISTRY[name].describe() for name in sorted(REGISTRY)]
