"""Image operations: what they are (:mod:`.specs`, light), bound into chains (:mod:`.chain`),
and how they run (:mod:`.registry`).

One module per family implements them as pure functions: :mod:`.geometry` (crop, thumbnail),
:mod:`.tone` (contrast), :mod:`.portrait` (red-eye, teeth whitening; faces from :mod:`.faces`),
:mod:`.colorize`. Importing this package imports none of them (nor numpy or OpenCV).
"""

from typing import Any

from retouch.ops.registry import apply_operations
from retouch.ops.specs import (
    MAX_OPERATIONS,
    REGISTRY,
    Chain,
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


def __getattr__(name: str) -> Any:
    # the command line's NAME:key=value parser moved to retouch.cli.operations; still found here
    if name == "parse_cli_operation":
        from retouch.cli.operations import parse_cli_operation

        return parse_cli_operation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
