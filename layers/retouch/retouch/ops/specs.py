"""What each operation is, as the outside world sees it: the one source of truth. Nothing heavy.

The API validates requests with it and generates its OpenAPI document from it, the CLI validates
and lists operations with it (``retouch ops``), and the process function uses it to validate
messages and to choose a shrink-on-load size. It imports no numpy, OpenCV or Pillow, so the API
function ships without the image layer. It gathers, from the modules that define them:

* :mod:`.params` - the parameter kinds (one class per kind: parse, describe, JSON Schema);
* :mod:`.operation` - :class:`Operation`;
* :mod:`.table` - the operations table (:data:`OPERATIONS`, :func:`get`);
* :mod:`.sizes` - size arithmetic (boxes, windows, thumbnail sizes);
* :mod:`.chain` - :func:`bind`: requested operations validated once into a :class:`Chain`,
  which everything downstream takes (size checks, the pipeline).

The command line's ``NAME:key=value`` syntax is parsed by :mod:`retouch.cli.operations`.
"""

from __future__ import annotations

from retouch.ops.chain import (
    MAX_UPSCALE,
    Chain,
    ChainLike,
    Step,
    as_chain,
    bind,
    check_chain,
    check_request,
    output_size,
    validate_operations,
)
from retouch.ops.operation import Operation
from retouch.ops.params import (
    MAX_MAGNITUDE,
    MAX_NUMBER_TEXT,
    MAX_POINT_RADIUS,
    Aspect,
    Bool,
    Choice,
    Float,
    Int,
    Numbers,
    Param,
    Points,
    Text,
)
from retouch.ops.sizes import aspect_ratio, box_in_pixels, centered_window, thumbnail_size
from retouch.ops.table import (
    DEFAULT_GRAVITY,
    GRAVITIES,
    MAX_OPERATIONS,
    MAX_POINTS,
    NEEDS_REFERENCE,
    OPERATIONS,
    REFERENCE_PARAM,
    REGISTRY,
    describe_all,
    get,
)
from retouch.ops.types import Size

__all__ = [
    "DEFAULT_GRAVITY",
    "GRAVITIES",
    "MAX_MAGNITUDE",
    "MAX_NUMBER_TEXT",
    "MAX_OPERATIONS",
    "MAX_POINTS",
    "MAX_POINT_RADIUS",
    "MAX_UPSCALE",
    "NEEDS_REFERENCE",
    "OPERATIONS",
    "REFERENCE_PARAM",
    "REGISTRY",
    "Aspect",
    "Bool",
    "Chain",
    "ChainLike",
    "Choice",
    "Float",
    "Int",
    "Numbers",
    "Operation",
    "Param",
    "Points",
    "Size",
    "Step",
    "Text",
    "as_chain",
    "aspect_ratio",
    "bind",
    "box_in_pixels",
    "centered_window",
    "check_chain",
    "check_request",
    "describe_all",
    "get",
    "output_size",
    "thumbnail_size",
    "validate_operations",
]
