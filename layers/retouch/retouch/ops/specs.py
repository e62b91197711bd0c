"""What each operation is: its name, parameters, output size and decode hint. Nothing heavy.

This module is the one source of truth for operations as the outside world sees them. The API
validates requests with it and generates its OpenAPI document from it, the CLI validates and
lists operations with it (``retouch ops``), and the process function uses it to validate
messages and to choose a shrink-on-load size. It imports no numpy, OpenCV or Pillow, so the API
function ships without the image layer.

An operation's *implementation* (the pure function on pixels) lives in its family's module
(:mod:`.geometry`, :mod:`.tone`, :mod:`.portrait`, :mod:`.colorize`) and is named by
``Operation.implementation``; it is imported the first time it runs (:mod:`.registry`).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from retouch.errors import ImageTooLarge, InvalidParameters
from retouch.models import OperationSpec
from retouch.ops.hints import MAX_HINTS, parse_hints

MAX_OPERATIONS = 20
"""Operations per job."""

MAX_UPSCALE = 4.0
"""The largest factor by which one operation may enlarge an image's sides."""

REFERENCE_PARAM = "reference"
"""A parameter that names another image of the job; the pipeline replaces it by that image's
pixels before calling the operation (see :func:`retouch.ops.registry.apply_operations`)."""

GRAVITIES = ("center", "face", "smart")
"""Where a crop window sits (see :mod:`.framing`)."""

Size = tuple[int, int]

MAX_MAGNITUDE = 1e9
"""No parameter is a number larger than this (pixel boxes included)."""
MAX_NUMBER_TEXT = 40


def _short(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Param:
    """One parameter of an operation.

    ``kind`` is one of ``int``, ``float``, ``choice``, ``bool``, ``numbers`` (a list of
    ``count`` numbers, also accepted as a comma-separated string) or ``aspect`` (``W:H``);
    :class:`TextParam` is ``string`` and :class:`PointsParam` ``points``.
    ``only_with`` restricts a parameter to some values of another parameter, e.g.
    ``{"method": ("linear",)}``.
    """

    name: str
    kind: str
    help: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    count: int = 0
    only_with: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "help": self.help}
        if self.default is not None:
            out["default"] = self.default
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        if self.only_with:
            out["only_with"] = {k: list(v) for k, v in self.only_with.items()}
        return out

    def parse(self, op: str, raw: Any) -> Any:
        """Convert and check one raw value (from JSON or the command line)."""
        where = f"{op}: parameter {self.name!r}"
        if self.kind == "int":
            value: Any = _number(where, raw, integer=True)
        elif self.kind == "float":
            value = _number(where, raw, integer=False)
        elif self.kind == "bool":
            value = _boolean(where, raw)
        elif self.kind == "choice":
            if not isinstance(raw, str) or raw.lower() not in self.choices:
                raise InvalidParameters(f"{where} must be one of {', '.join(self.choices)}, got {raw!r}")
            return raw.lower()
        elif self.kind == "numbers":
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, (list, tuple)) or len(items) != self.count:
                raise InvalidParameters(f"{where} must be {self.count} numbers, got {raw!r}")
            return [_number(where, v, integer=False, keep_int=True) for v in items]
        elif self.kind == "aspect":
            return _aspect(where, raw)
        else:  # pragma: no cover - programming error
            raise AssertionError(self.kind)
        if self.minimum is not None and value < self.minimum:
            raise InvalidParameters(f"{where} must be at least {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise InvalidParameters(f"{where} must be at most {self.maximum}, got {value}")
        return value


def _number(where: str, raw: Any, *, integer: bool, keep_int: bool = False) -> int | float:
    if isinstance(raw, bool):
        raise InvalidParameters(f"{where} must be a number, got {raw!r}")
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) > MAX_NUMBER_TEXT:
            raise InvalidParameters(f"{where} must be a number of at most {MAX_NUMBER_TEXT} characters")
        try:
            raw = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise InvalidParameters(f"{where} must be a number, got {text!r}") from None
    if not isinstance(raw, (int, float)):
        raise InvalidParameters(f"{where} must be a number, got {type(raw).__name__ if raw is None else _short(raw)}")
    if (isinstance(raw, int) and abs(raw) > MAX_MAGNITUDE) or (isinstance(raw, float) and not math.isfinite(raw)):
        raise InvalidParameters(f"{where} must be a finite number no larger than {MAX_MAGNITUDE:.0e} in size")
    if abs(raw) > MAX_MAGNITUDE:
        raise InvalidParameters(f"{where} must be a finite number no larger than {MAX_MAGNITUDE:.0e} in size")
    if integer:
        if isinstance(raw, float) and not raw.is_integer():
            raise InvalidParameters(f"{where} must be a whole number, got {raw}")
        return int(raw)
    if keep_int and isinstance(raw, int):
        return raw
    return float(raw)


