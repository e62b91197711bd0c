"""The queue's promises, on the embedded stack: nothing lost, nothing counted twice.

1. processing down: uploads still succeed, messages wait, work resumes
2. a worker killed (-9) mid-batch: its messages come back and complete
3. a poison message: dead-lettered after maxReceiveCount, its image failed, the rest succeed
4. every message delivered twice: identical outputs, exact counts
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from retouch import pipeline
from retouch.cli.client import RetouchClient
from retouch.cli.files import content_type
from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from retouch.models import OperationSpec, OutputSpec
from tests.helpers import wait_until

OPS = [{"op": "contrast", "params": {"method": "clahe"}}, {"op": "thumbnail", "params": {"width": 320}}]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_samples(tmp_path_factory.mktemp("photos"), 50)


def submit(stack: EmbeddedStack, paths: list[Path], ops: list[dict] | None = None) -> tuple[RetouchClient, dict]:
    client = RetouchClient(stack.api_url, stack.token)
    job = client.create_job(
        [{"name": p.name, "content_type": content_type(p), "size": p.stat().st_size} for p in paths],
        ops or OPS,
        {"format": "jpeg", "quality": 85},
    )
    for upload, path in zip(job["uploads"], paths, strict=True):
        client.upload(upload, path, content_type(path))
    return client, job


def wait_complete(client: RetouchClient, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.job(job_id)
        if status["status"] == "complete":
            return status
        time.sleep(0.5)
    raise AssertionError(f"job not complete after {timeout} s: {json.dumps(client.job(job_id))[:2000]}")


def output_keys(stack: EmbeddedStack) -> list[str]:
    s3 = stack.client("s3")
    bucket = stack.model.buckets["ImagesBucket"]["BucketName"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="outputs/")
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_processing_down_uploads_wait_and_complete_when_workers_return(photos: list[Path], tmp_path: Path) -> None:
    with EmbeddedStack(workdir=tmp_path, paused={"ProcessFunction"}) as stack:
        client, job = submit(stack, photos)
        wait_until(lambda: stack.queue_depths()["RequestQueue"][0] == 50, 300, "50 requests waiting", stack.queue_depths)
        time.sleep(1.5)
        status = client.job(job["job_id"])
        assert (status["succeeded"], status["failed"], status["remaining"]) == (0, 0, 50)
        assert {i["status"] for i in status["images"]} == {"queued"}
        assert output_keys(stack) == []
        stack.resume("ProcessFunction")
        done = wait_complete(client, job["job_id"])
        assert (done["succeeded"], done["failed"]) == (50, 0)
        assert len(output_keys(stack)) == 50


def test_worker_killed_mid_batch_loses_nothing_and_counts_exactly(photos: list[Path], tmp_path: Path) -> None:
    overrides = {"RequestVisibilityTimeout": "6"}  # a killed worker's messages return quickly
    with EmbeddedStack(workdir=tmp_path, overrides=overrides, paused={"ProcessFunction"}) as stack:
        client, job = submit(stack, photos[:30], [{"op": "contrast", "params": {"method": "clahe"}}])
        wait_until(lambda: stack.queue_depths()["RequestQueue"][0] == 30, 300, "30 requests waiting", stack.queue_depths)
        stack.resume("ProcessFunction")
        wait_until(lambda: stack.queue_depths()["RequestQueue"][1] > 0, 300, "a batch in flight", stack.queue_depths)
        killed = stack.kill_worker("ProcessFunction")
        assert killed is not None
        done = wait_complete(client, job["job_id"])
        assert (done["succeeded"], done["failed"], done["remaining"]) == (30, 0, 0)
        keys = output_keys(stack)
        assert len(keys) == len(set(keys)) == 30


def test_poison_message_is_dead_lettered_and_its_image_failed(photos: list[Path], tmp_path: Path) -> None:
    overrides = {"RequestVisibilityTimeout": "2", "MaxReceiveCount": "2"}
    with EmbeddedStack(workdir=tmp_path, overrides=overrides, schedule_seconds=2) as stack:
        client = RetouchClient(stack.api_url, stack.token)
        paths = photos[:3]
        job = client.create_job(
            [{"name": p.name, "content_type": "image/jpeg", "size": p.stat().st_size} for p in paths], OPS, {"format": "jpeg"}
        )
        for upload, path in zip(job["uploads"][:2], paths[:2], strict=True):
            client.upload(upload, path, content_type(path))
        # the third image's request arrives corrupted: it fails on every delivery
        sqs = stack.client("sqs")
        poison = {"job_id": job["job_id"], "image_id": job["uploads"][2]["image_id"], "operations": "garbage"}
        sqs.send_message(QueueUrl=stack.queue_url("RequestQueue"), MessageBody=json.dumps(poison))
        done = wait_complete(client, job["job_id"], timeout=120)
        assert (done["succeeded"], done["failed"]) == (2, 1)
        failed = done["images"][2]
        assert failed["status"] == "failed" and failed["error"].startswith("gave up after 2 attempts")
        visible, hidden = stack.queue_depths()["RequestDLQ"]
        assert visible + hidden == 1  # kept for inspection and redrive (the sweeper only reads it)

        # operators see it with `retouch dlq list` and can replay it with `retouch dlq redrive`
        cli = [sys.executable, "-m", "retouch.cli.main", "dlq"]
        where = ["--queue", "requests", "--endpoint", stack.endpoint, "--stack-name", stack.stack_name]
        stack.pause("DeadLetterSweeperFunction:schedule")  # between sweeps the dead letter is visible
        wait_until(
            lambda: stack.queue_depths()["RequestDLQ"][0] == 1, 120, "the dead letter to be visible again", stack.queue_depths
        )
        listed = subprocess.run([*cli, "list", *where], capture_output=True, text=True, timeout=120, check=False)
        assert listed.returncode == 0 and job["job_id"] in listed.stdout and "1 dead-lettered message" in listed.stderr
        moved = subprocess.run([*cli, "redrive", *where], capture_output=True, text=True, timeout=120, check=False)
        assert moved.returncode == 0 and "1 message(s) redriven" in moved.stderr
        assert sum(stack.queue_depths()["RequestDLQ"]) == 0


def test_every_message_delivered_twice_gives_identical_outputs_and_exact_counts(photos: list[Path], tmp_path: Path) -> None:
    paths = photos[:20]
    with EmbeddedStack(workdir=tmp_path, duplicate_deliveries=True) as stack:
        client, job = submit(stack, paths)
        done = wait_complete(client, job["job_id"])
        assert (done["succeeded"], done["failed"], done["remaining"]) == (20, 0, 0)
        assert len(output_keys(stack)) == 20
        specs = tuple(OperationSpec.from_dict(o) for o in job["operations"])
        for image, path in zip(done["images"], paths, strict=True):
            served = client.plain.get(image["download_url"], timeout=30).content
            local = pipeline.render(path.read_bytes(), specs, OutputSpec("jpeg", 85), max_pixels=50_000_000, max_bytes=50 << 20)
            assert served == local.body, f"{path.name}: output differs from the deterministic render"
            assert Image.open(io.BytesIO(served)).size == (image["width"], image["height"])
