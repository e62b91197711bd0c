"""The jobs on a running service (``--api``): ``retouch jobs``, ``cancel``, ``delete`` and ``download``."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from retouch.cli import runner
from retouch.cli.errors import EXIT_OK, EXIT_USAGE, RunError
from retouch.cli.files import check_out_dir, unique_names
from retouch.cli.manifest import MANIFEST, SUBMITTED, Entry, Manifest
from retouch.cli.report import finish
from retouch.cli.service import add_api_arguments, connect
from retouch.cli.ui import CliProgress, console
from retouch.models import CANCELLED, OUTPUT_FORMATS, OutputSpec


def cmd_jobs(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        client = connect(args, stack, embedded=False)
        jobs = client.jobs()
    if args.json:
        sys.stdout.write(json.dumps({"jobs": jobs}, indent=2) + "\n")
        return EXIT_OK
    if not jobs:
        console.print("No jobs yet")
    for j in jobs:
        sys.stdout.write(
            f"{j['job_id']}\t{j['status']}\t{j['created_at']}\t{j['succeeded']}/{j['total']} succeeded\t{j['failed']} failed\n"
        )
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        client = connect(args, stack, embedded=False)
        job = client.cancel(args.job_id)
    if job.get("cancelled_at"):
        dropped = sum(1 for i in job["images"] if i.get("error") == CANCELLED)
        console.print(
            f"Cancelled job {job['job_id']}: {dropped} photos will not be processed; {job['succeeded']} were done already."
        )
    else:
        console.print(f"Job {job['job_id']} had already finished: nothing to cancel.")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        console.print(
            f"[red]error:[/] this removes job {args.job_id}'s photos, outputs and records from the service for good; "
            "add --yes to do it"
        )
        return EXIT_USAGE
    with ExitStack() as stack:
        client = connect(args, stack, embedded=False)
        client.delete(args.job_id)
    console.print(f"Deleted job {args.job_id}: its photos, outputs and records are gone from the service.")
    return EXIT_OK


def download_entries(job: dict[str, Any]) -> list[Entry]:
    """An entry per image of ``job`` (``GET /jobs/{id}``), each named after its upload."""
    spec = OutputSpec(**job["output"])

    def extension(image: dict[str, Any]) -> str:
        if "format" in image:  # what auto chose for this output
            return OUTPUT_FORMATS[image["format"]]
        # not finished yet: a provisional name, corrected from the service's answer (runner)
        return spec.resolve(None, False).extension

    names = unique_names(f"{Path(i['name']).stem or 'image'}.{extension(i)}" for i in job["images"])
    return [
        Entry(input=i["name"], output_name=n, status=SUBMITTED, job_id=job["job_id"], image_id=i["image_id"], uploaded=True)
        for i, n in zip(job["images"], names, strict=True)
    ]


def cmd_download(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    with ExitStack() as stack:
        client = connect(args, stack, embedded=False)
        check_out_dir(out_dir)
        job = client.job(args.job_id)
        existing = Manifest.load(out_dir / MANIFEST)
        if existing is not None and existing.jobs != [args.job_id]:
            raise RunError(f"{out_dir} holds another run; choose an empty --out", EXIT_USAGE)
        entries = existing.entries if existing is not None else download_entries(job)
        manifest = Manifest(
            api=client.api_url, operations=job["operations"], output=job["output"], entries=entries, jobs=[job["job_id"]]
        )
        console.print(f"Downloading job {job['job_id']} ({job['status']}, {job['total']} images) to {out_dir}", highlight=False)
        run = runner.Run(client, manifest, out_dir, parallel=args.parallel, timeout=args.timeout, progress=CliProgress())
        return finish(run, out_dir, args)


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("jobs", help="list your jobs on a running service (--api)")
    add_api_arguments(p, embedded=False)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("cancel", help="stop a job on a running service (--api): photos not processed yet are dropped")
    p.add_argument("job_id", help="the job's id (retouch jobs lists them)")
    add_api_arguments(p, embedded=False)
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("delete", help="remove a job's photos, outputs and records from a running service (--api), for good")
    p.add_argument("job_id", help="the job's id (retouch jobs lists them)")
    p.add_argument("--yes", action="store_true", help="really delete (nothing can bring it back)")
    add_api_arguments(p, embedded=False)
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("download", help="download the outputs of a job on a running service (--api; waits for it to finish)")
    p.add_argument("job_id", help="the job's id (retouch jobs lists them; a run's job.json has its jobs)")
    p.add_argument("--out", required=True, help="folder for the outputs and job.json")
    add_api_arguments(p, embedded=False)
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.set_defaults(func=cmd_download)
