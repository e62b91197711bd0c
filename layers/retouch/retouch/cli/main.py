"""``retouch``: run jobs, list operations, apply operations locally, run the local stack."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from retouch import ops
from retouch.cli import hints, runner
from retouch.cli.client import ApiError, RetouchClient
from retouch.cli.files import collect_inputs, unique_names
from retouch.errors import InvalidParameters, RetouchError
from retouch.models import AUTO, CANCELLED, FORMAT_CHOICES, OUTPUT_FORMATS, OutputSpec

console = Console(stderr=True, soft_wrap=True)  # never wrap a file name mid-name
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
OPS_USAGE = "Use: --op NAME[:key=value,...], e.g. --op thumbnail:width=512,fit=cover --op contrast:method=clahe"


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


def cmd_ops(args: argparse.Namespace) -> int:
    document = operations_document()
    if args.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    out = Console(soft_wrap=True)
    if not out.is_terminal:  # piped: plain lines, every value whole
        for op in document["operations"]:
            sys.stdout.write(f"{op['name']} - {op['summary']}\n")
            for p in op["params"]:
                facts = [p["type"]]
                if p.get("default") is not None:
                    facts.append(f"default {p['default']}")
                if _param_range(p):
                    facts.append(_param_range(p))
                sys.stdout.write(f"  {p['name']} ({'; '.join(facts)}): {p['help']}\n")
            sys.stdout.write("\n")
        sys.stdout.write(OPS_USAGE + "\n")
        return 0
    for op in document["operations"]:
        table = Table(title=f"[bold]{op['name']}[/] - {op['summary']}", title_justify="left", show_edge=False)
        for col in ("parameter", "type", "default", "range / choices", "meaning"):
            table.add_column(col, overflow="fold")  # a narrow terminal folds a cell, never cuts it
        for p in op["params"]:
            default = "" if p.get("default") is None else str(p["default"])
            table.add_row(p["name"], p["type"], default, _param_range(p), p["help"])
        out.print(table)
        out.print()
    out.print(OPS_USAGE, highlight=False, markup=False)
    return 0


# --- retouch run / jobs / download ----------------------------------------------------------
EXIT_OK, EXIT_FAILED_IMAGES, EXIT_USAGE, EXIT_SERVICE, EXIT_INCOMPLETE = 0, 1, 2, 3, 4
"""Exit codes (documented in the README): all succeeded; some images failed; a usage error; the
service unreachable or failing; stopped before the end (Ctrl-C, SIGTERM, --timeout) - resumable."""


class CliProgress(runner.Progress):
    """A progress bar on a terminal; plain, unwrapped lines otherwise."""

    def __init__(self) -> None:
        self.bar: Progress | None = _progress() if console.is_terminal else None
        self.tasks: dict[str, Any] = {}
        self.totals: dict[str, list[int]] = {}
        self.last_line = 0.0
        super().__init__(start=self._start, advance=self._advance, note=self._note)

    def __enter__(self) -> CliProgress:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()

    def _start(self, phase: str, total: int) -> None:
        if self.bar:
            if phase in self.tasks:
                self.bar.update(self.tasks[phase], total=total, completed=0)
            else:
                self.tasks[phase] = self.bar.add_task(phase, total=total)
        else:
            self.totals[phase] = [0, total]  # plain lines start with the first image finished

    def _advance(self, phase: str, n: int) -> None:
        if self.bar:
            if phase in self.tasks:
                self.bar.advance(self.tasks[phase], n)
            return
        done = self.totals.setdefault(phase, [0, 0])
        done[0] += n
        if n == 0:
            return
        if phase == "processing" and (time.monotonic() - self.last_line > 5 or done[0] >= done[1]):
            self.last_line = time.monotonic()
            console.print(f"{phase}: {done[0]}/{done[1]} finished", highlight=False)

    def _note(self, message: str) -> None:
        console.print(message, highlight=False, markup=False)


def extension_for(path: Path, output: OutputSpec) -> str:
    """The output's extension for an input: the format the service will write (``auto`` is
    decided from the file's header, by the same function the process function uses)."""
    if output.format != AUTO:
        return output.extension
    from retouch import imageio

    try:
        with path.open("rb") as fh:
            return imageio.output_for(fh, output).extension
    except OSError:
        return output.resolve(None, False).extension


