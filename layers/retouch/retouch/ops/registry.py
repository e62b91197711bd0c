"""Running operations: the specs (:mod:`.specs`) bound to their implementations.

Only the process function (and ``retouch apply``) run operations; importing this module is
still light, since each implementation is imported the first time it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from retouch.errors import InvalidParameters, OperationTimeout
from retouch.models import OperationSpec
from retouch.ops.specs import REFERENCE_PARAM, get

if TYPE_CHECKING:
    import numpy as np

    Image = np.ndarray
    """An image is an ``uint8`` array of shape (H, W, 3) RGB or (H, W, 4) RGBA."""
else:
    Image = Any

Resolver = Callable[[str], "Image"]


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
