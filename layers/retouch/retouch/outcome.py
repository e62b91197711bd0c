"""What the operations did to one image, in a few structured facts and one plain sentence.

Every operation that can find nothing to do, or do only part of what was asked, reports what it
did through its chain's context (:meth:`retouch.ops.context.ChainContext.report`); the facts add
up over the chain into one :class:`Outcome`, which travels with the image's result (the response
queue, the stored image, ``GET /jobs/{id}``, image events, the CLI's summary and ``job.json``,
``retouch apply``) and reads as one sentence a person understands ("2 red eyes fixed",
"No face found: nothing to fix", "Already in colour: left as it was").

A fact left ``None`` means no operation looked (a chain without red_eye says nothing about eyes).
This module is the one place the facts and their wording are written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """The facts one image's chain of operations reported (see the module docstring)."""

    faces_found: int | None = None
    """Faces found by the first operation that looked for them."""
    red_eyes_fixed: int | None = None
    """Eyes whose red (or eye-shine) was removed; 0: eyes looked at, none was red."""
    eyes_looked_at: int | None = None
    """Eyes red_eye examined (detected and pointed at)."""
    teeth_whitened: int | None = None
    """Faces whose teeth were whitened; 0: no visible teeth (closed mouths, or no face)."""
    colorized: bool | None = None
    """True: a monochrome photo was coloured; False: it was left as it was (see ``already_in_colour``)."""
    already_in_colour: bool | None = None
    """The photo already had colour, so colorize left it as it was (unless forced)."""
    faces_outside: int | None = None
    """Faces a face-aware crop or thumbnail could not keep in the frame."""

    def merge(self, **facts: Any) -> Outcome:
        """This outcome with ``facts`` added: counts add up, flags and the first face count stay."""
        changes: dict[str, Any] = {}
        for name, value in facts.items():
            if value is None:
                continue
            current = getattr(self, name)
            if name == "faces_found":
                changes[name] = value if current is None else current
            elif isinstance(value, bool) or current is None:
                changes[name] = value
            else:
                changes[name] = current + value
        return replace(self, **changes)

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        """The facts that are known, and the sentence (what is stored, sent and shown)."""
        body = {k: v for k, v in asdict(self).items() if v is not None}
        body["summary"] = self.sentence()
        return body

    @classmethod
    def from_dict(cls, raw: Any) -> Outcome:
        """Read back what :meth:`to_dict` wrote (unknown keys and bad values are dropped)."""
        if not isinstance(raw, dict):
            return cls()
        known: dict[str, Any] = {}
        for f in fields(cls):
            value = raw.get(f.name)
            if isinstance(value, bool):
                known[f.name] = value
            elif isinstance(value, int | Decimal) and value >= 0 and value == int(value):
                known[f.name] = int(value)  # a stored number comes back from DynamoDB as a Decimal
        return cls(**known)

    def sentence(self) -> str:
        """One plain sentence: what changed, what was not there to change."""
        parts = [p for p in (self._no_face(), self._eyes(), self._teeth(), self._colour(), self._frame()) if p]
        if not parts:
            return "Done."
        text = "; ".join(parts)
        return text[0].upper() + text[1:] + "."

    def _faceless(self) -> tuple[bool, bool]:
        """Whether the eyes, the teeth were looked for and nothing was there: no face (and no
        eye pointed at)."""
        if self.faces_found != 0:
            return False, False
        return self.red_eyes_fixed == 0 and not self.eyes_looked_at, self.teeth_whitened == 0

    def _no_face(self) -> str | None:
        eyes, teeth = self._faceless()
        if eyes and teeth:
            return "no face found: no red eyes or teeth to fix"
        if eyes or teeth:
            return "no face found: " + ("no red eyes to fix" if eyes else "no teeth to whiten")
        return None

    def _eyes(self) -> str | None:
        if self.red_eyes_fixed is None or self._faceless()[0]:
            return None
        if self.red_eyes_fixed:
            return _count(self.red_eyes_fixed, "red eye") + " fixed"
        if not self.eyes_looked_at:
            return "no eyes found: nothing to fix"
        return "no red eyes: left as they were"

    def _teeth(self) -> str | None:
        if self.teeth_whitened is None or self._faceless()[1]:
            return None
        if self.teeth_whitened:
            return "teeth whitened on " + _count(self.teeth_whitened, "face")
        return "no teeth visible: nothing whitened"

    def _colour(self) -> str | None:
        if self.already_in_colour:
            return "already in colour: left as it was"
        return "coloured" if self.colorized else None

    def _frame(self) -> str | None:
        if not self.faces_outside:
            return None
        return _count(self.faces_outside, "face") + " could not fit in the frame"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