def check_out_dir(out_dir: Path) -> None:
    """Fail fast (before any stack starts) when the outputs cannot be written."""
    if out_dir.exists() and not out_dir.is_dir():
        raise runner.RunError(f"--out {out_dir} is a file, not a folder", EXIT_USAGE)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".retouch-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise runner.RunError(f"cannot write to --out {out_dir}: {exc.strerror or exc}", EXIT_USAGE) from exc


def check_api_url(api: str) -> str:
    parts = urlsplit(api)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise runner.RunError(f"--api {api!r} is not a URL; give it as https://HOST (the stack's ApiUrl output)", EXIT_USAGE)
    return api.rstrip("/")


def connect(args: argparse.Namespace, stack: ExitStack, *, embedded: bool = True) -> RetouchClient:
    """A client for ``--api`` (with its token), or for an embedded stack started here (unless
    ``embedded`` is false: a command that reads what earlier runs left, which a stack started
    now cannot have)."""
    if not args.api and not embedded:
        raise runner.RunError(
            f"retouch {args.command} needs the --api URL of a running service (and --token, RETOUCH_TOKEN or a "
            "retouch login sign-in): a stack started just for this command would be empty. Start one with retouch local "
            "(it prints its API URL and token) and give retouch run the same --api and --token",
            EXIT_USAGE,
        )
    if args.api:
        api = check_api_url(args.api)
        token = args.token or os.environ.get("RETOUCH_TOKEN") or signed_in_token(api)
        if not token:
            raise runner.RunError(
                f"not signed in to {api}: run retouch login --stack-name STACK (or pass --token / RETOUCH_TOKEN)", EXIT_USAGE
            )
        return RetouchClient(api, token)
    from retouch.local.stack import EmbeddedStack

    console.print("Starting the embedded stack (moto server, the functions of template.yaml, local API) ...")
    local = stack.enter_context(EmbeddedStack(max_workers=getattr(args, "workers", None)))
    console.print(f"  API {local.api_url}, AWS emulator {local.endpoint}, logs in {local.logs}", highlight=False)
    return RetouchClient(local.api_url, local.token)


def signed_in_token(api: str) -> str | None:
    from retouch.cli import auth

    try:
        return auth.token_for(api)
    except auth.SignInError as exc:
        raise runner.RunError(exc.message, EXIT_USAGE if exc.refused else EXIT_SERVICE) from exc


def cmd_login(args: argparse.Namespace) -> int:
    from retouch.cli import auth

    api, pool, client_id = args.api, args.user_pool_id, args.client_id
    try:
        if args.stack_name:
            outputs = auth.stack_outputs(args.stack_name, args.region)
            api = api or outputs.get("ApiUrl")
            pool = pool or outputs.get("UserPoolId")
            client_id = client_id or outputs.get("UserPoolClientId")
        if not (api and pool and client_id):
            raise runner.RunError("give --stack-name (or --api, --user-pool-id and --client-id)", EXIT_USAGE)
        api = check_api_url(api)
        email = args.email or input("Email: ").strip()
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            import getpass

            password = getpass.getpass("Password: ")
        session = auth.login(api, pool, client_id, args.region, email, password, endpoint=args.cognito_endpoint)
    except auth.SignInError as exc:
        raise runner.RunError(exc.message, EXIT_USAGE if exc.refused else EXIT_SERVICE) from exc
    where = auth.credentials_path()
    console.print(f"Signed in to {session.api} as {email}; tokens cached in {where} (owner only)", highlight=False)
    console.print(f"  try: retouch run PHOTOS... --op thumbnail:width=512 --out out --api {session.api}", highlight=False)
    return EXIT_OK


def cmd_logout(args: argparse.Namespace) -> int:
    from retouch.cli import auth

    gone = auth.logout(args.api)
    console.print(f"Signed out of {', '.join(gone)}" if gone else "Not signed in", highlight=False)
    return EXIT_OK


