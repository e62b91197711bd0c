"""Cancel and delete on the embedded stack: a 40-image job cancelled midway renders nothing
after the cancel (counted from the process function's log) and ends cancelled; deleting it
leaves no object under its keys and no item in the table."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import requests

from retouch.cli.client import RetouchClient
from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from retouch.models import CANCELLED
from tests.helpers import wait_until

OPS = [{"op": "contrast", "params": {}}, {"op": "thumbnail", "params": {"width": 640}}]


def render_starts(stack: EmbeddedStack, job_id: str) -> list[float]:
    """When each render of the job began: the "image processed" line's time less its duration."""
    starts = []
    for line in (stack.logs / "ProcessFunction.log").read_text().splitlines():
        if '"image processed"' in line and job_id in line:
            entry = json.loads(line[line.index("{") :])
            at = datetime.strptime(entry["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
            starts.append(at - entry["duration_ms"] / 1000)
    return starts


def test_cancel_midway_renders_nothing_after_it_and_delete_leaves_nothing(tmp_path: Path) -> None:
    photos = write_samples(tmp_path / "photos", 40)
    with EmbeddedStack(workdir=tmp_path / "stack", max_workers=1) as stack:
        client = RetouchClient(stack.api_url, stack.token)
        images = [{"name": p.name, "content_type": "image/jpeg", "size": p.stat().st_size} for p in photos]
        job = client.create_job(images, OPS, {"format": "jpeg"})
        job_id = job["job_id"]
        for upload, path in zip(job["uploads"], photos, strict=True):
            client.upload(upload, path, "image/jpeg")
        wait_until(lambda: client.job(job_id)["succeeded"] >= 3, 300, "a few images to be done", lambda: client.job(job_id))
        headers = {"Authorization": f"Bearer {stack.token}"}
        cancelled = requests.post(f"{stack.api_url}/jobs/{job_id}/cancel", headers=headers, timeout=60)
        answered = datetime.now().timestamp()
        assert cancelled.status_code == 200, cancelled.text
        status = cancelled.json()
        assert status["status"] == "complete" and status["cancelled_at"]
        assert 0 < status["succeeded"] < 40 and status["succeeded"] + status["failed"] == 40
        dropped = [i for i in status["images"] if i["status"] == "failed"]
        assert dropped and all(i["error"] == CANCELLED for i in dropped)
        drained = lambda: not any(sum(d) for d in stack.queue_depths().values())  # noqa: E731
        wait_until(drained, 300, "the dropped requests to come up and go", stack.queue_depths)
        starts = render_starts(stack, job_id)
        assert [s for s in starts if s > answered] == []  # nothing began after the cancel was answered
        assert len(starts) >= status["succeeded"]
        final = client.job(job_id)
        assert (final["succeeded"], final["failed"]) == (status["succeeded"], status["failed"])  # nothing more counted
        assert client.events(job_id)[-1] | {"at": None} == {
            "type": "job", "job_id": job_id, "seq": 41, "status": "complete", "total": 40,
            "succeeded": status["succeeded"], "failed": status["failed"], "cancelled": True, "at": None,
        }  # fmt: skip

        deleted = requests.delete(f"{stack.api_url}/jobs/{job_id}", headers=headers, timeout=60)
        assert deleted.status_code == 204, deleted.text
        s3 = stack.client("s3")
        bucket = stack.model.buckets["ImagesBucket"]["BucketName"]
        keys = [
            o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page.get("Contents", [])
        ]
        assert [k for k in keys if job_id in k] == []
        ddb = stack.client("dynamodb")
        table = next(iter(stack.model.tables.values()))["TableName"]
        items = [i for page in ddb.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
        assert [i for i in items if job_id in json.dumps(i)] == []
        assert requests.get(f"{stack.api_url}/jobs/{job_id}", headers=headers, timeout=60).status_code == 404


def test_the_cli_cancels_and_deletes_a_job(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    with EmbeddedStack(workdir=tmp_path / "stack") as stack:
        client = RetouchClient(stack.api_url, stack.token)
        job = client.create_job([{"name": f"p{n}.jpg", "content_type": "image/jpeg", "size": 1000} for n in range(3)], OPS, {})
        api = ["--api", stack.api_url, "--token", stack.token]
        cancelled = run_cli("cancel", job["job_id"], *api)
        assert cancelled.returncode == 0, cancelled.stderr
        assert "3 photos will not be processed" in cancelled.stderr  # (messages go to stderr, data to stdout)
        again = run_cli("cancel", job["job_id"], *api)  # (idempotent: the same answer)
        assert again.returncode == 0 and "3 photos will not be processed" in again.stderr
        refused = run_cli("delete", job["job_id"], *api)
        assert refused.returncode == 2 and "--yes" in refused.stderr
        deleted = run_cli("delete", job["job_id"], "--yes", *api)
        assert deleted.returncode == 0 and "gone from the service" in deleted.stderr, deleted.stderr
        listed = run_cli("jobs", "--json", *api)
        assert job["job_id"] not in listed.stdout and json.loads(listed.stdout) == {"jobs": []}
