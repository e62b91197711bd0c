"""An operation as the outside world sees it: its name, parameters, output size and decode hint.

Light (no numpy, OpenCV or Pillow): the implementation, the pure function on pixels, is named by
``Operation.implementation`` and imported the first time it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from retouch.errors import ValidationError
from retouch.ops.params import Param
from retouch.ops.sizes import same_size
from retouch.ops.types import Size


@dataclass(frozen=True)
class Operation:
    """A named image operation.

    ``implementation`` is ``"module:function"``, imported when the operation first runs; it is
    called with the image and the *bound* parameters (every default filled in, see
    :meth:`validate`), so the defaults are the :class:`Param`'s (a test checks that the
    implementations' own signature defaults agree). ``output_size(params, (w, h))`` says how big
    the result will be, before any pixel is touched; ``decode_hint(params, (w, h))``, when
    given, is the smallest size the operation needs its input decoded at when it runs first
    (shrink-on-load), and it then receives the source size as ``source_size``.

    ``label``, ``task_help`` and ``preset`` are the operation as a task a person chooses (the web
    page's words, published by ``GET /operations``): what it is called, what it does, and the
    settings it starts with; ``order`` is where it sits among the tasks, which the page offers
    and applies in that order.
    """

    name: str
    summary: str
    implementation: str
    params: tuple[Param, ...] = ()
    check: Callable[[dict[str, Any]], None] | None = None
    """Cross-parameter validation, raising :class:`ValidationError`."""
    output_size: Callable[[Mapping[str, Any], Size], Size] = same_size
    decode_hint: Callable[[Mapping[str, Any], Size], Size] | None = None
    largest_output: Callable[[Mapping[str, Any]], Size | None] | None = None
    """The largest result the parameters alone allow, whatever the input (None: it depends)."""
    uses_context: bool = False
    """The implementation takes the chain's :class:`~retouch.ops.context.ChainContext` as
    ``context`` (faces analysed once per image, settings, the deadline inside long work)."""
    label: str = ""
    task_help: str = ""
    preset: Mapping[str, Any] = field(default_factory=dict)
    order: int = 100

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
            raise ValidationError(f"{self.name}: unknown parameter {unknown[0]!r} (allowed: {allowed})")
        values: dict[str, Any] = {}
        for p in self.params:
            if p.name in raw and raw[p.name] is not None:
                values[p.name] = p.parse(self.name, raw[p.name])
            elif p.default is not None:
                values[p.name] = p.default
        for p in self.params:
            for other, allowed_values in p.only_with.items():
                if p.name in raw and values.get(other) not in allowed_values:
                    raise ValidationError(
                        f"{self.name}: parameter {p.name!r} only applies when {other} is {' or '.join(allowed_values)}"
                    )
        # parameters that do not apply are dropped, so equal requests give equal messages
        values = {k: v for k, v in values.items() if all(values.get(o) in allowed for o, allowed in known[k].only_with.items())}
        if self.check is not None:
            self.check(values)
        return values

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "label": self.label,
            "task_help": self.task_help,
            "preset": dict(self.preset),
            "order": self.order,
            "params": [p.describe() for p in self.params],
        }