def parse_ops_or_refuse(values: Sequence[str]) -> list[dict[str, Any]]:
    try:
        return parse_ops(values)
    except InvalidParameters as exc:
        raise runner.RunError(exc.message, EXIT_USAGE) from exc


def describe_run(manifest: runner.Manifest) -> str:
    """A run in a few words: its operations, its output settings and how it ended."""
    ops_text = " ".join(
        o["op"] + (":" + ",".join(f"{k}={v}" for k, v in o.get("params", {}).items()) if o.get("params") else "")
        for o in manifest.operations
    )
    c = manifest.counts()
    return (
        f"--op {ops_text or '?'}, --format {manifest.output.get('format')}, --quality {manifest.output.get('quality')}; "
        f"{c[runner.SUCCEEDED]} succeeded, {c[runner.FAILED]} failed, {c[runner.PENDING] + c[runner.SUBMITTED]} pending"
    )


def print_skipped(skipped: list[dict[str, str]], where: str = "") -> None:
    """What a folder held that is not taken (``run`` and ``apply`` alike)."""
    if not skipped:
        return
    console.print(f"Skipped {len(skipped)} entries that are not images to process{where}:", highlight=False)
    for item in skipped[:10]:
        console.print(f"  {item['path']}: {item['reason']}", highlight=False, markup=False)
    if len(skipped) > 10:
        console.print(f"  ... and {len(skipped) - 10} more", highlight=False)


def cmd_run(args: argparse.Namespace) -> int:
    out_dir = Path(args.resume or args.out or "")
    if not (args.resume or args.out):
        raise runner.RunError("--out is required (the folder for the outputs and job.json)", EXIT_USAGE)
    if args.resume and args.restart:
        raise runner.RunError("--resume finishes the run in a folder and --restart starts it over: give one", EXIT_USAGE)
    check_out_dir(out_dir)
    if args.restart and not (args.paths and args.op):
        raise runner.RunError("give the photos (files or folders) and at least one --op", EXIT_USAGE)
    if args.restart:  # a typo must not cost the previous run: the command is checked first
        parse_ops_or_refuse(args.op)
        try:
            OutputSpec(format=args.format, quality=args.quality)
            if not collect_inputs((Path(p) for p in args.paths), recursive=args.recursive)[0]:
                raise runner.RunError("no images found in the given paths", EXIT_USAGE)
        except FileNotFoundError as exc:
            raise runner.RunError(str(exc), EXIT_USAGE) from exc
        except RetouchError as exc:
            raise runner.RunError(exc.message, EXIT_USAGE) from exc
        removed = runner.clear_run(out_dir)
        if removed:
            outputs = sum(p.name != runner.MANIFEST for p in removed)
            console.print(
                f"Starting over in {out_dir}: removed the previous run's {runner.MANIFEST} and its {outputs} outputs",
                highlight=False,
            )
    existing = runner.Manifest.load(out_dir / runner.MANIFEST)
    skipped: list[dict[str, str]] = []
    if args.resume:
        if existing is None:
            raise runner.RunError(f"nothing to resume: {out_dir / runner.MANIFEST} does not exist", EXIT_USAGE)
        operations, output = existing.operations, existing.output
        inputs = [(Path(e.input), e.output_name) for e in existing.entries]
    else:
        if not args.paths or not args.op:
            raise runner.RunError("give the photos (files or folders) and at least one --op", EXIT_USAGE)
        operations = parse_ops_or_refuse(args.op)
        output = {"format": args.format, "quality": args.quality}
        if existing is not None and (existing.operations, existing.output) != (operations, output):
            path = out_dir / runner.MANIFEST
            raise runner.RunError(
                f"{out_dir} holds another run ({describe_run(existing)}), recorded in {path}. To start over there with "
                f"these operations, add --restart (it removes {path} and that run's outputs), or remove {path} yourself; "
                f"or use another --out; or finish that run with retouch run --resume {out_dir}",
                EXIT_USAGE,
            )
        try:
            inputs, skipped = collect_inputs((Path(p) for p in args.paths), recursive=args.recursive)
        except FileNotFoundError as exc:
            raise runner.RunError(str(exc), EXIT_USAGE) from exc
        if not inputs:
            raise runner.RunError("no images found in the given paths", EXIT_USAGE)
        print_skipped(skipped, f" (listed in {runner.MANIFEST})")
    try:
        spec = OutputSpec(**output)
    except RetouchError as exc:
        raise runner.RunError(exc.message, EXIT_USAGE) from exc
    entries = runner.plan(inputs, lambda path: extension_for(path, spec), existing) if not args.resume else existing.entries  # type: ignore[union-attr]
    for e in entries:
        if e.status == runner.PENDING and not Path(e.input).is_file():
            e.status, e.error = runner.FAILED, "the input file is gone"
    finished = sum(e.status == runner.SUCCEEDED for e in entries)
    if existing is not None:
        console.print(f"Resuming the run in {out_dir}: {finished} of {len(entries)} outputs already saved", highlight=False)
    manifest = runner.Manifest(
        api=existing.api if existing else "",
        operations=operations,
        output=output,
        entries=entries,
        skipped=existing.skipped if args.resume and existing else skipped,
        jobs=existing.jobs if existing else [],
    )
    if not runner.has_work(manifest):
        console.print("Nothing left to do: every input is finished")
        failed = manifest.counts()[runner.FAILED]
        if failed:
            console.print(
                f"{failed} images failed on the service, which a resumed run does not try again; to run them again "
                f"(with the operations corrected), give the command with --restart: it starts over in {out_dir}",
                highlight=False,
            )
        return report(manifest, out_dir, args)
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
            if existing is None and not manifest.jobs:  # nothing got in: nothing to resume either
                (out_dir / runner.MANIFEST).unlink(missing_ok=True)
                raise runner.RunError(
                    f"the service refused the job: {exc.message} (nothing was submitted; correct the command and run it again)",
                    EXIT_USAGE,
                ) from exc
            raise runner.RunError(
                f"the service refused a job: {exc.message}. Correct the command and give it again with --restart "
                f"(it starts over in {out_dir}: {out_dir / runner.MANIFEST} and that run's outputs are removed)",
                EXIT_USAGE,
            ) from exc


