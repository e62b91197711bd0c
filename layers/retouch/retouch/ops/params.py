"""Parameter kinds: one small class per kind, each able to parse a raw value and to describe it.

A parameter (Thumbor's filter parameters are small objects too) knows three things about its
values, and nothing else needs to switch on its kind:

* :meth:`Param.parse` converts and checks one raw value, from JSON or from the command line
  (``"64"``, ``"true"``, ``"0.1,0.1,0.8,0.8"``), raising :class:`ValidationError` with a
  message that names the operation and the parameter;
* :meth:`Param.describe` is what ``GET /operations`` and ``retouch ops`` list, the technical
  ``help`` and, for people, a ``label`` and ``plain_help`` in plain words (the web page shows
  only these; ``ui`` says when a parameter is not typed in: ``points`` are placed on one photo,
  ``photo`` names another photo of the job);
* :meth:`Param.json_schema` is the JSON Schema of one value, which the API's models
  (:mod:`retouch.apimodels`) put in the OpenAPI document.

Light: no numpy, OpenCV or Pillow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from retouch.errors import ValidationError

MAX_MAGNITUDE = 1e9
"""No parameter is a number larger than this (pixel boxes included)."""
MAX_NUMBER_TEXT = 40

ASPECT_PATTERN = r"^\d+(\.\d+)?:\d+(\.\d+)?$"
"""``W:H``, each a plain decimal number (what the API's document states and what is accepted)."""


def _short(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Param:
    """One parameter of an operation (the base of the kinds below).

    ``default`` is used when the parameter is absent or null; ``only_with`` restricts it to some
    values of another parameter, e.g. ``{"method": ("linear",)}``. ``label`` and ``plain_help``
    are the parameter in a person's words (no formula, no algorithm's name); ``ui`` is
    ``"points"`` for points placed on one photo, ``"photo"`` for the name of another photo.
    """

    kind: ClassVar[str] = ""
    """The kind's name, as :meth:`describe` shows it (``int``, ``choice``...)."""

    name: str
    help: str
    default: Any = None
    only_with: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    label: str = ""
    plain_help: str = ""
    ui: str = ""

    def where(self, op: str) -> str:
        return f"{op}: parameter {self.name!r}"

    def parse(self, op: str, raw: Any) -> Any:  # pragma: no cover - every kind overrides it
        """Convert and check one raw value (from JSON or the command line)."""
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:  # pragma: no cover - every kind overrides it
        """The JSON Schema of one value (null, meaning the default, is added by the API's models)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "help": self.help}
        out.update(label=self.label, plain_help=self.plain_help)
        if self.ui:
            out["ui"] = self.ui
        if self.default is not None:
            out["default"] = self.default
        out.update(self._limits())
        if self.only_with:
            out["only_with"] = {k: list(v) for k, v in self.only_with.items()}
        return out

    def _limits(self) -> dict[str, Any]:
        return {}


def number(where: str, raw: Any, *, integer: bool, keep_int: bool = False) -> int | float:
    """A finite number no larger than :data:`MAX_MAGNITUDE` from a number or its text."""
    if isinstance(raw, bool):
        raise ValidationError(f"{where} must be a number, got {raw!r}")
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) > MAX_NUMBER_TEXT:
            raise ValidationError(f"{where} must be a number of at most {MAX_NUMBER_TEXT} characters")
        try:
            raw = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise ValidationError(f"{where} must be a number, got {text!r}") from None
    if not isinstance(raw, (int, float)):
        raise ValidationError(f"{where} must be a number, got {type(raw).__name__ if raw is None else _short(raw)}")
    if (isinstance(raw, int) and abs(raw) > MAX_MAGNITUDE) or (isinstance(raw, float) and not math.isfinite(raw)):
        raise ValidationError(f"{where} must be a finite number no larger than {MAX_MAGNITUDE:.0e} in size")
    if abs(raw) > MAX_MAGNITUDE:
        raise ValidationError(f"{where} must be a finite number no larger than {MAX_MAGNITUDE:.0e} in size")
    if integer:
        if isinstance(raw, float) and not raw.is_integer():
            raise ValidationError(f"{where} must be a whole number, got {raw}")
        return int(raw)
    if keep_int and isinstance(raw, int):
        return raw
    return float(raw)


@dataclass(frozen=True)
class Float(Param):
    """A number in ``[minimum, maximum]`` (either bound optional)."""

    kind: ClassVar[str] = "float"
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, op: str, raw: Any) -> Any:
        return self._bounded(op, number(self.where(op), raw, integer=False))

    def _bounded(self, op: str, value: float) -> float:
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"{self.where(op)} must be at least {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(f"{self.where(op)} must be at most {self.maximum}, got {value}")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "number", **self._limits()}

    def _limits(self) -> dict[str, Any]:
        limits = {"minimum": self.minimum, "maximum": self.maximum}
        return {k: v for k, v in limits.items() if v is not None}


@dataclass(frozen=True)
class Int(Float):
    """A whole number in ``[minimum, maximum]`` (``5.0`` and ``"5"`` are 5; ``5.5`` is refused)."""

    kind: ClassVar[str] = "int"

    def parse(self, op: str, raw: Any) -> Any:
        return self._bounded(op, number(self.where(op), raw, integer=True))

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", **self._limits()}


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Bool(Param):
    """true or false (also ``yes``/``no``, ``on``/``off``, ``1``/``0`` as text)."""

    kind: ClassVar[str] = "bool"

    def parse(self, op: str, raw: Any) -> Any:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise ValidationError(f"{self.where(op)} must be true or false, got {raw!r}")

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Choice(Param):
    """One of ``choices`` (case-insensitive; normalised to lower case)."""

    kind: ClassVar[str] = "choice"
    choices: tuple[str, ...] = ()
    choice_labels: Mapping[str, str] = field(default_factory=dict)
    """Each choice in a person's words."""

    def parse(self, op: str, raw: Any) -> Any:
        if not isinstance(raw, str) or raw.lower() not in self.choices:
            raise ValidationError(f"{self.where(op)} must be one of {', '.join(self.choices)}, got {raw!r}")
        return raw.lower()

    def json_schema(self) -> dict[str, Any]:
        return {"enum": list(self.choices), "type": "string"}

    def _limits(self) -> dict[str, Any]:
        labels = {"choice_labels": dict(self.choice_labels)} if self.choice_labels else {}
        return {"choices": list(self.choices), **labels}


_NUMBER_ITEM = {"anyOf": [{"type": "integer"}, {"type": "number"}]}


@dataclass(frozen=True)
class Numbers(Param):
    """``count`` numbers: a list, or a comma-separated string. Whole numbers stay ints."""

    kind: ClassVar[str] = "numbers"
    count: int = 0

    def parse(self, op: str, raw: Any) -> Any:
        where = self.where(op)
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or len(items) != self.count:
            raise ValidationError(f"{where} must be {self.count} numbers, got {raw!r}")
        return [number(where, v, integer=False, keep_int=True) for v in items]

    def json_schema(self) -> dict[str, Any]:
        return {"items": _NUMBER_ITEM, "maxItems": self.count, "minItems": self.count, "type": "array"}


@dataclass(frozen=True)
class Aspect(Param):
    """An aspect ratio ``W:H`` with positive sides written as plain decimals (``16:9``, ``2.35:1``)."""

    kind: ClassVar[str] = "aspect"
    suggestions: tuple[str, ...] = ()
    """Usual values, offered to pick from."""

    def parse(self, op: str, raw: Any) -> Any:
        where = self.where(op)
        text = str(raw).strip()
        if not re.fullmatch(ASPECT_PATTERN, text, flags=re.ASCII):
            raise ValidationError(f"{where} must look like W:H (for example 16:9), got {_short(text)}")
        if not all(float(side) > 0 for side in text.split(":")):
            raise ValidationError(f"{where} must have positive sides, got {text!r}")
        return text

    def json_schema(self) -> dict[str, Any]:
        return {"pattern": ASPECT_PATTERN, "type": "string"}

    def _limits(self) -> dict[str, Any]:
        return {"suggestions": list(self.suggestions)} if self.suggestions else {}


@dataclass(frozen=True)
class Text(Param):
    """Free text, stripped, not empty, at most ``max_length`` characters."""

    kind: ClassVar[str] = "string"
    max_length: int | None = None

    def parse(self, op: str, raw: Any) -> Any:
        where = self.where(op)
        if not isinstance(raw, str) or not raw.strip():
            raise ValidationError(f"{where} must be a non-empty string, got {raw!r}")
        if self.max_length is not None and len(raw) > self.max_length:
            raise ValidationError(f"{where} must be at most {self.max_length:g} characters, got {len(raw)}")
        return raw.strip()

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string"} if self.max_length is None else {"maxLength": self.max_length, "type": "string"}

    def _limits(self) -> dict[str, Any]:
        return {} if self.max_length is None else {"max_length": self.max_length}


MAX_POINT_RADIUS = 10000


@dataclass(frozen=True)
class Points(Param):
    """Points in image pixels, each ``[x, y]`` or ``[x, y, r]`` (``r`` a radius), at most
    ``count`` of them: a JSON list of such lists, or ``"x,y[,r];x,y[,r]"`` on the command line.
    Normalised to the list. Whether they lie inside the image is checked when the image is
    known (by the operation)."""

    kind: ClassVar[str] = "points"
    count: int = 0

    def parse(self, op: str, raw: Any) -> Any:
        where = self.where(op)
        if isinstance(raw, str):
            if len(raw) > MAX_NUMBER_TEXT * self.count:
                raise ValidationError(f"{where} must be at most {self.count} points x,y[,r] separated by ';'")
            items: Any = [item.split(",") for item in raw.split(";") if item.strip()]
        else:
            items = raw
        if not isinstance(items, (list, tuple)) or not items:
            raise ValidationError(f'{where} must be points "x,y[,r];x,y[,r]" or a list of [x, y] or [x, y, r], got {_short(raw)}')
        if len(items) > self.count:
            raise ValidationError(f"{where} takes at most {self.count} points, got {len(items)}")
        return [self._point(f"{where}, point {n}", item) for n, item in enumerate(items, start=1)]

    @staticmethod
    def _point(at: str, item: Any) -> list[int | float]:
        if not isinstance(item, (list, tuple)) or len(item) not in (2, 3):
            raise ValidationError(f"{at} must be x,y or x,y,r (pixels), got {_short(item)}")
        values = [number(at, v, integer=False, keep_int=True) for v in item]
        if values[0] < 0 or values[1] < 0:
            raise ValidationError(f"{at} must not be negative, got {values[0]},{values[1]}")
        if len(values) == 3 and not 0 < values[2] <= MAX_POINT_RADIUS:
            raise ValidationError(f"{at}: the radius must be above 0 and at most {MAX_POINT_RADIUS}, got {values[2]}")
        return values

    def json_schema(self) -> dict[str, Any]:
        point = {"items": _NUMBER_ITEM, "maxItems": 3, "minItems": 2, "type": "array"}
        return {"items": point, "maxItems": self.count, "minItems": 1, "type": "array"}

    def _limits(self) -> dict[str, Any]:
        return {"max_items": self.count}
