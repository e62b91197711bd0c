"""``retouch run``: process photos through the service, in a run that never loses work
(:mod:`retouch.cli.runner`), recorded in ``<out>/job.json`` (:mod:`retouch.cli.manifest`)."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from retouch.cli import manifest as manifests
from retouch.cli import runner
from retouch.cli.catalog import add_output_arguments, parse_ops_or_refuse
from retouch.cli.client import ApiError
from retouch.cli.errors import EXIT_USAGE, RunError
from retouch.cli.files import check_out_dir, collect_inputs, extension_for
from retouch.cli.manifest import FAILED, MANIFEST, PENDING, SUCCEEDED, Entry, Manifest
from retouch.cli.report import describe_run, finish, report
from retouch.cli.service import add_api_arguments, connect
from retouch.cli.ui import CliProgress, console, print_skipped
from retouch.errors import RetouchError
from retouch.models import OutputSpec

MAX_IMAGES_PER_REQUEST = 1000
RUN_EXAMPLES = """examples:
  retouch run photos/ --op thumbnail:width=1024 --out small
  retouch run a.jpg b.png --op crop:aspect=1:1 --op contrast:method=auto --format webp --out square
  retouch run scans/ --recursive --op colorize --out coloured --api https://ID.execute-api.REGION.amazonaws.com
  retouch run grey.jpg ref.jpg --op colorize:mode=reference,reference=ref.jpg --out coloured
  retouch run --resume small                       finish an interrupted run (or give the same command again)
  retouch run photos/ --op thumbnail:width=512 --out small --restart
                                                   start over in small/ (its job.json and outputs are removed)

operations: retouch ops (or retouch ops --json). Outputs and job.json go to --out."""


def _restart(args: argparse.Namespace, out_dir: Path) -> None:
    """``--restart``: check the command first (a typo must not cost the previous run), then
    forget the run in ``out_dir``."""
    parse_ops_or_refuse(args.op)
    try:
        OutputSpec(format=args.format, quality=args.quality)
        if not collect_inputs((Path(p) for p in args.paths), recursive=args.recursive)[0]:
            raise RunError("no images found in the given paths", EXIT_USAGE)
    except FileNotFoundError as exc:
        raise RunError(str(exc), EXIT_USAGE) from exc
    except RetouchError as exc:
        raise RunError(exc.message, EXIT_USAGE) from exc
    removed = manifests.clear_run(out_dir)
    if removed:
        outputs = sum(p.name != MANIFEST for p in removed)
        console.print(
            f"Starting over in {out_dir}: removed the previous run's {MANIFEST} and its {outputs} outputs",
            highlight=False,
        )


def _out_dir(args: argparse.Namespace) -> Path:
    """The run's folder, once the options agree with each other (and ``--restart`` is done)."""
    out_dir = Path(args.resume or args.out or "")
    if not (args.resume or args.out):
        raise RunError("--out is required (the folder for the outputs and job.json)", EXIT_USAGE)
    if args.resume and args.restart:
        raise RunError("--resume finishes the run in a folder and --restart starts it over: give one", EXIT_USAGE)
    check_out_dir(out_dir)
    if args.restart and not (args.paths and args.op):
        raise RunError("give the photos (files or folders) and at least one --op", EXIT_USAGE)
    if args.restart:
        _restart(args, out_dir)
    return out_dir


def _new_inputs(
    args: argparse.Namespace, out_dir: Path, existing: Manifest | None
) -> tuple[list[dict[str, Any]], dict[str, Any], list[tuple[Path, str]], list[dict[str, str]]]:
    """A run from the command line: its operations, output settings, inputs and skipped entries
    (refused when ``out_dir`` holds a run with other operations)."""
    if not args.paths or not args.op:
        raise RunError("give the photos (files or folders) and at least one --op", EXIT_USAGE)
    operations = parse_ops_or_refuse(args.op)
    output = {"format": args.format, "quality": args.quality}
    if existing is not None and (existing.operations, existing.output) != (operations, output):
        path = out_dir / MANIFEST
        raise RunError(
            f"{out_dir} holds another run ({describe_run(existing)}), recorded in {path}. To start over there with "
            f"these operations, add --restart (it removes {path} and that run's outputs), or remove {path} yourself; "
            f"or use another --out; or finish that run with retouch run --resume {out_dir}",
            EXIT_USAGE,
        )
    try:
        inputs, skipped = collect_inputs((Path(p) for p in args.paths), recursive=args.recursive)
    except FileNotFoundError as exc:
        raise RunError(str(exc), EXIT_USAGE) from exc
    if not inputs:
        raise RunError("no images found in the given paths", EXIT_USAGE)
    print_skipped(skipped, f" (listed in {MANIFEST})")
    return operations, output, inputs, skipped