def finish(run: runner.Run, out_dir: Path, args: argparse.Namespace) -> int:
    """Execute ``run``, then report it: the summary, failures, where things went, the exit code."""
    assert isinstance(run.progress, CliProgress)
    try:
        with run.progress:
            manifest = run.execute()
    except KeyboardInterrupt:
        manifest = run.manifest
        c = manifest.counts()
        console.print(
            f"Interrupted: {c[runner.SUCCEEDED]} outputs saved, {c[runner.PENDING] + c[runner.SUBMITTED]} pending; "
            f"run the same command again (or retouch run --resume {out_dir}) to finish",
            highlight=False,
        )
        report(manifest, out_dir, args, print_failures=False)
        return EXIT_INCOMPLETE
    return report(manifest, out_dir, args)


def report(manifest: runner.Manifest, out_dir: Path, args: argparse.Namespace, *, print_failures: bool = True) -> int:
    c = manifest.counts()
    pending = c[runner.PENDING] + c[runner.SUBMITTED]
    failed = [e for e in manifest.entries if e.status == runner.FAILED]
    t = manifest.timings
    if print_failures:
        console.print(
            f"{c[runner.SUCCEEDED]}/{len(manifest.entries)} images succeeded in {t.get('total_seconds', 0):.1f} s "
            f"({t.get('images_per_second', 0):.1f} images/s)" + (f"; {pending} still pending" if pending else ""),
            highlight=False,
        )
        for e in failed[:20]:
            console.print(f"  failed {e.input}: {e.error}", highlight=False, markup=False)
        if len(failed) > 20:
            console.print(f"  ... and {len(failed) - 20} more (see job.json)")
        if pending:
            console.print(f"Not finished: run the same command again (or retouch run --resume {out_dir}) to go on")
        elif failed and getattr(args, "command", "") == "run":
            console.print(
                f"To run the failed images again with other operations in {out_dir}, give the corrected command with --restart",
                highlight=False,
            )
        console.print(f"Outputs in {out_dir}, report in {out_dir / runner.MANIFEST}", highlight=False)
    code = EXIT_INCOMPLETE if pending else (EXIT_FAILED_IMAGES if failed else EXIT_OK)
    if getattr(args, "json", False):
        summary = {
            "state": manifest.state,
            "exit_code": code,
            "total": len(manifest.entries),
            "succeeded": c[runner.SUCCEEDED],
            "failed": len(failed),
            "pending": pending,
            "out": str(out_dir),
            "manifest": str(out_dir / runner.MANIFEST),
            "jobs": manifest.jobs,
            "failures": [{"input": e.input, "error": e.error} for e in failed],
        }
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return code


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


