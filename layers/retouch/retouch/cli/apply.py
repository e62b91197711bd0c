"""``retouch apply``: the operations applied here, in this process, with the process function's
code (no service, no HTTP client, no AWS SDK)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retouch.cli.catalog import add_output_arguments, bind_ops
from retouch.cli.errors import EXIT_USAGE, RunError
from retouch.cli.files import check_out_dir, collect_inputs, extension_for, unique_names
from retouch.cli.ui import console, print_skipped
from retouch.errors import RetouchError, ValidationError
from retouch.models import OutputSpec

if TYPE_CHECKING:
    from retouch import ops, pipeline

MAX_APPLY_JOBS = 4
"""A 24 MP photo can take close to 1 GB through colorize: more at once would need more memory
than most machines have to spare."""
APPLY_JOBS = min(os.cpu_count() or 1, MAX_APPLY_JOBS)
APPLY_EXAMPLES = """examples:
  retouch apply photo.jpg --op red_eye --op teeth_whitening -o out
  retouch apply photos/ --op colorize --format png -o coloured
  retouch apply photos/ --recursive --op thumbnail:width=256,height=256,fit=cover -o thumbs

operations: retouch ops. Runs here, in this process, with the service's code; no service needed."""


def reference_bytes(name: str, inputs: list[Path]) -> bytes:
    """``reference=NAME`` for ``retouch apply``: an input with that file name, or a path."""
    for p in inputs:
        if p.name == name:
            return p.read_bytes()
    path = Path(name)
    if path.is_file():
        return path.read_bytes()
    raise ValidationError(f"reference {name!r} is neither one of the inputs nor a file")


def apply_line(path: Path, dest: Path, rendered: pipeline.Rendered) -> str:
    """One rendered photo: where it went, its size, its time, and what the operations did to it
    (when they reported anything: a chain of thumbnails says nothing more)."""
    line = f"{path} -> {dest} ({rendered.width}x{rendered.height}, {rendered.seconds * 1000:.0f} ms)"
    return line if rendered.outcome.empty else f"{line}: {rendered.outcome.sentence()}"


def _renderer(
    chain: ops.Chain, output: OutputSpec, inputs: list[Path], out_dir: Path
) -> Callable[[Path, str], pipeline.Rendered | RetouchError]:
    """``render(path, name)``: the photo rendered and written to ``out_dir / name``; the
    :class:`pipeline.Rendered`, or the :class:`RetouchError` that stopped it."""
    from retouch import pipeline
    from retouch.settings import OperationSettings, ProcessSettings

    defaults = ProcessSettings(bucket_name="-", response_queue_url="-", request_queue_url="-", jobs_table="-")
    configured = OperationSettings.from_env()  # COLORIZE_MODEL_PATH / COLORIZE_LIBRARY_PATH, as the functions read them

    def render(path: Path, name: str) -> pipeline.Rendered | RetouchError:
        try:
            rendered = pipeline.render(
                path.read_bytes(),
                chain,
                output,
                load_reference=lambda name: reference_bytes(name, inputs),
                max_pixels=defaults.max_pixels,
                max_bytes=defaults.max_upload_bytes,
                budget_seconds=defaults.operation_budget_seconds,
                settings=configured,
            )
        except RetouchError as exc:
            return exc
        dest = out_dir / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(rendered.body)
        return rendered

    return render


def cmd_apply(args: argparse.Namespace) -> int:
    try:
        chain = bind_ops(args.op)
        output = OutputSpec(format=args.format, quality=args.quality)
        found, skipped = collect_inputs((Path(p) for p in args.inputs), recursive=args.recursive)
    except RetouchError as exc:
        raise RunError(exc.message, EXIT_USAGE) from exc
    except FileNotFoundError as exc:
        raise RunError(str(exc), EXIT_USAGE) from exc
    print_skipped(skipped)
    if not found:
        raise RunError("no images found in the given paths", EXIT_USAGE)
    inputs = [path for path, _ in found]
    out_dir = Path(args.output)
    render = _renderer(chain, output, inputs, out_dir)
    check_out_dir(out_dir)
    if not args.debug:  # the operations' log (a model's failure in detail) only with --debug
        from retouch.observability import logger

        logger.setLevel("ERROR")
    wanted = [str(Path(rel).with_name(f"{Path(rel).stem or 'image'}.{extension_for(p, output)}")) for p, rel in found]
    failures = 0
    # OpenCV, Pillow and numpy release the GIL while they work: threads use the cores
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        names = unique_names(wanted)
        for path, name, outcome in zip(inputs, names, pool.map(render, inputs, names), strict=True):
            if isinstance(outcome, RetouchError):
                failures += 1
                console.print(f"failed {path}: {outcome.message}", highlight=False, markup=False)
            else:
                console.print(apply_line(path, out_dir / name, outcome), highlight=False, markup=False)
    console.print(f"{len(inputs) - failures}/{len(inputs)} written to {out_dir}", highlight=False)
    return 0 if failures == 0 else 1


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "apply",
        help="apply operations in-process (the process function's code), no service",
        description="Apply operations here, in this process, with the process function's code (no service).",
        epilog=APPLY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, or folders of images (taken as retouch run takes them: hidden files, subfolders without "
        "--recursive and files that are not images by name are skipped and listed)",
    )
    add_output_arguments(p, op_required=True)
    p.add_argument("--recursive", action="store_true", help="look for images in subfolders too (keeping the structure)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument(
        "--jobs",
        type=int,
        default=APPLY_JOBS,
        help=f"images rendered at the same time, in threads (default: the cores, at most {MAX_APPLY_JOBS})",
    )
    p.set_defaults(func=cmd_apply)
