"""One image through the operations: bytes in, encoded bytes out.

This is exactly what the process function runs, and what ``retouch apply`` runs locally.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from retouch import imageio, ops
from retouch.errors import ImageTooLarge, OperationFailed, ValidationError
from retouch.models import OutputSpec
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


def shrink_on_load_hint(operations: ops.ChainLike) -> Callable[[int, int], tuple[int, int]] | None:
    """The smallest decode size the first operation needs, when its spec has a decode hint."""
    return ops.as_chain(operations).decode_hint()


def render(
    data: bytes,
    operations: ops.ChainLike,
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

    ``operations`` is a bound chain (:func:`retouch.ops.bind`), never validated again here; specs
    not yet bound (tests, tools) are bound once. A leading operation with a decode hint (a
    thumbnail) has the image decoded at reduced scale (shrink-on-load), then runs as an
    ordinary step of the one loop (:func:`retouch.ops.apply_operations`), which checks the
    deadline after every operation.

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
            raise ValidationError(f"reference image {name!r} cannot be loaded here")
        reference = load_reference(name)
        if len(reference) > max_bytes:
            raise ImageTooLarge(f"the reference image is {len(reference)} bytes; the limit is {max_bytes} bytes")
        return imageio.decode(reference, max_pixels=max_pixels).pixels

    chain = ops.as_chain(operations)
    context = ChainContext.with_budget(budget_seconds, settings=settings or OperationSettings(), resolve_image=resolve)
    output = imageio.output_for(data, output)
    decoded = imageio.decode(data, max_pixels=max_pixels, size_hint=chain.decode_hint())
    source_size = (decoded.source_width, decoded.source_height)
    chain.check(source_size, max_pixels)
    try:
        pixels = ops.apply_operations(decoded.pixels, chain, context, source_size=source_size)
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
