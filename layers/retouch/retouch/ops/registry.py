"""The operation registry: names, parameter schemas and the functions that implement them.

The API validates requests against this registry, the CLI lists it (``retouch ops``), and the
process function applies it; there is no second list of operations anywhere.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retouch.errors import InvalidParameters, OperationTimeout
from retouch.models import OperationSpec

Image = np.ndarray
"""An image is an ``uint8`` array of shape (H, W, 3) RGB or (H, W, 4) RGBA."""

MAX_OPERATIONS = 20


@dataclass(frozen=True)
class Param:
    """One parameter of an operation.

    ``kind`` is one of ``int``, ``float``, ``choice``, ``bool``, ``numbers`` (a list of
    ``count`` numbers, also accepted as a comma-separated string) or ``aspect`` (``W:H``).
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
        try:
            raw = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise InvalidParameters(f"{where} must be a number, got {text!r}") from None
    if not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise InvalidParameters(f"{where} must be a finite number, got {raw!r}")
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


OperationFn = Callable[..., Image]


@dataclass(frozen=True)
class Operation:
    """A named image operation: a pure function plus the schema of its parameters."""

    name: str
    summary: str
    fn: OperationFn
    params: tuple[Param, ...] = ()
    check: Callable[[dict[str, Any]], None] | None = None
    """Cross-parameter validation, raising :class:`InvalidParameters`."""

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


REGISTRY: dict[str, Operation] = {}


def register(operation: Operation) -> Operation:
    if operation.name in REGISTRY:  # pragma: no cover - programming error
        raise ValueError(f"operation {operation.name!r} registered twice")
    REGISTRY[operation.name] = operation
    return operation


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


REFERENCE_PARAM = "reference"
"""A parameter that names another image of the job; the pipeline replaces it by that image's
pixels before calling the operation (see :func:`apply_operations`)."""

Resolver = Callable[[str], Image]


def apply_operations(
    image: Image,
    specs: Iterable[OperationSpec],
    *,
    budget_seconds: float | None = None,
    resolve_image: Resolver | None = None,
) -> Image:
    """Apply operations in order. Parameters are validated again (messages are input too).

    ``budget_seconds`` bounds the whole chain; it is checked between operations.
    ``resolve_image`` turns a ``reference`` parameter (another image of the job) into pixels.
    """
    started = time.monotonic()
    for spec in specs:
        operation = get(spec.op)
        params: dict[str, Any] = operation.validate(spec.params)
        if isinstance(params.get(REFERENCE_PARAM), str):
            if resolve_image is None:
                raise InvalidParameters(f"{spec.op}: reference images cannot be loaded here")
            params[REFERENCE_PARAM] = resolve_image(params[REFERENCE_PARAM])
        image = operation.fn(image, **params)
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            raise OperationTimeout(f"operations ran past their budget of {budget_seconds:.0f} s (stopped after {spec.op})")
    return image


def referenced_images(specs: Iterable[OperationSpec]) -> set[str]:
    """The ``reference`` values (image names or ids) the operations use."""
    return {str(s.params[REFERENCE_PARAM]) for s in specs if isinstance(s.params.get(REFERENCE_PARAM), str)}


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
