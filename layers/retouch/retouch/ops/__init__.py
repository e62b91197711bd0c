"""Image operations: what they are (:mod:`.specs`, light) and how they run (:mod:`.registry`).

One module per family implements them as pure functions: :mod:`.geometry` (crop, thumbnail),
:mod:`.tone` (contrast), :mod:`.portrait` (red-eye, teeth whitening; faces from :mod:`.faces`),
:mod:`.colorize`. Importing this package imports none of them (nor numpy or OpenCV).
"""

from retouch.ops.registry import Image, apply_operations
from retouch.ops.specs import (
    MAX_OPERATIONS,
    REGISTRY,
    Operation,
    Param,
    check_chain,
    describe_all,
    get,
    output_size,
    parse_cli_operation,
    validate_operations,
)

__all__ = [
    "MAX_OPERATIONS",
    "REGISTRY",
    "Image",
    "Operation",
    "Param",
    "apply_operations",
    "check_chain",
    "describe_all",
    "get",
    "output_size",
    "parse_cli_operation",
    "validate_operations",
]
