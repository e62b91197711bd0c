"""Driving the four handlers the way their triggers do, the CLI as a user does, and waiting on
conditions (shared by the unit, integration and end-to-end tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from retouch.local.events import http_api_event, sqs_event
from retouch.local.lambda_runtime import FakeContext
from tests.conftest import Aws


def context(name: str = "test") -> FakeContext:
    return FakeContext(function_name=name, memory_limit_in_mb=512, timeout_seconds=30, aws_request_id="req-1")


def call_api(
    method: str,
    path: str,
    *,
    sub: str | None = "alice",
    body: Any = None,
    route: str | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    auth: str = "user",
) -> tuple[int, dict[str, Any]]:
    from functions.upload_url import app

    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    event = http_api_event(
        method=method,
        route_path=route or path,
        path=path,
        query=urlencode(query or {}),
        body=raw,
        path_params=params,
        sub=sub,
        auth=auth,
        headers={"content-type": "application/json", **(headers or {})},
    )
    response = app.lambda_handler(event, context("api"))
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else {}


def create_job(
    images: list[dict[str, Any]], operations: list[dict[str, Any]], *, sub: str = "alice", output: Any = None
) -> dict[str, Any]:
    status, body = call_api(
        "POST", "/jobs", sub=sub, body={"images": images, "operations": operations, **({"output": output} if output else {})}
    )
    assert status == 201, body
    return body


def job_status(job_id: str, sub: str = "alice") -> tuple[int, dict[str, Any]]:
    return call_api("GET", f"/jobs/{job_id}", route="/jobs/{job_id}", params={"job_id": job_id}, sub=sub)


def post_upload(upload: dict[str, Any], data: bytes, content_type: str = "image/jpeg") -> requests.Response:
    return requests.post(upload["url"], data=upload["fields"], files={"file": ("x", data, content_type)}, timeout=30)


def run_consumer(aws: Aws, queue: str, handler: Any, expected: int, timeout: float = 10) -> dict[str, Any]:
    """Receive ``expected`` messages from ``queue``, invoke ``handler`` as Lambda's SQS
    integration does, and delete what it did not report as failed. Returns the response."""
    messages = aws.drain(queue, expected, timeout)
    assert sum('"s3:TestEvent"' not in m["Body"] for m in messages) == expected, (
        f"{queue}: expected {expected} messages, got {len(messages)}"
    )
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    try:
        response = handler(sqs_event(messages, aws.queue_arn(queue)), context(queue))
    except BatchProcessingError:  # every record failed: Lambda retries the whole batch
        response = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages], "raised": True}
    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    for m in messages:
        if m["MessageId"] not in failed:
            aws.sqs.delete_message(QueueUrl=aws.queue_url(queue), ReceiptHandle=m["ReceiptHandle"])
    return response


RETOUCH = [sys.executable, "-m", "retouch.cli.main"]
"""The ``retouch`` command, as a user runs it (its own process)."""


def run_cli(*args: str, timeout: float = 600, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``retouch ARGS`` in a subprocess; output captured as text."""
    return subprocess.run([*RETOUCH, *args], capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, describe: Callable[[], Any] = lambda: "") -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` (and ``describe()``) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}: {describe()}")


def api_args(stack: Any) -> list[str]:
    """``--api`` and ``--token`` of an embedded stack, for a CLI command."""
    return ["--api", stack.api_url, "--token", stack.token]


def manifest(out: Path) -> dict[str, Any]:
    """A run's ``job.json``."""
    return dict(json.loads((out / "job.json").read_text()))
