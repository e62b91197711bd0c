"""Shared fixtures: template-driven AWS resources in moto (in-process or a real server)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from PIL import Image

from retouch.local.resources import create_resources
from retouch.local.template import StackModel, build_model
from retouch.logic import deps

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"


@dataclass
class Aws:
    """Resources created from template.yaml, and clients to inspect them."""

    model: StackModel
    endpoint: str
    s3: Any
    sqs: Any
    ddb: Any

    @property
    def bucket(self) -> str:
        return self.model.buckets["ImagesBucket"]["BucketName"]

    def queue_url(self, logical_id: str) -> str:
        return self.sqs.get_queue_url(QueueName=self.model.queues[logical_id].name)["QueueUrl"]

    def queue_arn(self, logical_id: str) -> str:
        return f"arn:aws:sqs:{REGION}:123456789012:{self.model.queues[logical_id].name}"

    def receive(self, logical_id: str, max_messages: int = 10, wait: int = 0) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.queue_url(logical_id),
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])

    def drain(self, logical_id: str, expected: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Receive until ``expected`` messages arrived (or the timeout passed)."""
        import time

        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while sum(not _is_s3_test_event(m) for m in got) < expected and time.monotonic() < deadline:
            got += self.receive(logical_id, wait=1)
        return got


def _is_s3_test_event(message: dict[str, Any]) -> bool:
    """S3 sends one ``s3:TestEvent`` when a notification is configured (consumers ignore it)."""
    return '"s3:TestEvent"' in message["Body"]


def function_environment(model: StackModel) -> dict[str, str]:
    """All functions' template environments merged (one test process plays every function)."""
    env: dict[str, str] = {}
    for fn in model.functions.values():
        env.update(fn.environment)
    env.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    return env


def _setup(monkeypatch: pytest.MonkeyPatch, endpoint: str | None, queue_endpoint: str) -> Aws:
    model = build_model(TEMPLATE, stack="retouch-test", region=REGION, endpoint=queue_endpoint)
    kwargs = {"region_name": REGION}
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    s3, sqs, ddb = (boto3.client(s, **kwargs) for s in ("s3", "sqs", "dynamodb"))
    create_resources(model, queue_endpoint, s3=s3, sqs=sqs, ddb=ddb)
    for key, value in function_environment(model).items():
        monkeypatch.setenv(key, value)
    deps.reset()
    return Aws(model, endpoint or "", s3, sqs, ddb)


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """moto's in-process mock with the template's resources (unit tests)."""
    from moto import mock_aws

    with mock_aws():
        yield _setup(monkeypatch, None, f"https://sqs.{REGION}.amazonaws.com")
    deps.reset()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real moto server on a free port (integration tests talk to it over HTTP)."""
    from retouch.local.stack import MotoServer

    server = MotoServer(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def aws_server(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The template's resources in a freshly reset moto server, with clients pointed at it."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    yield _setup(monkeypatch, moto_server, moto_server)
    deps.reset()


# --- images -----------------------------------------------------------------------------------
def photo_bytes(name: str = "astronaut", fmt: str = "JPEG", size: tuple[int, int] | None = None, **options: Any) -> bytes:
    from skimage import data

    arr = getattr(data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=2)
    im = Image.fromarray(arr[:, :, :3])
    if size:
        im = im.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


@pytest.fixture(scope="session")
def astronaut_jpeg() -> bytes:
    return photo_bytes("astronaut")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Folder decides the tier marker, so `-m integration` etc. select by tier."""
    for item in items:
        path = str(item.fspath)
        for tier in ("integration", "e2e"):
            if f"{os.sep}{tier}{os.sep}" in path:
                item.add_marker(getattr(pytest.mark, tier))
