"""Count the AWS requests the embedded stack makes, by service, API call and resource.

Two entry points, both wrappers around the package (nothing in ``layers/`` is changed):

    python -m bench.aws_requests serve -H 127.0.0.1 -p PORT
        The embedded stack's moto server (``retouch.local.moto_main``: DynamoDB serialised) with a
        WSGI wrapper that appends one JSON line per request to ``$BENCH_REQUEST_LOG``:
        ``{"t": start (epoch s), "dur": s, "svc": "sqs", "op": "ReceiveMessage", "res": queue,
        "n": items in a batch call, "status": 200, "out": response bytes}``, and at exit the server's CPU seconds.

    python -m bench.aws_requests cli run PHOTOS --op ... --out OUT
        ``retouch`` itself (``retouch.cli.main.main``) with the embedded stack's moto server
        started through ``serve`` above; everything else is the unmodified CLI.

The service and call are read the way AWS routes them: ``X-Amz-Target`` (SQS and DynamoDB JSON
protocols), the SigV4 credential scope (``Authorization`` header or a presigned URL's
``X-Amz-Credential``), and for S3 the method, path and query. :func:`summarise` turns a log into
counts.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

LOG_ENV = "BENCH_REQUEST_LOG"
S3_BUCKET_OPS = {"delete": "DeleteObjects", "notification": "PutBucketNotificationConfiguration", "cors": "PutBucketCors"}


def _credential_service(environ: dict[str, Any]) -> str | None:
    """The service in the SigV4 credential scope: ``AKID/DATE/REGION/SERVICE/aws4_request``."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scope = ""
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        scope = (query.get("X-Amz-Credential") or [""])[0]
    parts = unquote(scope).split("/")
    return parts[3] if len(parts) >= 5 else None


def _s3_call(environ: dict[str, Any]) -> tuple[str, str]:
    """(API call, key prefix) of a path-style S3 request."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/").lstrip("/")
    key = path.partition("/")[2]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    prefix = key.split("/", 1)[0] if key else ""
    signed = " (presigned)" if "X-Amz-Signature" in query else ""
    if not key:
        for q, op in S3_BUCKET_OPS.items():
            if q in query:
                return op, ""
        if method == "GET":
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects", ""
        if method == "POST":
            return "PostObject (presigned form)", ""
        return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, method), ""
    if "uploadId" in query or "uploads" in query:
        return "MultipartUpload", prefix
    if "tagging" in query:
        return ("Put" if method == "PUT" else "Get") + "ObjectTagging", prefix
    if method == "PUT":
        return ("CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject") + signed, prefix
    op = {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)
    return op + signed, prefix


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON body, leaving ``wsgi.input`` readable for moto."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _items(body: dict[str, Any]) -> int:
    """How many items a batch call carries (1 for a single-item call)."""
    if "Entries" in body:
        return len(body["Entries"])
    if "TransactItems" in body:
        return len(body["TransactItems"])
    if "RequestItems" in body:
        return sum(len(v.get("Keys", [])) if isinstance(v, dict) else len(v) for v in body["RequestItems"].values())
    return 1


def classify(environ: dict[str, Any]) -> tuple[str, str, str, int]:
    """(service, API call, resource, items in the call) of one request to the emulator."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return "moto-api", path, "", 1
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, op = target.partition(".")
        body = _json_body(environ)
        if prefix.startswith("AmazonSQS"):
            return "sqs", op, str(body.get("QueueUrl", "")).rsplit("/", 1)[-1], _items(body)
        if prefix.startswith("DynamoDB"):
            return "dynamodb", op, str(body.get("TableName", "")), _items(body)
        return prefix.lower(), op, "", 1
    service = _credential_service(environ)
    if service in (None, "s3"):
        op, res = _s3_call(environ)
        return "s3", op, res, 1
    return service, environ.get("REQUEST_METHOD", ""), path, 1


def _wrap(app_call: Callable[..., Any], log: Any, lock: threading.Lock) -> Callable[..., Any]:
    def call(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started, t0 = time.time(), time.perf_counter()
        try:
            svc, op, res, n = classify(environ)
        except Exception:
            svc, op, res, n = "unknown", environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""), 1
        seen: dict[str, Any] = {}

        def recording_start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            seen["status"] = int(status.split()[0])
            seen["out"] = next((int(v) for k, v in headers if k.lower() == "content-length"), -1)
            return start_response(status, headers, *rest)

        body = app_call(self, environ, recording_start)
        # moto answers with a list of byte strings: materialise it so the time includes the work
        chunks = list(body)
        if seen.get("out", -1) < 0:
            seen["out"] = sum(len(c) for c in chunks)
        line = {
            "t": round(started, 4),
            "dur": round(time.perf_counter() - t0, 5),
            "svc": svc,
            "op": op,
            "res": res,
            "n": n,
            "status": seen.get("status", 0),
            "out": seen["out"],
        }
        with lock:
            log.write(json.dumps(line) + "\n")
        return chunks

    return call


