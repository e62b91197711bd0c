"""Exactly-once counting under at-least-once delivery, against a moto server over HTTP."""

from __future__ import annotations

import concurrent.futures
import random

from retouch.logic import deps
from retouch.logic.results import record
from retouch.models import ProcessResult
from tests.conftest import Aws
from tests.helpers import create_job, job_status

IMAGE = {"name": "a.jpg", "content_type": "image/jpeg", "size": 10}


def test_counting_is_exact_under_concurrent_duplicates_and_disorder(aws_server: Aws) -> None:
    job = create_job([IMAGE] * 30, [{"op": "thumbnail", "params": {"width": 5}}])
    repo, publisher = deps.notify_deps().jobs, deps.notify_deps().publisher
    results = []
    for n in range(30):
        image_id = f"i{n:04d}"
        if n % 3 == 0:  # permanent failure, with a late success that must be ignored
            results += [ProcessResult.failed(job["job_id"], image_id, "corrupt")] * 3
            results += [ProcessResult.succeeded(job["job_id"], image_id, output_key="o", width=1, height=1, bytes=1)]
        else:
            results += [ProcessResult.succeeded(job["job_id"], image_id, output_key="o", width=1, height=1, bytes=1)] * 4
    random.Random(3).shuffle(results)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        counted = sum(bool(r) for r in pool.map(lambda r: record(r, repo, publisher), results))
    _, body = job_status(job["job_id"])
    # whichever result of an image was recorded first decides it (concurrent recordings race), and
    # every image is counted exactly once, in the counters and in the events
    statuses = {i["image_id"]: i["status"] for i in body["images"]}
    succeeded = sum(1 for s in statuses.values() if s == "succeeded")
    assert counted == 30
    assert (body["succeeded"], body["failed"], body["remaining"], body["status"]) == (succeeded, 30 - succeeded, 0, "complete")
    assert all(statuses[f"i{n:04d}"] == "succeeded" for n in range(30) if n % 3)  # nothing else was ever sent for them
    # one event per counted result plus the completion, numbered 1..31 without gap or repeat,
    # each image's event saying what was recorded for it
    events = repo.events_after(job["job_id"], 0)
    assert [e["seq"] for e in events] == list(range(1, 32))
    assert [e["type"] for e in events] == ["image"] * 30 + ["job"]
    assert sorted(e["image_id"] for e in events[:30]) == [f"i{n:04d}" for n in range(30)]
    assert all(e["status"] == statuses[e["image_id"]] and e["name"] == "a.jpg" for e in events[:30])
    assert events[-1] | {"at": None} == {
        "type": "job",
        "job_id": job["job_id"],
        "seq": 31,
        "status": "complete",
        "total": 30,
        "succeeded": succeeded,
        "failed": 30 - succeeded,
        "at": None,
    }


def test_counting_lets_a_redriven_image_succeed_after_giving_up(aws_server: Aws) -> None:
    job = create_job([IMAGE, IMAGE], [{"op": "thumbnail", "params": {"width": 5}}])
    repo, publisher = deps.notify_deps().jobs, deps.notify_deps().publisher
    record(ProcessResult.succeeded(job["job_id"], "i0000", output_key="o", width=1, height=1, bytes=1), repo, publisher)
    assert record(ProcessResult.failed(job["job_id"], "i0001", "gave up after 5 attempts", gave_up=True), repo, publisher)
    _, body = job_status(job["job_id"])
    assert (body["succeeded"], body["failed"], body["status"]) == (1, 1, "complete")
    late = ProcessResult.succeeded(job["job_id"], "i0001", output_key="o2", width=2, height=2, bytes=2)
    assert record(late, repo, publisher) and not record(late, repo, publisher)
    _, body = job_status(job["job_id"])
    assert (body["succeeded"], body["failed"], body["remaining"]) == (2, 0, 0)
    assert "error" not in body["images"][1] and body["images"][1]["width"] == 2
