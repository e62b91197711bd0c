"""The operations: ``retouch ops`` lists them; ``--op`` values are read here for ``run`` and ``apply``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from retouch import ops
from retouch.cli.errors import EXIT_USAGE, RunError
from retouch.cli.operations import parse_cli_operation
from retouch.errors import ValidationError
from retouch.models import AUTO, FORMAT_CHOICES

OPS_USAGE = "Use: --op NAME[:key=value,...], e.g. --op thumbnail:width=512,fit=cover --op contrast:method=clahe"
OP_HELP = (
    "an operation, NAME or NAME:key=value,...; repeat to chain them (applied in order). "
    "retouch ops lists the operations and their parameters"
)
QUALITY_HELP = "output quality, 1-100, for JPEG, WebP and AVIF (default 88; PNG is lossless)"


def bind_ops(values: Sequence[str]) -> ops.Chain:
    """``--op`` values -> a bound chain (validated once, by the same specs as the API)."""
    return ops.bind([parse_cli_operation(v) for v in values])


def parse_ops(values: Sequence[str]) -> list[dict[str, Any]]:
    """``--op`` values -> validated ``{"op", "params"}`` dicts (same registry as the API)."""
    return bind_ops(values).to_dicts()


def parse_ops_or_refuse(values: Sequence[str]) -> list[dict[str, Any]]:
    try:
        return parse_ops(values)
    except ValidationError as exc:
        raise RunError(exc.message, EXIT_USAGE) from exc


def add_output_arguments(p: argparse.ArgumentParser, *, op_required: bool = False) -> None:
    """``--op``, ``--format`` and ``--quality``, as ``run`` and ``apply`` both take them."""
    p.add_argument("--op", action="append", required=op_required, metavar="NAME[:key=value,...]", help=OP_HELP)
    p.add_argument("--format", choices=list(FORMAT_CHOICES), default=AUTO, help="output format (auto: keep the source's)")
    p.add_argument("--quality", type=int, default=88, help=QUALITY_HELP)


def operations_document() -> dict[str, Any]:
    """What ``GET /operations`` answers (the same function builds both)."""
    from retouch.logic.api import list_operations

    return list_operations().model_dump(mode="json")


def _param_range(p: dict[str, Any]) -> str:
    if p.get("choices"):
        return ", ".join(map(str, p["choices"]))
    low, high = p.get("minimum"), p.get("maximum")
    if low is not None or high is not None:
        return f"{'' if low is None else low}..{'' if high is None else high}"
    return ""


def _task(op: dict[str, Any]) -> str:
    """The operation as the web page offers it, a task in plain words."""
    return f" (on the web page: {op['label']})" if op.get("label") else ""


def _print_plain(document: dict[str, Any]) -> None:
    """Piped: plain lines, every value whole."""
    for op in document["operations"]:
        sys.stdout.write(f"{op['name']} - {op['summary']}{_task(op)}\n")
        for p in op["params"]:
            facts = [p["type"]]
            if p.get("default") is not None:
                facts.append(f"default {p['default']}")
            if _param_range(p):
                facts.append(_param_range(p))
            sys.stdout.write(f"  {p['name']} ({'; '.join(facts)}): {p['help']}\n")
        sys.stdout.write("\n")
    sys.stdout.write(OPS_USAGE + "\n")


def cmd_ops(args: argparse.Namespace) -> int:
    document = operations_document()
    if args.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    out = Console(soft_wrap=True)
    if not out.is_terminal:
        _print_plain(document)
        return 0
    for op in document["operations"]:
        title = f"[bold]{op['name']}[/] - {op['summary']}{_task(op)}"
        table = Table(title=title, title_justify="left", show_edge=False)
        for col in ("parameter", "type", "default", "range / choices", "meaning"):
            table.add_column(col, overflow="fold")  # a narrow terminal folds a cell, never cuts it
        for p in op["params"]:
            default = "" if p.get("default") is None else str(p["default"])
            table.add_row(p["name"], p["type"], default, _param_range(p), p["help"])
        out.print(table)
        out.print()
    out.print(OPS_USAGE, highlight=False, markup=False)
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ops", help="list operations and their parameters")
    p.add_argument("--json", action="store_true", help="print them as GET /operations answers (JSON)")
    p.set_defaults(func=cmd_ops)