def serve(argv: list[str]) -> None:
    """moto's server as the embedded stack runs it, with every request logged."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from retouch.local import moto_main

    path = os.environ.get(LOG_ENV)
    if not path:
        raise SystemExit(f"set {LOG_ENV} to the file for the request log")
    log = open(path, "a", buffering=1)  # noqa: SIM115 - open for the server's lifetime
    lock = threading.Lock()

    def cpu_at_exit() -> None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        with lock:
            log.write(json.dumps({"cpu": round(ru.ru_utime + ru.ru_stime, 3), "t": time.time()}) + "\n")
            log.flush()

    atexit.register(cpu_at_exit)

    def instrument() -> None:
        DomainDispatcherApplication.__call__ = _wrap(DomainDispatcherApplication.__call__, log, lock)  # type: ignore[method-assign]

    moto_main.serve(argv, instrument)


def cli(argv: list[str]) -> int:
    """``retouch ARGV`` whose embedded stack runs :func:`serve` as its moto server."""
    from retouch.cli import main as cli_main
    from retouch.local import stack

    def command(self: stack.MotoServer) -> list[str]:
        return [sys.executable, "-m", "bench.aws_requests", "serve", *self.arguments()]

    stack.MotoServer.command = command  # type: ignore[method-assign]
    return cli_main.main(argv)


# --- reading a log -------------------------------------------------------------------------------
def read_log(path: Path) -> tuple[list[dict[str, Any]], float | None]:
    """(requests, the servers' CPU seconds or None). Each server process writes its CPU time when
    it exits: the S3 and SQS server and its DynamoDB twin (summed)."""
    requests: list[dict[str, Any]] = []
    cpu = None
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if "cpu" in row:
            cpu = (cpu or 0.0) + float(row["cpu"])
        else:
            requests.append(row)
    return requests, cpu


EMPTY_RECEIVE_BYTES = 64
"""A ReceiveMessage answer this small carries no message (``{}``)."""


def is_empty_receive(row: dict[str, Any]) -> bool:
    return row["op"] == "ReceiveMessage" and 0 <= row["out"] < EMPTY_RECEIVE_BYTES


def summarise(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts by service, by (service, call) and by (service, call, resource), empty receives and
    the emulator's busy time (sum of request durations, long polls counted apart)."""
    rows = [r for r in rows if r["svc"] != "moto-api"]
    by_service: Counter[str] = Counter(r["svc"] for r in rows)
    by_call: Counter[str] = Counter(f"{r['svc']} {r['op']}" for r in rows)
    by_resource: Counter[str] = Counter(f"{r['svc']} {r['op']} {r['res']}".strip() for r in rows)
    items: Counter[str] = Counter()
    read_bytes: Counter[str] = Counter()
    for r in rows:
        items[f"{r['svc']} {r['op']}"] += int(r.get("n", 1))
        read_bytes[f"{r['svc']} {r['op']}"] += max(0, int(r["out"]))
    empty = [r for r in rows if is_empty_receive(r)]
    return {
        "total": len(rows),
        "by_service": dict(by_service),
        "by_call": dict(by_call.most_common()),
        "by_resource": dict(by_resource.most_common()),
        "items_by_call": dict(items),
        "response_bytes_by_call": dict(read_bytes),
        "empty_receives": len(empty),
        "empty_receives_by_queue": dict(Counter(r["res"] for r in empty)),
        "empty_receive_seconds": round(sum(r["dur"] for r in empty), 2),
        "busy_seconds": round(sum(r["dur"] for r in rows if not is_empty_receive(r)), 2),
        "errors": sum(1 for r in rows if r["status"] >= 400),
    }


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        serve(args[1:])
        return 0
    if args[:1] == ["cli"]:
        return cli(args[1:])
    if args[:1] == ["summary"] and len(args) == 2:
        rows, cpu = read_log(Path(args[1]))
        sys.stdout.write(json.dumps({**summarise(rows), "emulator_cpu_seconds": cpu}, indent=2) + "\n")
        return 0
    sys.stderr.write("usage: python -m bench.aws_requests serve|cli ARGS... | summary LOG\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
