"""``retouch``: run jobs, list operations, apply operations locally, run the local stack."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from retouch import ops
from retouch.cli.client import ApiError, RetouchClient
from retouch.cli.files import content_type, expand_inputs, output_names
from retouch.errors import InvalidParameters, RetouchError
from retouch.models import OUTPUT_FORMATS

console = Console(stderr=True)
MAX_IMAGES_PER_REQUEST = 1000


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def parse_ops(values: Sequence[str]) -> list[dict[str, Any]]:
    """``--op`` values -> validated ``{"op", "params"}`` dicts (same registry as the API)."""
    raw = [ops.parse_cli_operation(v) for v in values]
    return [spec.to_dict() for spec in ops.validate_operations(raw)]


# --- retouch ops ------------------------------------------------------------------------------
def cmd_ops(args: argparse.Namespace) -> int:
    described = ops.describe_all()
    if args.json:
        sys.stdout.write(json.dumps({"operations": described}, indent=2) + "\n")
        return 0
    for op in described:
        table = Table(title=f"[bold]{op['name']}[/] - {op['summary']}", title_justify="left", show_edge=False)
        for col in ("parameter", "type", "default", "range / choices", "meaning"):
            table.add_column(col)
        for p in op["params"]:
            rng = (
                ", ".join(p["choices"])
                if "choices" in p
                else (f"{p.get('minimum', '')}..{p.get('maximum', '')}" if "minimum" in p or "maximum" in p else "")
            )
            table.add_row(p["name"], p["type"], str(p.get("default", "")), rng, p["help"])
        Console().print(table)
        Console().print()
    Console().print("Use: --op NAME[:key=value,...], e.g. --op thumbnail:width=512,fit=cover --op contrast:method=clahe")
    return 0


# --- retouch run ------------------------------------------------------------------------------
def run_job(
    client: RetouchClient,
    inputs: list[Path],
    operations: list[dict[str, Any]],
    output: dict[str, Any],
    out_dir: Path,
    *,
    timeout: float,
    parallel: int,
) -> dict[str, Any]:
    """Create a job, upload, wait, download; returns the job report (also written as job.json)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ext = OUTPUT_FORMATS[output["format"]]
    names = output_names(inputs, ext)
    types = [content_type(p) for p in inputs]
    started = time.time()
    job = client.create_job(
        [{"name": p.name, "content_type": t, "size": p.stat().st_size} for p, t in zip(inputs, types, strict=True)],
        operations,
        output,
    )
    job_id = job["job_id"]
    console.print(f"Job [bold]{job_id}[/]: {len(inputs)} images, operations: " + " -> ".join(o["op"] for o in job["operations"]))
    by_id = {u["image_id"]: (p, t, n) for u, p, t, n in zip(job["uploads"], inputs, types, names, strict=True)}
    upload_errors: dict[str, str] = {}
    with _progress() as progress, ThreadPoolExecutor(parallel) as pool:
        task = progress.add_task("uploading", total=len(inputs))
        futures: dict[Any, str] = {
            pool.submit(client.upload, u, by_id[u["image_id"]][0], by_id[u["image_id"]][1]): u["image_id"] for u in job["uploads"]
        }
        for f in as_completed(futures):
            try:
                f.result()
            except (ApiError, OSError) as exc:
                upload_errors[futures[f]] = str(exc)
            progress.advance(task)
    uploaded = time.time()

    status = client.job(job_id)
    expected_terminal = len(inputs) - len(upload_errors)
    with _progress() as progress:
        task = progress.add_task("processing", total=len(inputs))
        while True:
            status = client.job(job_id)
            done = status["succeeded"] + status["failed"]
            progress.update(task, completed=done + len(upload_errors))
            if status["status"] == "complete" or (done >= expected_terminal and expected_terminal < len(inputs)):
                break
            if time.time() - uploaded > timeout:
                console.print(f"[yellow]Gave up waiting after {timeout:.0f} s; {status['remaining']} images still pending[/]")
                break
            time.sleep(0.5)
    completed = time.time()

    report_images = []
    downloads = {img["image_id"]: img for img in status["images"] if img.get("download_url")}
    saved: dict[str, str] = {}
    with _progress() as progress, ThreadPoolExecutor(parallel) as pool:
        task = progress.add_task("downloading", total=len(downloads))
        futures = {pool.submit(client.download, img["download_url"], out_dir / by_id[i][2]): i for i, img in downloads.items()}
        for f in as_completed(futures):
            try:
                f.result()
                saved[futures[f]] = str(out_dir / by_id[futures[f]][2])
            except (ApiError, OSError) as exc:
                upload_errors[futures[f]] = f"download failed: {exc}"
            progress.advance(task)
    finished = time.time()

    for img in status["images"]:
        path, _, _ = by_id[img["image_id"]]
        entry = {"input": str(path), "name": img["name"], "image_id": img["image_id"], "status": img["status"]}
        for field in ("width", "height", "bytes", "duration_ms", "error"):
            if field in img:
                entry[field] = img[field]
        if img["image_id"] in upload_errors:
            entry["status"], entry["error"] = "failed", upload_errors[img["image_id"]]
        if img["image_id"] in saved:
            entry["output"] = saved[img["image_id"]]
        elif entry["status"] == "succeeded":
            entry["status"], entry["error"] = "failed", "output was not downloaded"
        report_images.append(entry)
    succeeded = sum(1 for e in report_images if e["status"] == "succeeded")
    report = {
        "job_id": job_id,
        "api": client.api_url,
        "operations": job["operations"],
        "output": job["output"],
        "total": len(inputs),
        "succeeded": succeeded,
        "failed": len(inputs) - succeeded,
        "timings": {
            "upload_seconds": round(uploaded - started, 3),
            "processing_after_last_upload_seconds": round(completed - uploaded, 3),
            "download_seconds": round(finished - completed, 3),
            "total_seconds": round(finished - started, 3),
            "images_per_second": round(len(inputs) / max(finished - started, 1e-9), 2),
        },
        "images": report_images,
    }
    (out_dir / "job.json").write_text(json.dumps(report, indent=2))
    return report


