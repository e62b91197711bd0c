"""Exactly-once counting under at-least-once delivery, against a moto server over HTTP."""

from __future__ import annotations

import concurrent.futures
import random

from retouch.logic import deps
from retouch.logic.results import record
from retouch.models import ImageStatus, ProcessResult
from tests.conftest import Aws
from tests.helpers import create_job, job_status

IMAGE = {"name": "a.jpg", "content_type": "image/jpeg", "size": 10}


def test_counting_is_exact_under_concurrent_duplicates_and_disorder(aws_server: Aws) -> None:
    job = create_job([IMAGE] * 30, [{"op": "thumbnail", "params": {"width": 5}}])
    repo, webhooks = deps.notify_deps().jobs, deps.notify_deps().webhooks
    results = []
    for n in range(30):
        image_id = f"i{n:04d}"
        if n % 3 == 0:  # permanent failure, with a late success that must be ignored
            results += [ProcessResult.failed(job["job_id"], image_id, "corrupt")] * 3
            results += [ProcessResult(job["job_id"], image_id, ImageStatus.SUCCEEDED, output_key="o", width=1, height=1, bytes=1)]
        else:
            results += [
                ProcessResult(job["job_id"], image_id, ImageStatus.SUCCEEDED, output_key="o", width=1, height=1, bytes=1)
            ] * 4
    random.Random(3).shuffle(results)
    order = {}
    for r in results:  # the first result of each image decides, in this shuffled order
        order.setdefault(r.image_id, r.status)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        counted = sum(bool(r) for r in pool.map(lambda r: record(r, repo, webhooks), results))
    _, body = job_status(job["job_id"])
    expected_succeeded = sum(1 for s in order.values() if s is ImageStatus.SUCCEEDED)
    assert counted == 30
    assert (body["succeeded"], body["failed"], body["remaining"], body["status"]) == (
        expected_succeeded,
        30 - expected_succeeded,
        0,
        "complete",
    )
    assert [i["status"] for i in body["images"]] == [order[f"i{n:04d}"].value for n in range(30)]


def test_counting_lets_a_redriven_image_succeed_after_giving_up(aws_server: Aws) -> None:
    job = create_job([IMAGE, IMAGE], [{"op": "thumbnail", "params": {"width": 5}}])
    repo, webhooks = deps.notify_deps().jobs, deps.notify_deps().webhooks
    record(
        ProcessResult(job["job_id"], "i0000", ImageStatus.SUCCEEDED, output_key="o", width=1, height=1, bytes=1), repo, webhooks
    )
    assert record(ProcessResult.failed(job["job_id"], "i0001", "gave up after 5 attempts", gave_up=True), repo, webhooks)
    _, body = job_status(job["job_id"])
    assert (body["succeeded"], body["failed"], body["status"]) == (1, 1, "complete")
    late = ProcessResult(job["job_id"], "i0001", ImageStatus.SUCCEEDED, output_key="o2", width=2, height=2, bytes=2)
    assert record(late, repo, webhooks) and not record(late, repo, webhooks)
    _, body = job_status(job["job_id"])
    assert (body["succeeded"], body["failed"], body["remaining"]) == (2, 0, 0)
    assert "error" not in body["images"][1] and body["images"][1]["width"] == 2