def plan_run(args: argparse.Namespace, out_dir: Path, existing: Manifest | None) -> Manifest:
    """The run to do: the one in ``out_dir`` (``--resume``), or the command's, keeping what
    ``existing`` already did."""
    if args.resume:
        if existing is None:
            raise RunError(f"nothing to resume: {out_dir / MANIFEST} does not exist", EXIT_USAGE)
        operations, output, skipped = existing.operations, existing.output, existing.skipped
        entries: list[Entry] = existing.entries
    else:
        operations, output, inputs, skipped = _new_inputs(args, out_dir, existing)
    try:
        spec = OutputSpec(**output)
    except RetouchError as exc:
        raise RunError(exc.message, EXIT_USAGE) from exc
    if not args.resume:
        entries = manifests.plan(inputs, lambda path: extension_for(path, spec), existing)
    for e in entries:
        if e.status == PENDING and not Path(e.input).is_file():
            e.status, e.error = FAILED, "the input file is gone"
    finished = sum(e.status == SUCCEEDED for e in entries)
    if existing is not None:
        console.print(f"Resuming the run in {out_dir}: {finished} of {len(entries)} outputs already saved", highlight=False)
    return Manifest(
        api=existing.api if existing else "",
        operations=operations,
        output=output,
        entries=entries,
        skipped=skipped,
        jobs=existing.jobs if existing else [],
    )


def _nothing_left(manifest: Manifest, out_dir: Path, args: argparse.Namespace) -> int:
    console.print("Nothing left to do: every input is finished")
    failed = manifest.counts()[FAILED]
    if failed:
        console.print(
            f"{failed} images failed on the service, which a resumed run does not try again; to run them again "
            f"(with the operations corrected), give the command with --restart: it starts over in {out_dir}",
            highlight=False,
        )
    return report(manifest, out_dir, args)


def _refused(exc: ApiError, out_dir: Path, nothing_in: bool) -> RunError:
    """The service refused a job of the run (the command is wrong, not the service)."""
    if nothing_in:  # nothing got in: nothing to resume either
        (out_dir / MANIFEST).unlink(missing_ok=True)
        return RunError(
            f"the service refused the job: {exc.message} (nothing was submitted; correct the command and run it again)",
            EXIT_USAGE,
        )
    return RunError(
        f"the service refused a job: {exc.message}. Correct the command and give it again with --restart "
        f"(it starts over in {out_dir}: {out_dir / MANIFEST} and that run's outputs are removed)",
        EXIT_USAGE,
    )


def cmd_run(args: argparse.Namespace) -> int:
    out_dir = _out_dir(args)
    existing = Manifest.load(out_dir / MANIFEST)
    manifest = plan_run(args, out_dir, existing)
    if not manifests.has_work(manifest):
        return _nothing_left(manifest, out_dir, args)
    with ExitStack() as stack:
        client = connect(args, stack)
        manifest.api = client.api_url
        run = runner.Run(
            client,
            manifest,
            out_dir,
            job_size=args.job_size,
            parallel=args.parallel,
            timeout=args.timeout,
            progress=CliProgress(),
        )
        try:
            return finish(run, out_dir, args)
        except ApiError as exc:
            if exc.status not in (400, 413, 422) or not exc.envelope:
                raise
            raise _refused(exc, out_dir, existing is None and not manifest.jobs) from exc


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="process photos through the service (embedded stack unless --api)",
        description="Process photos through the service: the embedded stack, started for the run, unless --api names "
        "a running one.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="*",
        help="image files, or folders of images (hidden files, subfolders without --recursive and files "
        "that are not images by name are skipped and listed)",
    )
    add_output_arguments(p)
    p.add_argument("--out", help="folder for the outputs and job.json (rerunning the same command resumes)")
    p.add_argument("--resume", metavar="OUT", help="finish the run whose job.json is in OUT (inputs and operations from it)")
    p.add_argument(
        "--restart",
        action="store_true",
        help="start over in --out: the previous run's job.json and outputs there are removed (other files are kept)",
    )
    p.add_argument("--recursive", action="store_true", help="look for images in subfolders too (keeping the structure)")
    add_api_arguments(p)
    p.add_argument("--timeout", type=float, default=3600, help="seconds to wait for processing before stopping (resumable)")
    p.add_argument("--parallel", type=int, default=8, help="parallel uploads/downloads")
    p.add_argument("--job-size", type=int, default=MAX_IMAGES_PER_REQUEST, help="most images per job")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.set_defaults(func=cmd_run)