def print_summary(report: dict[str, Any], out_dir: Path) -> None:
    t = report["timings"]
    console.print(
        f"[bold]{report['succeeded']}/{report['total']}[/] images succeeded in {t['total_seconds']:.1f} s "
        f"({t['images_per_second']:.1f} images/s; upload {t['upload_seconds']:.1f} s, "
        f"processing after last upload {t['processing_after_last_upload_seconds']:.1f} s, download {t['download_seconds']:.1f} s)"
    )
    failed = [i for i in report["images"] if i["status"] != "succeeded"]
    for img in failed[:20]:
        console.print(f"  [red]failed[/] {img['input']}: {img.get('error', img['status'])}")
    if len(failed) > 20:
        console.print(f"  ... and {len(failed) - 20} more (see job.json)")
    console.print(f"Outputs in [bold]{out_dir}[/], report in [bold]{out_dir / 'job.json'}[/]")


def cmd_run(args: argparse.Namespace) -> int:
    try:
        operations = parse_ops(args.op)
    except InvalidParameters as exc:
        console.print(f"[red]error:[/] {exc.message}")
        return 2
    try:
        inputs = expand_inputs(Path(p) for p in args.paths)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    if not inputs:
        console.print("[red]error:[/] no images found in the given paths")
        return 2
    output = {"format": args.format, "quality": args.quality}
    out_dir = Path(args.out)
    with ExitStack() as stack:
        if args.api:
            token = args.token or os.environ.get("RETOUCH_TOKEN")
            if not token:
                console.print("[red]error:[/] --api needs --token (or RETOUCH_TOKEN)")
                return 2
            api = args.api
        else:
            from retouch.local.stack import EmbeddedStack

            console.print("Starting the embedded stack (moto server, the functions of template.yaml, local API) ...")
            local = stack.enter_context(EmbeddedStack(max_workers=args.workers))
            api, token = local.api_url, local.token
            console.print(f"  API {api}, AWS emulator {local.endpoint}, logs in {local.logs}")
        client = RetouchClient(api, token)
        reports = []
        for start in range(0, len(inputs), MAX_IMAGES_PER_REQUEST):
            chunk = inputs[start : start + MAX_IMAGES_PER_REQUEST]
            try:
                reports.append(run_job(client, chunk, operations, output, out_dir, timeout=args.timeout, parallel=args.parallel))
            except ApiError as exc:
                console.print(f"[red]error:[/] {exc}")
                return 1
        for report in reports:
            print_summary(report, out_dir)
        return 0 if all(r["failed"] == 0 for r in reports) else 1


def reference_bytes(name: str, inputs: list[Path]) -> bytes:
    """``reference=NAME`` for ``retouch apply``: an input with that file name, or a path."""
    for p in inputs:
        if p.name == name:
            return p.read_bytes()
    path = Path(name)
    if path.is_file():
        return path.read_bytes()
    raise InvalidParameters(f"reference {name!r} is neither one of the inputs nor a file")


