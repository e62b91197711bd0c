"""Colour hints for ``colorize mode=hints``: their syntax and parsing.

Light (no numpy): the API validates hints with it, and :mod:`.colorize` propagates them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from retouch.errors import ValidationError

MAX_HINTS = 256


@dataclass(frozen=True)
class Hint:
    """A colour hint: position (pixels, or fractions of the size when ``fractional``) and RGB."""

    x: float
    y: float
    rgb: tuple[int, int, int]
    fractional: bool = False

    def pixel(self, width: int, height: int) -> tuple[float, float]:
        return (self.x * width, self.y * height) if self.fractional else (self.x, self.y)


_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def parse_hints(text: str) -> list[Hint]:
    """Parse ``"x,y,#rrggbb;x,y,#rrggbb"`` (``x,y,r,g,b`` also accepted for the colour).

    ``x, y`` are pixels, or fractions of the width and height when both lie in [0, 1] and one is
    written with a decimal point (``0.25,0.5``), as for crop boxes.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError('colorize: hints must look like "x,y,#rrggbb;x,y,#rrggbb", got ' + repr(text))
    items = [item.strip() for item in text.split(";") if item.strip()]
    if len(items) > MAX_HINTS:
        raise ValidationError(f"colorize: at most {MAX_HINTS} hints, got {len(items)}")
    hints = []
    for number, item in enumerate(items, start=1):
        where = f"colorize: hint {number} ({item!r})"
        parts = [p.strip() for p in item.split(",")]
        if len(parts) not in (3, 5):
            raise ValidationError(f"{where} must be x,y,#rrggbb or x,y,r,g,b")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValidationError(f"{where}: x and y must be numbers") from None
        if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0:
            raise ValidationError(f"{where}: x and y must be non-negative numbers")
        if len(parts) == 3:
            match = _HEX.fullmatch(parts[2])
            if match is None:
                raise ValidationError(f"{where}: colour must be #rrggbb, got {parts[2]!r}")
            value = int(match.group(1), 16)
            rgb = ((value >> 16) & 255, (value >> 8) & 255, value & 255)
        else:
            try:
                channels = [int(p) for p in parts[2:]]
            except ValueError:
                raise ValidationError(f"{where}: r,g,b must be whole numbers 0-255") from None
            if any(not 0 <= c <= 255 for c in channels):
                raise ValidationError(f"{where}: r,g,b must be whole numbers 0-255")
            rgb = (channels[0], channels[1], channels[2])
        fractional = x <= 1 and y <= 1 and ("." in parts[0] or "." in parts[1])
        hints.append(Hint(x, y, rgb, fractional))
    return hints
