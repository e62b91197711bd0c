"""The command line's way of writing an operation: ``NAME[:key=value,...]`` (``--op``)."""

from __future__ import annotations

from typing import Any

from retouch.errors import ValidationError


def parse_cli_operation(text: str) -> dict[str, Any]:
    """Parse ``NAME[:key=value,...]`` from the command line into ``{"op", "params"}`` (raw
    values, validated afterwards like any request: :func:`retouch.ops.bind`).

    A comma-separated item without ``=`` continues the previous value, so
    ``crop:box=10,10,200,100`` gives ``box="10,10,200,100"``.
    """
    name, _, rest = text.partition(":")
    params: dict[str, str] = {}
    last: str | None = None
    for item in filter(None, (s.strip() for s in rest.split(","))):
        if "=" in item:
            key, _, value = item.partition("=")
            last = key.strip()
            params[last] = value.strip()
        elif last is not None:
            params[last] += "," + item
        else:
            raise ValidationError(f"{name}: expected key=value, got {item!r}")
    return {"op": name.strip(), "params": params}
