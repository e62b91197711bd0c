"""One image through the operations: bytes in, encoded bytes out.

This is exactly what the process function runs, and what ``retouch apply`` runs locally.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from retouch import imageio, ops
from retouch.errors import ImageTooLarge, InvalidParameters, OperationFailed
from retouch.models import OperationSpec, OutputSpec
from retouch.ops.context import ChainContext
from retouch.outcome import Outcome
from retouch.settings import OperationSettings


@dataclass(frozen=True)
class Rendered:
    body: bytes
    width: int
    height: int
    content_type: str
    source_format: str
    seconds: float
    outcome: Outcome = field(default_factory=Outcome)
    """What the operations reported doing (:mod:`retouch.outcome`)."""


def shrink_on_load_hint(operations: Sequence[OperationSpec]) -> Callable[[int, int], tuple[int, int]] | None:
    """The smallest decode size the first operation needs, when its spec has a decode hint."""
    if not operations:
        return None
    first = ops.get(operations[0].op)
    hint = first.decode_hint
    if hint is None:
        return None
    params = first.validate(operations[0].params)
    return lambda w, h: hint(params, (w, h))


def render(
    data: bytes,
    operations: Sequence[OperationSpec],
    output: OutputSpec,
    *,
    max_pixels: int,
    max_bytes: int,
    budget_seconds: float | None = None,
    load_reference: Callable[[str], bytes] | None = None,
    settings: OperationSettings | None = None,
) -> Rendered:
    """Decode ``data``, apply ``operations`` in order and encode as ``output`` (``auto``: decided
    from the source, see :func:`retouch.imageio.output_for`).

    :param load_reference: bytes of another image named by a ``reference`` parameter
        (colorize's exemplar); it is decoded with the same limits.
    :param settings: what operations are configured with (model paths); defaults otherwise.
    :raises PermanentError: the image or the parameters are bad (fail this image).
    :raises TransientError: trouble that may pass (a retry may succeed).
    """
    started = time.monotonic()
    if len(data) > max_bytes:
        raise ImageTooLarge(f"the file is {len(data)} bytes; the limit is {max_bytes} bytes")

    def resolve(name: str) -> ops.Image:
        if load_reference is None:
            raise InvalidParameters(f"reference image {name!r} cannot be loaded here")
        reference = load_reference(name)
        if len(reference) > max_bytes:
            raise ImageTooLarge(f"the reference image is {len(reference)} bytes; the limit is {max_bytes} bytes")
        return imageio.decode(reference, max_pixels=max_pixels).pixels

    context = ChainContext.with_budget(budget_seconds, settings=settings or OperationSettings(), resolve_image=resolve)
    output = imageio.output_for(data, output)
    decoded = imageio.decode(data, max_pixels=max_pixels, size_hint=shrink_on_load_hint(operations))
    pixels, rest = decoded.pixels, list(operations)
    ops.check_chain(rest, (decoded.source_width, decoded.source_height), max_pixels)
    if rest and ops.get(rest[0].op).decode_hint is not None:
        # decoded at reduced scale or not, the first operation sizes its output from the original
        first = ops.get(rest[0].op)
        params = first.validate(rest.pop(0).params)
        if first.uses_context:
            params["context"] = context
        pixels = first.fn(pixels, **params, source_size=(decoded.source_width, decoded.source_height))

    try:
        pixels = ops.apply_operations(pixels, rest, context)
    except MemoryError as exc:
        raise OperationFailed("processing this image needs more memory than the service allows") from exc
    except Exception as exc:
        if type(exc).__module__ == "cv2":  # cv2.error: this input, these parameters - it would recur
            raise OperationFailed("the operations could not be applied to this image") from exc
        raise
    body = imageio.encode(pixels, output)
    return Rendered(
        body=body,
        width=int(pixels.shape[1]),
        height=int(pixels.shape[0]),
        content_type=output.content_type,
        source_format=decoded.format,
        seconds=time.monotonic() - started,
        outcome=context.outcome,
    )
