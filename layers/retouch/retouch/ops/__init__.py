"""Image operations (pure functions) and the registry that names them.

One module per family: :mod:`.geometry` (crop, thumbnail), :mod:`.tone` (contrast),
:mod:`.portrait` (red-eye, teeth whitening; faces from :mod:`.faces`), :mod:`.colorize`.
Importing this package registers every operation.
"""

from retouch.ops import colorize, geometry, portrait, tone  # noqa: F401  (registers operations)
from retouch.ops.registry import (
    REGISTRY,
    Image,
    Operation,
    Param,
    apply_operations,
    describe_all,
    get,
    parse_cli_operation,
    validate_operations,
)

__all__ = [
    "REGISTRY",
    "Image",
    "Operation",
    "Param",
    "apply_operations",
    "describe_all",
    "get",
    "parse_cli_operation",
    "validate_operations",
]