# --- retouch apply ----------------------------------------------------------------------------
def cmd_apply(args: argparse.Namespace) -> int:
    from retouch import pipeline
    from retouch.models import OperationSpec, OutputSpec
    from retouch.settings import ProcessSettings

    try:
        specs = tuple(OperationSpec.from_dict(o) for o in parse_ops(args.op))
        output = OutputSpec(format=args.format, quality=args.quality)
        inputs = expand_inputs(Path(p) for p in args.inputs)
    except (RetouchError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    defaults = ProcessSettings(bucket_name="-", response_queue_url="-", request_queue_url="-")
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for path, name in zip(inputs, output_names(inputs, output.extension), strict=True):
        try:
            rendered = pipeline.render(
                path.read_bytes(),
                specs,
                output,
                load_reference=lambda name: reference_bytes(name, inputs),
                max_pixels=defaults.max_pixels,
                max_bytes=defaults.max_upload_bytes,
                budget_seconds=defaults.operation_budget_seconds,
            )
        except RetouchError as exc:
            failures += 1
            console.print(f"[red]failed[/] {path}: {exc.message}")
            continue
        (out_dir / name).write_bytes(rendered.body)
        console.print(f"{path} -> {out_dir / name} ({rendered.width}x{rendered.height}, {rendered.seconds * 1000:.0f} ms)")
    console.print(f"{len(inputs) - failures}/{len(inputs)} written to {out_dir}")
    return 0 if failures == 0 else 1


# --- retouch samples --------------------------------------------------------------------------
def cmd_samples(args: argparse.Namespace) -> int:
    from retouch.samples import write_samples

    folder = Path(args.folder)
    paths = write_samples(folder, args.count)
    console.print(f"Wrote {len(paths)} sample photos (from scikit-image's bundled photographs) to {folder}")
    return 0


# --- retouch local ----------------------------------------------------------------------------
def cmd_local(args: argparse.Namespace) -> int:
    from retouch.local.stack import EmbeddedStack

    tokens = {args.token: args.user} if args.token else None
    with EmbeddedStack(tokens=tokens, api_port=args.port, max_workers=args.workers) as stack:
        console.print("[bold]Retouch embedded stack[/] is running (Ctrl-C to stop)")
        console.print(f"  API URL:       {stack.api_url}")
        console.print(f"  bearer token:  {stack.token}")
        console.print(f"  AWS emulator:  {stack.endpoint} (moto server)")
        console.print(f"  function logs: {stack.logs}")
        console.print(
            f"  try: retouch run PHOTOS... --op thumbnail:width=512 --out out --api {stack.api_url} --token {stack.token}"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopping ...")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retouch", description="Retouch: queue-driven photo retouching.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="process photos through the service (embedded stack unless --api)")
    p.add_argument("paths", nargs="+", help="image files, or directories of images")
    p.add_argument("--op", action="append", required=True, metavar="NAME[:key=value,...]", help="an operation; repeat to chain")
    p.add_argument("--format", choices=list(OUTPUT_FORMATS), default="jpeg")
    p.add_argument("--quality", type=int, default=88)
    p.add_argument("--out", required=True, help="folder for the outputs and job.json")
    p.add_argument("--api", help="API base URL (default: start the embedded local stack)")
    p.add_argument("--token", help="bearer token for --api (or RETOUCH_TOKEN)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds to wait for processing")
    p.add_argument("--parallel", type=int, default=8, help="parallel uploads/downloads")
    p.add_argument("--workers", type=int, default=None, help="embedded stack: most worker processes per function")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("ops", help="list operations and their parameters")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ops)

    p = sub.add_parser("apply", help="apply operations in-process (the process function's code), no service")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--op", action="append", required=True, metavar="NAME[:key=value,...]")
    p.add_argument("--format", choices=list(OUTPUT_FORMATS), default="jpeg")
    p.add_argument("--quality", type=int, default=88)
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("samples", help="write sample photos (variants of scikit-image's photographs)")
    p.add_argument("folder")
    p.add_argument("--count", type=int, default=24)
    p.set_defaults(func=cmd_samples)

    from retouch.cli import dlq

    dlq.add_parser(sub)

    p = sub.add_parser("local", help="run the embedded stack in the foreground")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--token", help="bearer token to accept (default: a random one, printed)")
    p.add_argument("--user", default="local-user", help="user id for --token")
    p.add_argument("--workers", type=int, default=None)
    p.set_defaults(func=cmd_local)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # SIGTERM unwinds like Ctrl-C, so an embedded stack shuts its processes down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