def _boolean(where: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in {"true", "1", "yes", "on", "false", "0", "no", "off"}:
        return raw.lower() in {"true", "1", "yes", "on"}
    raise InvalidParameters(f"{where} must be true or false, got {raw!r}")


def _aspect(where: str, raw: Any) -> str:
    text = str(raw).strip()
    parts = text.split(":")
    try:
        w, h = (float(p) for p in parts)
    except ValueError:
        raise InvalidParameters(f"{where} must look like W:H (for example 16:9), got {text!r}") from None
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise InvalidParameters(f"{where} must have positive sides, got {text!r}")
    return text


def aspect_ratio(text: str) -> float:
    """``"16:9"`` -> ``16/9``."""
    w, h = (float(p) for p in text.split(":"))
    return w / h


@dataclass(frozen=True)
class TextParam(Param):
    """A free-text parameter (``kind="string"``), at most ``maximum`` characters."""

    def parse(self, op: str, raw: Any) -> Any:
        where = f"{op}: parameter {self.name!r}"
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidParameters(f"{where} must be a non-empty string, got {raw!r}")
        if self.maximum is not None and len(raw) > self.maximum:
            raise InvalidParameters(f"{where} must be at most {self.maximum:g} characters, got {len(raw)}")
        return raw.strip()

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.pop("maximum", None)
        if self.maximum is not None:
            out["max_length"] = int(self.maximum)
        return out


MAX_POINTS = 32
"""Points per ``points`` parameter (eyes pointed at in one photo)."""
MAX_POINT_RADIUS = 10000


@dataclass(frozen=True)
class PointsParam(Param):
    """Points in image pixels (``kind="points"``), each ``[x, y]`` or ``[x, y, r]`` (``r`` a
    radius), at most ``count`` of them: a JSON list of such lists, or ``"x,y[,r];x,y[,r]"`` on
    the command line. Normalised to the list. Whether they lie inside the image is checked
    when the image is known (by the operation)."""

    def parse(self, op: str, raw: Any) -> Any:
        where = f"{op}: parameter {self.name!r}"
        if isinstance(raw, str):
            if len(raw) > MAX_NUMBER_TEXT * self.count:
                raise InvalidParameters(f"{where} must be at most {self.count} points x,y[,r] separated by ';'")
            items: Any = [item.split(",") for item in raw.split(";") if item.strip()]
        else:
            items = raw
        if not isinstance(items, (list, tuple)) or not items:
            raise InvalidParameters(
                f'{where} must be points "x,y[,r];x,y[,r]" or a list of [x, y] or [x, y, r], got {_short(raw)}'
            )
        if len(items) > self.count:
            raise InvalidParameters(f"{where} takes at most {self.count} points, got {len(items)}")
        points = []
        for number, item in enumerate(items, start=1):
            at = f"{where}, point {number}"
            if not isinstance(item, (list, tuple)) or len(item) not in (2, 3):
                raise InvalidParameters(f"{at} must be x,y or x,y,r (pixels), got {_short(item)}")
            values = [_number(at, v, integer=False, keep_int=True) for v in item]
            if values[0] < 0 or values[1] < 0:
                raise InvalidParameters(f"{at} must not be negative, got {values[0]},{values[1]}")
            if len(values) == 3 and not 0 < values[2] <= MAX_POINT_RADIUS:
                raise InvalidParameters(f"{at}: the radius must be above 0 and at most {MAX_POINT_RADIUS}, got {values[2]}")
            points.append(values)
        return points

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["max_items"] = self.count
        return out


# --- sizes (pure arithmetic, shared by the specs and the implementations) ---------------------
def box_in_pixels(box: Sequence[int | float], width: int, height: int) -> tuple[int, int, int, int]:
    """Interpret ``[x, y, w, h]``: fractions of the image when all are in [0, 1] and any is
    written as a decimal (``0.5``), pixels otherwise."""
    fractions = all(0 <= v <= 1 for v in box) and any(isinstance(v, float) for v in box)
    if fractions:
        x, y, w, h = box
        return (round(x * width), round(y * height), round(w * width), round(h * height))
    x, y, w, h = (round(v) for v in box)
    return x, y, w, h


def centered_window(
    width: int, height: int, ratio: float, center: tuple[float, float] | None = None
) -> tuple[int, int, int, int]:
    """The largest ``ratio`` (w/h) window inside a ``width`` x ``height`` image, centred on
    ``center`` (pixels; image centre by default) and shifted to stay inside."""
    if width / height > ratio:
        w, h = max(1, round(height * ratio)), height
    else:
        w, h = width, max(1, round(width / ratio))
    cx, cy = center if center is not None else (width / 2, height / 2)
    x = int(min(max(0, round(cx - w / 2)), width - w))
    y = int(min(max(0, round(cy - h / 2)), height - h))
    return x, y, w, h


def thumbnail_size(width: int, height: int, target_w: int | None, target_h: int | None, fit: str, upscale: bool = False) -> Size:
    """Size of the resampled image (before the ``cover`` crop) for a thumbnail request."""
    scales = []
    if target_w:
        scales.append(target_w / width)
    if target_h:
        scales.append(target_h / height)
    scale = (max if fit == "cover" and len(scales) == 2 else min)(scales)
    if not upscale:
        scale = min(scale, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _crop_size(params: Mapping[str, Any], size: Size) -> Size:
    width, height = size
    box = params.get("box")
    if box is not None:
        x, y, w, h = box_in_pixels(box, width, height)
        return max(0, min(width, x + w) - max(0, x)), max(0, min(height, y + h) - max(0, y))
    _, _, w, h = centered_window(width, height, aspect_ratio(params["aspect"]))
    return w, h


def _thumbnail_size(params: Mapping[str, Any], size: Size) -> Size:
    sw, sh = thumbnail_size(
        *size, params.get("width"), params.get("height"), params.get("fit", "contain"), params.get("upscale", False)
    )
    if params.get("fit") == "cover" and params.get("width") and params.get("height"):
        return min(params["width"], sw), min(params["height"], sh)
    return sw, sh


def _thumbnail_largest(params: Mapping[str, Any]) -> Size | None:
    return (params["width"], params["height"]) if params.get("width") and params.get("height") else None


def _same_size(params: Mapping[str, Any], size: Size) -> Size:
    return size


def _thumbnail_decode_hint(params: Mapping[str, Any], size: Size) -> Size:
    """The smallest decoded size a leading thumbnail needs (JPEG shrink-on-load)."""
    return thumbnail_size(
        *size, params.get("width"), params.get("height"), params.get("fit", "contain"), params.get("upscale", False)
    )


# --- operations -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    """A named image operation as the outside world sees it.

    ``implementation`` is ``"module:function"``, the pure function on pixels, imported when the
    operation first runs. ``output_size(params, (w, h))`` says how big the result will be,
    before any pixel is touched; ``decode_hint(params, (w, h))``, when given, is the smallest
    size the operation needs its input decoded at, when it runs first (shrink-on-load), and the
    operation then receives the source size as ``source_size``.
    """

    name: str
    summary: str
    implementation: str
    params: tuple[Param, ...] = ()
    check: Callable[[dict[str, Any]], None] | None = None
    """Cross-parameter validation, raising :class:`InvalidParameters`."""
    output_size: Callable[[Mapping[str, Any], Size], Size] = _same_size
    decode_hint: Callable[[Mapping[str, Any], Size], Size] | None = None
    largest_output: Callable[[Mapping[str, Any]], Size | None] | None = None
    """The largest result the parameters alone allow, whatever the input (None: it depends)."""
    uses_context: bool = False
    """The implementation takes the chain's :class:`~retouch.ops.context.ChainContext` as
    ``context`` (faces analysed once per image, settings, the deadline inside long work)."""

    @property
    def fn(self) -> Callable[..., Any]:
        """The implementation (imports its module on first use)."""
        module, _, name = self.implementation.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn

    def validate(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the complete, normalised parameters (defaults filled in) or raise."""
        raw = dict(raw or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise InvalidParameters(f"{self.name}: unknown parameter {unknown[0]!r} (allowed: {allowed})")
        values: dict[str, Any] = {}
        for p in self.params:
            if p.name in raw and raw[p.name] is not None:
                values[p.name] = p.parse(self.name, raw[p.name])
            elif p.default is not None:
                values[p.name] = p.default
        for p in self.params:
            for other, allowed_values in p.only_with.items():
                if p.name in raw and values.get(other) not in allowed_values:
                    raise InvalidParameters(
                        f"{self.name}: parameter {p.name!r} only applies when {other} is {' or '.join(allowed_values)}"
                    )
        # parameters that do not apply are dropped, so equal requests give equal messages
        values = {k: v for k, v in values.items() if all(values.get(o) in allowed for o, allowed in known[k].only_with.items())}
        if self.check is not None:
            self.check(values)
        return values

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "params": [p.describe() for p in self.params]}


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


NEEDS_REFERENCE = "colorize: mode=reference needs reference=<name of another image in the job>"


def _check_colorize(values: dict[str, Any]) -> None:
    mode = values.get("mode")
    if mode == "hints":
        if "hints" not in values:
            raise InvalidParameters('colorize: mode=hints needs hints="x,y,#rrggbb;x,y,#rrggbb"')
        parse_hints(values["hints"])
    if mode == "reference" and "reference" not in values:
        raise InvalidParameters(NEEDS_REFERENCE)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="crop",
        summary="Crop to a box (pixels or fractions) or to an aspect ratio.",
        implementation="retouch.ops.geometry:crop",
        params=(
            Param(
                "box", "numbers", "x,y,w,h in pixels, or fractions of the image written as decimals (0.1,0.1,0.8,0.8)", count=4
            ),
            Param("aspect", "aspect", "aspect ratio W:H of the largest window to keep, e.g. 1:1 or 16:9"),
            Param(
                "gravity",
                "choice",
                "where the aspect window sits: center, face (keep every face) or smart (faces, else saliency)",
                default="center",
                choices=GRAVITIES,
            ),
        ),
        check=_check_crop,
        output_size=_crop_size,
        uses_context=True,
    ),
    Operation(
        name="thumbnail",
        summary="Resize to fit (contain) or fill (cover) a box, never enlarging unless asked.",
        implementation="retouch.ops.geometry:thumbnail",
        params=(
            Param("width", "int", "box width in pixels", minimum=1, maximum=8192),
            Param("height", "int", "box height in pixels", minimum=1, maximum=8192),
            Param(
                "fit",
                "choice",
                "contain: whole image inside the box; cover: fill the box, crop overflow",
                default="contain",
                choices=("contain", "cover"),
            ),
            Param("upscale", "bool", "enlarge images smaller than the box", default=False),
            Param(
                "gravity",
                "choice",
                "cover: the part to keep: face (every face in frame), smart or center",
                default="face",
                choices=GRAVITIES,
                only_with={"fit": ("cover",)},
            ),
        ),
        check=_check_thumbnail,
        output_size=_thumbnail_size,
        decode_hint=_thumbnail_decode_hint,
        largest_output=_thumbnail_largest,
        uses_context=True,
    ),
    Operation(
        name="contrast",
        summary="Contrast on luminance: auto levels, CLAHE, or brightness/contrast/gamma.",
        implementation="retouch.ops.tone:contrast",
        params=(
            Param(
                "method",
                "choice",
                "auto: percentile stretch; clahe: adaptive equalisation; linear: brightness/contrast/gamma",
                default="auto",
                choices=("auto", "clahe", "linear"),
            ),
            Param(
                "low",
                "float",
                "percentile of luma mapped to black",
                default=0.5,
                minimum=0,
                maximum=50,
                only_with={"method": ("auto",)},
            ),
            Param(
                "high",
                "float",
                "percentile of luma mapped to white",
                default=99.5,
                minimum=50,
                maximum=100,
                only_with={"method": ("auto",)},
            ),
            Param(
                "clip_limit", "float", "CLAHE clip limit", default=2.0, minimum=0.1, maximum=40, only_with={"method": ("clahe",)}
            ),
            Param(
                "tiles",
                "int",
                "CLAHE grid size (tiles x tiles)",
                default=8,
                minimum=1,
                maximum=64,
                only_with={"method": ("clahe",)},
            ),
            Param(
                "brightness", "float", "offset, -1 to 1", default=0.0, minimum=-1, maximum=1, only_with={"method": ("linear",)}
            ),
            Param(
                "contrast",
                "float",
                "slope around mid-grey; 1 keeps contrast",
                default=1.0,
                minimum=0,
                maximum=5,
                only_with={"method": ("linear",)},
            ),
            Param(
                "gamma",
                "float",
                "gamma; above 1 brightens mid-tones",
                default=1.0,
                minimum=0.1,
                maximum=10,
                only_with={"method": ("linear",)},
            ),
        ),
        check=_check_contrast,
    ),
    Operation(
        name="red_eye",
        summary="Remove red eye: find red, round pupils inside detected irises and neutralise them.",
        implementation="retouch.ops.portrait:red_eye",
        params=(
            Param("strength", "float", "how much of the correction to apply, 0 to 1", default=1.0, minimum=0, maximum=1),
            Param(
                "threshold",
                "float",
                "minimum redness (R - max(G, B)) / R of a pupil pixel; lower catches paler red eye",
                default=0.45,
                minimum=0.2,
                maximum=0.9,
            ),
            Param(
                "cat_eye",
                "bool",
                "also darken golden or white flash pupils (cat's eye); may darken pale irises",
                default=False,
            ),
            PointsParam(
                "points",
                "points",
                "eyes to fix by pointing at them, for eyes no face was found for (a close crop, a pet): "
                '"x,y;x,y" or "x,y,r" with r the iris radius, in pixels (a JSON list of [x, y] or [x, y, r]); '
                "a red pupil is neutralised, a golden, green or white eye-shine darkened, other eyes left alone",
                count=MAX_POINTS,
            ),
        ),
        uses_context=True,
    ),
    Operation(
        name="teeth_whitening",
        summary="Whiten visible teeth: less yellow (Lab b*) and a little lighter, inside the inner lips.",
        implementation="retouch.ops.portrait:teeth_whitening",
        params=(
            Param(
                "strength",
                "float",
                "0 none, 0.6 natural white (removes the yellow cast), 1 whitest",
                default=0.6,
                minimum=0,
                maximum=1,
            ),
        ),
        uses_context=True,
    ),
    Operation(
        name="colorize",
        summary="Colorize on luminance: from a reference photo, from colour hints, or automatically.",
        implementation="retouch.ops.colorize:colorize",
        params=(
            Param(
                "mode",
                "choice",
                "auto: model or reference library; reference: colours of another image of the job; hints: colour hints",
                default="auto",
                choices=("auto", "reference", "hints"),
            ),
            Param("strength", "float", "chroma multiplier: 0 grey, 1 as predicted", default=1.0, minimum=0, maximum=2),
            TextParam(
                "hints",
                "string",
                'colour hints "x,y,#rrggbb;x,y,#rrggbb" (x,y in pixels, or fractions like 0.25,0.5)',
                maximum=16 * MAX_HINTS,
                only_with={"mode": ("hints",)},
            ),
            TextParam(
                "reference",
                "string",
                "name of another image of the same job whose colours are transferred",
                maximum=1024,
                only_with={"mode": ("reference",)},
            ),
        ),
        check=_check_colorize,
        uses_context=True,
    ),
)

