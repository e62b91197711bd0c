"""Running operations: a bound chain (:mod:`.chain`) applied to an image, in one loop.

Only the process function, the preview function and ``retouch apply`` run operations (through
:func:`retouch.pipeline.render`); importing this module is still light, since each
implementation is imported the first time it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retouch.errors import ValidationError
from retouch.ops.chain import ChainLike, Step, as_chain
from retouch.ops.context import ChainContext
from retouch.ops.table import REFERENCE_PARAM
from retouch.ops.types import Image, Size

__all__ = ["Image", "Resolver", "apply_operations"]  # Image: still importable from here

Resolver = Callable[[str], "Image"]


def apply_operations(
    image: Image, operations: ChainLike, context: ChainContext | None = None, *, source_size: Size | None = None
) -> Image:
    """Apply a chain of operations in order (a :class:`~retouch.ops.chain.Chain` is never
    validated again; anything else is bound first, once).

    Every operation is an ordinary step of this one loop, the first one included: when it has a
    decode hint (a leading thumbnail, which the pipeline decoded at reduced scale) it is given
    ``source_size``, the size of the image before that shrink-on-load, so its output follows the
    original's aspect ratio exactly. After every operation the context drops what no longer
    holds (:meth:`ChainContext.after_operation`) and the deadline is checked.

    ``context`` (one per image; a fresh one if not given) carries the chain's settings, its
    deadline - checked here and inside long operations by themselves - the faces found so far,
    the resolver of ``reference`` parameters, and what the operations report doing.
    """
    chain = as_chain(operations)
    context = context if context is not None else ChainContext()
    for index, step in enumerate(chain):
        params = _arguments(step, context)
        if index == 0 and source_size is not None and step.operation.decode_hint is not None:
            params["source_size"] = source_size
        result = step.operation.fn(image, **params)
        context.after_operation(image, result)
        image = result
        context.check_time(f"after {step.op}")
    return image


def _arguments(step: Step, context: ChainContext) -> dict[str, Any]:
    """The implementation's keyword arguments: the bound parameters, a ``reference`` replaced by
    that image's pixels, and the context for an operation that uses it."""
    params = dict(step.params)
    if isinstance(params.get(REFERENCE_PARAM), str):
        if context.resolve_image is None:
            raise ValidationError(f"{step.op}: reference images cannot be loaded here")
        params[REFERENCE_PARAM] = context.resolve_image(params[REFERENCE_PARAM])
    if step.operation.uses_context:
        params["context"] = context
    return params
