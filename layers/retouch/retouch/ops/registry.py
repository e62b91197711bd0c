"""Running operations: the specs (:mod:`.specs`) bound to their implementations.

Only the process function (and ``retouch apply``) run operations; importing this module is
still light, since each implementation is imported the first time it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from retouch.errors import InvalidParameters
from retouch.models import OperationSpec
from retouch.ops.context import ChainContext
from retouch.ops.specs import REFERENCE_PARAM, get

if TYPE_CHECKING:
    import numpy as np

    Image = np.ndarray
    """An image is an ``uint8`` array of shape (H, W, 3) RGB or (H, W, 4) RGBA."""
else:
    Image = Any

Resolver = Callable[[str], "Image"]


def apply_operations(image: Image, specs: Iterable[OperationSpec], context: ChainContext | None = None) -> Image:
    """Apply operations in order. Parameters are validated again (messages are input too).

    ``context`` (one per image; a fresh one if not given) carries the chain's settings, its
    deadline - checked between operations here and inside long operations by themselves - the
    faces found so far, and the resolver of ``reference`` parameters.
    """
    context = context if context is not None else ChainContext()
    for spec in specs:
        operation = get(spec.op)
        params: dict[str, Any] = operation.validate(spec.params)
        if isinstance(params.get(REFERENCE_PARAM), str):
            if context.resolve_image is None:
                raise InvalidParameters(f"{spec.op}: reference images cannot be loaded here")
            params[REFERENCE_PARAM] = context.resolve_image(params[REFERENCE_PARAM])
        if operation.uses_context:
            params["context"] = context
        result = operation.fn(image, **params)
        context.after_operation(image, result)
        image = result
        context.check_time(f"after {spec.op}")
    return image