REGISTRY: dict[str, Operation] = {op.name: op for op in OPERATIONS}


def get(name: str) -> Operation:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InvalidParameters(f"unknown operation {name!r}; available: {', '.join(sorted(REGISTRY))}") from None


def validate_operations(raw: Any) -> tuple[OperationSpec, ...]:
    """Validate a list of requested operations into normalised :class:`OperationSpec`."""
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise InvalidParameters("'operations' must be a list of {op, params} objects")
    if not raw:
        raise InvalidParameters("'operations' must name at least one operation")
    if len(raw) > MAX_OPERATIONS:
        raise InvalidParameters(f"at most {MAX_OPERATIONS} operations per job, got {len(raw)}")
    specs = []
    for item in raw:
        spec = OperationSpec.from_dict(item)
        specs.append(OperationSpec(op=spec.op, params=get(spec.op).validate(spec.params)))
    return tuple(specs)


def describe_all() -> list[dict[str, Any]]:
    return [REGISTRY[name].describe() for name in sorted(REGISTRY)]


def output_size(specs: Sequence[OperationSpec], size: Size) -> Size:
    """The size the chain produces from an image of ``size`` (validated specs)."""
    for spec in specs:
        size = get(spec.op).output_size(spec.params, size)
    return size


def check_request(specs: Sequence[OperationSpec], max_pixels: int) -> None:
    """Refuse at validation what would exceed ``max_pixels`` whatever the input (the rest is
    checked against each image's real size before it is processed: :func:`check_chain`)."""
    for spec in specs:
        op = get(spec.op)
        largest = op.largest_output(spec.params) if op.largest_output else None
        if largest is not None and largest[0] * largest[1] > max_pixels:
            w, h = largest
            raise InvalidParameters(
                f"{spec.op}: a {w}x{h} result ({w * h / 1e6:.0f} MP) would be over the {max_pixels / 1e6:.0f} MP limit"
            )


