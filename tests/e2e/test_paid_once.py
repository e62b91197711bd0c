"""Each image is paid for once, on the embedded stack: a presigned POST replayed renders once,
and an upload larger than its declaration fails with a plain reason (moto does not enforce the
POST policy's size, as S3 does, so this is enqueue's own check)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retouch.cli.client import RetouchClient
from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from tests.helpers import wait_until

OPS = [{"op": "thumbnail", "params": {"width": 96}}]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    with EmbeddedStack(workdir=tmp_path_factory.mktemp("stack")) as s:
        yield s


def settled(stack: EmbeddedStack, client: RetouchClient, job_id: str) -> None:
    """The job complete and every queue empty (replayed uploads included)."""
    wait_until(lambda: client.job(job_id)["status"] == "complete", 300, "the job to complete", lambda: client.job(job_id))
    drained = lambda: not any(sum(d) for d in stack.queue_depths().values())  # noqa: E731
    wait_until(drained, 300, "every queue to drain", stack.queue_depths)


def renders(stack: EmbeddedStack, job_id: str) -> int:
    log = (stack.logs / "ProcessFunction.log").read_text()
    return sum('"image processed"' in line and job_id in line for line in log.splitlines())


def test_a_presigned_post_replayed_five_times_renders_once(stack: EmbeddedStack, tmp_path: Path) -> None:
    [photo] = write_samples(tmp_path, 1)
    client = RetouchClient(stack.api_url, stack.token)
    job = client.create_job([{"name": photo.name, "content_type": "image/jpeg", "size": photo.stat().st_size}], OPS, {})
    for _ in range(6):  # the upload, then five replays of the same form
        client.upload(job["uploads"][0], photo, "image/jpeg")
    settled(stack, client, job["job_id"])
    status = client.job(job["job_id"])
    assert (status["succeeded"], status["failed"]) == (1, 0)
    assert renders(stack, job["job_id"]) == 1


def test_an_upload_larger_than_declared_fails_with_a_plain_reason(stack: EmbeddedStack, tmp_path: Path) -> None:
    [photo] = write_samples(tmp_path, 1)
    assert photo.stat().st_size > 1000
    client = RetouchClient(stack.api_url, stack.token)
    job = client.create_job([{"name": photo.name, "content_type": "image/jpeg", "size": 1000}], OPS, {})
    client.upload(job["uploads"][0], photo, "image/jpeg")
    settled(stack, client, job["job_id"])
    [image] = client.job(job["job_id"])["images"]
    assert image["status"] == "failed"
    assert f"{photo.stat().st_size:,} bytes" in image["error"] and "said it would be 1,000 bytes" in image["error"]
    assert renders(stack, job["job_id"]) == 0
