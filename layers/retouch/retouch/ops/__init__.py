"""Image operations: what they are (:mod:`.specs`, light), bound into chains (:mod:`.chain`),
and how they run (:mod:`.registry`).

One module per family implements them as pure functions: :mod:`.geometry` (crop, thumbnail),
:mod:`.tone` (contrast), :mod:`.portrait` (red-eye, teeth whitening; faces from :mod:`.faces`),
:mod:`.colorize`. Importing this package imports none of them (nor numpy or OpenCV).
"""

from retouch.ops.registry import apply_operations
from retouch.ops.specs import (
    MAX_OPERATIONS,
    REGISTRY,
    Chain,
    ChainLike,
    Operation,
    Param,
    Step,
    as_chain,
    bind,
    check_chain,
    describe_all,
    get,
    output_size,
    validate_operations,
)
from retouch.ops.types import Image

__all__ = [
    "MAX_OPERATIONS",
    "REGISTRY",
    "Chain",
    "ChainLike",
    "Image",
    "Operation",
    "Param",
    "Step",
    "apply_operations",
    "as_chain",
    "bind",
    "check_chain",
    "describe_all",
    "get",
    "output_size",
    "validate_operations",
]