def check_chain(specs: Sequence[OperationSpec], size: Size, max_pixels: int) -> Size:
    """Refuse, before any pixel is touched, a chain that would make an image over ``max_pixels``
    or enlarge one by more than :data:`MAX_UPSCALE` in one step. Returns the final size."""
    for spec in specs:
        out = get(spec.op).output_size(spec.params, size)
        w, h = out
        if w * h > max_pixels:
            raise ImageTooLarge(
                f"{spec.op} would make a {w}x{h} image ({w * h / 1e6:.0f} MP), over the {max_pixels / 1e6:.0f} MP limit"
            )
        if max(w / max(1, size[0]), h / max(1, size[1])) > MAX_UPSCALE:
            raise ImageTooLarge(
                f"{spec.op} would enlarge the image more than {MAX_UPSCALE:g} times ({size[0]}x{size[1]} to {w}x{h})"
            )
        size = out
    return size


def parse_cli_operation(text: str) -> dict[str, Any]:
    """Parse ``NAME[:key=value,...]`` from the command line into ``{"op", "params"}``.

    A comma-separated item without ``=`` continues the previous value, so
    ``crop:box=10,10,200,100`` gives ``box="10,10,200,100"``.
    """
    name, _, rest = text.partition(":")
    params: dict[str, str] = {}
    last: str | None = None
    for item in filter(None, (s.strip() for s in rest.split(","))):
        if "=" in item:
            key, _, value = item.partition("=")
            last = key.strip()
            params[last] = value.strip()
        elif last is not None:
            params[last] += "," + item
        else:
            raise InvalidParameters(f"{name}: expected key=value, got {item!r}")
    return {"op": name.strip(), "params": params}
