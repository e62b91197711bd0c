"""A bound chain: requested operations validated once, with every default filled in.

:func:`bind` is the one place where requested operations - a request's JSON, a queue message,
``--op`` values - are checked against the specs (:mod:`.specs`). Everything downstream takes the
:class:`Chain` it returns and never validates again: the size checks here, the pipeline's
shrink-on-load hint and its loop (:func:`retouch.ops.registry.apply_operations`,
:func:`retouch.pipeline.render`). Its wire form (:attr:`Chain.specs`) is what jobs store and
queue messages carry; the process function binds a message once, as the input it is.

Light: no numpy, OpenCV or Pillow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from retouch.errors import ImageTooLarge, ValidationError
from retouch.models import OperationSpec
from retouch.ops.operation import Operation
from retouch.ops.table import MAX_OPERATIONS, get
from retouch.ops.types import Size

MAX_UPSCALE = 4.0
"""The largest factor by which one operation may enlarge an image's sides."""


@dataclass(frozen=True)
class Step:
    """One operation of a chain with its bound parameters (read-only by convention)."""

    operation: Operation
    params: Mapping[str, Any]

    @property
    def op(self) -> str:
        return self.operation.name

    @property
    def spec(self) -> OperationSpec:
        return OperationSpec(self.op, dict(self.params))

    def output_size(self, size: Size) -> Size:
        return self.operation.output_size(self.params, size)


@dataclass(frozen=True)
class Chain:
    """Operations to apply in order, each bound to its validated parameters (see :func:`bind`)."""

    steps: tuple[Step, ...] = ()

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def specs(self) -> tuple[OperationSpec, ...]:
        """The wire form: what a job stores and a queue message carries."""
        return tuple(step.spec for step in self.steps)

    @property
    def names(self) -> list[str]:
        return [step.op for step in self.steps]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [step.spec.to_dict() for step in self.steps]

    def output_size(self, size: Size) -> Size:
        """The size the chain produces from an image of ``size``."""
        for step in self.steps:
            size = step.output_size(size)
        return size

    def decode_hint(self) -> Callable[[int, int], Size] | None:
        """The smallest decode size the first operation needs, when it has a decode hint."""
        if not self.steps or self.steps[0].operation.decode_hint is None:
            return None
        hint, params = self.steps[0].operation.decode_hint, self.steps[0].params
        return lambda w, h: hint(params, (w, h))

    def check_request(self, max_pixels: int) -> None:
        """Refuse what would exceed ``max_pixels`` whatever the input (the rest is checked
        against each image's real size before it is processed: :meth:`check`)."""
        for step in self.steps:
            op = step.operation
            largest = op.largest_output(step.params) if op.largest_output else None
            if largest is not None and largest[0] * largest[1] > max_pixels:
                w, h = largest
                raise ValidationError(
                    f"{step.op}: a {w}x{h} result ({w * h / 1e6:.0f} MP) would be over the {max_pixels / 1e6:.0f} MP limit"
                )

    def check(self, size: Size, max_pixels: int) -> Size:
        """Refuse, before any pixel is touched, a chain that would make an image over
        ``max_pixels`` or enlarge one by more than :data:`MAX_UPSCALE` in one step. Returns the
        final size."""
        for step in self.steps:
            w, h = out = step.output_size(size)
            if w * h > max_pixels:
                raise ImageTooLarge(
                    f"{step.op} would make a {w}x{h} image ({w * h / 1e6:.0f} MP), over the {max_pixels / 1e6:.0f} MP limit"
                )
            if max(w / max(1, size[0]), h / max(1, size[1])) > MAX_UPSCALE:
                raise ImageTooLarge(
                    f"{step.op} would enlarge the image more than {MAX_UPSCALE:g} times ({size[0]}x{size[1]} to {w}x{h})"
                )
            size = out
        return size


def bind(raw: Any) -> Chain:
    """Validate requested operations - a list of ``{op, params}`` objects or of
    :class:`OperationSpec` - once, into a :class:`Chain` with every default filled in."""
    if isinstance(raw, Chain):
        return raw
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise ValidationError("'operations' must be a list of {op, params} objects")
    if not raw:
        raise ValidationError("'operations' must name at least one operation")
    if len(raw) > MAX_OPERATIONS:
        raise ValidationError(f"at most {MAX_OPERATIONS} operations per job, got {len(raw)}")
    steps = []
    for item in raw:
        spec = item if isinstance(item, OperationSpec) else OperationSpec.from_dict(item)
        operation = get(spec.op)
        steps.append(Step(operation, operation.validate(spec.params)))
    return Chain(tuple(steps))


ChainLike = Chain | Sequence[OperationSpec]
"""A bound chain, or operations still to bind (tests, tools): see :func:`as_chain`."""


def as_chain(operations: ChainLike) -> Chain:
    """``operations`` as a chain: a :class:`Chain` as it is (never validated again); anything
    else bound here, once (an empty sequence is the empty chain)."""
    if isinstance(operations, Chain):
        return operations
    return bind(operations) if len(operations) else Chain()


def validate_operations(raw: Any) -> tuple[OperationSpec, ...]:
    """Validate requested operations into their normalised wire form (:attr:`Chain.specs`)."""
    return bind(raw).specs


def output_size(operations: ChainLike, size: Size) -> Size:
    """:meth:`Chain.output_size`."""
    return as_chain(operations).output_size(size)


def check_request(operations: ChainLike, max_pixels: int) -> None:
    """:meth:`Chain.check_request`."""
    as_chain(operations).check_request(max_pixels)


def check_chain(operations: ChainLike, size: Size, max_pixels: int) -> Size:
    """:meth:`Chain.check`."""
    return as_chain(operations).check(size, max_pixels)