def cmd_download(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    with ExitStack() as stack:
        client = connect(args, stack, embedded=False)
        check_out_dir(out_dir)
        job = client.job(args.job_id)
        existing = runner.Manifest.load(out_dir / runner.MANIFEST)
        if existing is not None and existing.jobs != [args.job_id]:
            raise runner.RunError(f"{out_dir} holds another run; choose an empty --out", EXIT_USAGE)
        spec = OutputSpec(**job["output"])

        def extension(image: dict[str, Any]) -> str:
            if "format" in image:  # what auto chose for this output
                return OUTPUT_FORMATS[image["format"]]
            # not finished yet: a provisional name, corrected from the service's answer (runner)
            return spec.resolve(None, False).extension

        if existing is not None:
            entries = existing.entries
        else:
            names = unique_names(f"{Path(i['name']).stem or 'image'}.{extension(i)}" for i in job["images"])
            entries = [
                runner.Entry(
                    input=i["name"],
                    output_name=n,
                    status=runner.SUBMITTED,
                    job_id=job["job_id"],
                    image_id=i["image_id"],
                    uploaded=True,
                )
                for i, n in zip(job["images"], names, strict=True)
            ]
        manifest = runner.Manifest(
            api=client.api_url, operations=job["operations"], output=job["output"], entries=entries, jobs=[job["job_id"]]
        )
        console.print(f"Downloading job {job['job_id']} ({job['status']}, {job['total']} images) to {out_dir}", highlight=False)
        run = runner.Run(client, manifest, out_dir, parallel=args.parallel, timeout=args.timeout, progress=CliProgress())
        return finish(run, out_dir, args)


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
MAX_APPLY_JOBS = 4
"""A 24 MP photo can take close to 1 GB through colorize: more at once would need more memory
than most machines have to spare."""
APPLY_JOBS = min(os.cpu_count() or 1, MAX_APPLY_JOBS)


def cmd_apply(args: argparse.Namespace) -> int:
    from retouch import pipeline
    from retouch.models import OperationSpec
    from retouch.settings import OperationSettings, ProcessSettings

    try:
        specs = tuple(OperationSpec.from_dict(o) for o in parse_ops(args.op))
        output = OutputSpec(format=args.format, quality=args.quality)
        found, skipped = collect_inputs((Path(p) for p in args.inputs), recursive=args.recursive)
    except RetouchError as exc:
        raise runner.RunError(exc.message, EXIT_USAGE) from exc
    except FileNotFoundError as exc:
        raise runner.RunError(str(exc), EXIT_USAGE) from exc
    print_skipped(skipped)
    if not found:
        raise runner.RunError("no images found in the given paths", EXIT_USAGE)
    inputs = [path for path, _ in found]
    defaults = ProcessSettings(bucket_name="-", response_queue_url="-", request_queue_url="-", jobs_table="-")
    configured = OperationSettings.from_env()  # COLORIZE_MODEL_PATH / COLORIZE_LIBRARY_PATH, as the functions read them
    out_dir = Path(args.output)
    check_out_dir(out_dir)
    if not args.debug:  # the operations' log (a model's failure in detail) only with --debug
        from retouch.observability import logger

        logger.setLevel("ERROR")
    wanted = [str(Path(rel).with_name(f"{Path(rel).stem or 'image'}.{extension_for(p, output)}")) for p, rel in found]

    def render(path: Path, name: str) -> pipeline.Rendered | RetouchError:
        try:
            rendered = pipeline.render(
                path.read_bytes(),
                specs,
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

    failures = 0
    # OpenCV, Pillow and numpy release the GIL while they work: threads use the cores
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        names = unique_names(wanted)
        for path, name, outcome in zip(inputs, names, pool.map(render, inputs, names), strict=True):
            if isinstance(outcome, RetouchError):
                failures += 1
                console.print(f"failed {path}: {outcome.message}", highlight=False, markup=False)
            else:
                console.print(
                    f"{path} -> {out_dir / name} ({outcome.width}x{outcome.height}, {outcome.seconds * 1000:.0f} ms)",
                    highlight=False,
                    markup=False,
                )
    console.print(f"{len(inputs) - failures}/{len(inputs)} written to {out_dir}", highlight=False)
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
    if args.port:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", args.port))
            except OSError as exc:
                raise runner.RunError(
                    f"port {args.port} is not free ({exc.strerror}); choose another with --port (0: any free port)", EXIT_USAGE
                ) from exc
    with EmbeddedStack(
        tokens=tokens, api_port=args.port, max_workers=args.workers, allow_private_callbacks=args.allow_private_callbacks
    ) as stack:
        console.print("[bold]Retouch embedded stack[/] is running (Ctrl-C to stop)")
        console.print(f"  API URL:       {stack.api_url}")
        console.print(f"  bearer token:  {stack.token}")
        console.print(f"  WebSocket:     {stack.websocket_url}  (connect with ?token=..., see README: Push)")
        console.print(f"  API docs:      {stack.api_url}/docs")
        console.print(f"  web page:      {stack.api_url}/?token={stack.token}")
        if args.allow_private_callbacks:
            console.print("  callbacks:     http to loopback allowed (--allow-private-callbacks)")
        console.print(f"  AWS emulator:  {stack.endpoint} (moto server: S3, SQS)")
        console.print(f"  DynamoDB:      {stack.dynamodb_endpoint} (moto server)")
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


def add_api_arguments(p: argparse.ArgumentParser, *, embedded: bool = True) -> None:
    p.add_argument(
        "--api",
        help="API base URL, e.g. https://ID.execute-api.REGION.amazonaws.com (the stack's ApiUrl output) or the URL "
        "retouch local prints"
        + (" (default: start the embedded local stack for this run)" if embedded else " (required: the running service)"),
    )
    p.add_argument("--token", help="bearer token for --api (default: RETOUCH_TOKEN, then the sign-in of retouch login)")
    if embedded:
        p.add_argument("--workers", type=int, default=None, help="embedded stack: most worker processes per function")


OP_HELP = (
    "an operation, NAME or NAME:key=value,...; repeat to chain them (applied in order). "
    "retouch ops lists the operations and their parameters"
)
QUALITY_HELP = "output quality, 1-100, for JPEG, WebP and AVIF (default 88; PNG is lossless)"
RUN_EXAMPLES = """examples:
  retouch run photos/ --op thumbnail:width=1024 --out small
  retouch run a.jpg b.png --op crop:aspect=1:1 --op contrast:method=auto --format webp --out square
  retouch run scans/ --recursive --op colorize --out coloured --api https://ID.execute-api.REGION.amazonaws.com
  retouch run grey.jpg ref.jpg --op colorize:mode=reference,reference=ref.jpg --out coloured
  retouch run --resume small                       finish an interrupted run (or give the same command again)
  retouch run photos/ --op thumbnail:width=512 --out small --restart
                                                   start over in small/ (its job.json and outputs are removed)

operations: retouch ops (or retouch ops --json). Outputs and job.json go to --out."""
APPLY_EXAMPLES = """examples:
  retouch apply photo.jpg --op red_eye --op teeth_whitening -o out
  retouch apply photos/ --op colorize --format png -o coloured
  retouch apply photos/ --recursive --op thumbnail:width=256,height=256,fit=cover -o thumbs

operations: retouch ops. Runs here, in this process, with the service's code; no service needed."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retouch", description="Retouch: queue-driven photo retouching.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks (for bug reports)")
    sub = parser.add_subparsers(dest="command", required=True)

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
    p.add_argument("--op", action="append", metavar="NAME[:key=value,...]", help=OP_HELP)
    p.add_argument("--format", choices=list(FORMAT_CHOICES), default=AUTO, help="output format (auto: keep the source's)")
    p.add_argument("--quality", type=int, default=88, help=QUALITY_HELP)
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

    p = sub.add_parser("login", help="sign in to a deployed stack (Cognito) and cache the tokens")
    p.add_argument("--stack-name", help="the deployed stack (its outputs give the API URL and user pool)")
    p.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    p.add_argument("--api", help="API URL (default: the stack's ApiUrl output)")
    p.add_argument("--user-pool-id", help="default: the stack's UserPoolId output")
    p.add_argument("--client-id", help="default: the stack's UserPoolClientId output")
    p.add_argument("--email", help="default: asked")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    p.add_argument("--cognito-endpoint", help=argparse.SUPPRESS)  # an emulator, for tests
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="forget a cached sign-in")
    p.add_argument("--api", help="the API to sign out of (default: all)")
    p.set_defaults(func=cmd_logout)

    p = sub.add_parser("ops", help="list operations and their parameters")
    p.add_argument("--json", action="store_true", help="print them as GET /operations answers (JSON)")
    p.set_defaults(func=cmd_ops)

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
    p.add_argument("--op", action="append", required=True, metavar="NAME[:key=value,...]", help=OP_HELP)
    p.add_argument("--format", choices=list(FORMAT_CHOICES), default=AUTO, help="output format (auto: keep the source's)")
    p.add_argument("--quality", type=int, default=88, help=QUALITY_HELP)
    p.add_argument("--recursive", action="store_true", help="look for images in subfolders too (keeping the structure)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument(
        "--jobs",
        type=int,
        default=APPLY_JOBS,
        help=f"images rendered at the same time, in threads (default: the cores, at most {MAX_APPLY_JOBS})",
    )
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
    p.add_argument(
        "--allow-private-callbacks",
        action="store_true",
        help="let jobs send webhooks over http to loopback receivers (local testing); otherwise AWS's rules apply",
    )
    p.set_defaults(func=cmd_local)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error a user can cause or meet is one line and a documented exit
    code (a traceback only with ``--debug``)."""

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops like Ctrl-C: cleanly, with what is done saved

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the shell ignored it (a `cmd &` in a script)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except runner.RunError as exc:
        console.print(f"error: {exc.message}", highlight=False, markup=False)
        return exc.code
    except ApiError as exc:
        if args.debug:
            raise
        console.print(f"error: {hints.api_error(exc, getattr(args, 'api', None))}", highlight=False, markup=False)
        return EXIT_USAGE if exc.status in (400, 401, 403, 404, 409, 413, 422) else EXIT_SERVICE
    except _request_error() as exc:
        if args.debug:
            raise
        message = hints.connection_error(exc, getattr(args, "api", None), _reason(exc))
        console.print(f"error: {message}", highlight=False, markup=False)
        return EXIT_SERVICE
    except KeyboardInterrupt:
        console.print("Interrupted")
        return EXIT_INCOMPLETE
    except Exception as exc:
        if args.debug:
            raise
        console.print(f"error: {_reason(exc)} (run with --debug for details)", highlight=False, markup=False)
        return EXIT_SERVICE


class _NotRaised(Exception):
    """Stands for requests' errors where requests was never imported (so none can be raised)."""


def _request_error() -> type[Exception]:
    """requests' base error, if a command loaded requests (only those that reach the service do)."""
    loaded = sys.modules.get("requests")
    return loaded.exceptions.RequestException if loaded is not None else _NotRaised


def _reason(exc: BaseException) -> str:
    """The innermost cause of ``exc`` in one line, without the library's class names."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused (is the API URL right, and is the service running?)"
    if isinstance(exc, TimeoutError) or "timed out" in text:
        return "the connection timed out"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host name"
    return text


if __name__ == "__main__":
    sys.exit(main())
