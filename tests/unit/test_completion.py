"""Completion that cannot be lost: a worker that dies between counting a job's last result and
completing the job leaves the completion to the redelivery, or else to the sweeper."""

from __future__ import annotations

import pytest

from retouch import faults
from retouch.adapters.jobs import JobRepository
from retouch.adapters.queue import MessageQueue, VisibilityHeartbeat
from retouch.logic import deps
from retouch.logic.notify import settle_open_jobs
from retouch.logic.results import record
from retouch.models import ImageStatus, ProcessResult
from tests.conftest import Aws
from tests.helpers import create_job, job_status

IMAGE = {"name": "a.jpg", "content_type": "image/jpeg", "size": 1000}
THUMB = [{"op": "thumbnail", "params": {"width": 64}}]


def ok(job_id: str, image_id: str) -> ProcessResult:
    return ProcessResult(job_id, image_id, ImageStatus.SUCCEEDED, output_key="o", width=1, height=1, bytes=1)


def test_record_redelivered_after_a_crash_before_completion_completes_the_job(aws: Aws) -> None:
    job = create_job([IMAGE, IMAGE], THUMB)
    repo: JobRepository = deps.notify_deps().jobs
    webhooks = deps.notify_deps().webhooks
    first = record(ok(job["job_id"], "i0000"), repo, webhooks)
    assert first.counted and not first.completed
    assert not record(ok(job["job_id"], "i0000"), repo, webhooks)  # a duplicate counts nothing
    # the last image's first delivery: counted, then the worker died before completing
    assert repo.count_result(ok(job["job_id"], "i0001"))
    assert job_status(job["job_id"])[1]["status"] == "running"
    # its redelivery is a duplicate - and completes the job
    again = record(ok(job["job_id"], "i0001"), repo, webhooks)
    assert not again.counted and again.completed
    _, body = job_status(job["job_id"])
    assert (body["status"], body["succeeded"], body["failed"], body["remaining"]) == ("complete", 2, 0, 0)


def test_sweeper_completes_open_jobs_with_nothing_remaining_and_only_those(aws: Aws) -> None:
    notify = deps.notify_deps()
    stuck, busy, done = (create_job([IMAGE], THUMB) for _ in range(3))
    assert notify.jobs.count_result(ok(stuck["job_id"], "i0000"))  # completion lost with its worker
    assert record(ok(done["job_id"], "i0000"), notify.jobs, notify.webhooks).completed
    assert sorted(notify.jobs.open_job_ids()) == sorted([stuck["job_id"], busy["job_id"]])
    assert settle_open_jobs(notify) == 1
    assert settle_open_jobs(notify) == 0  # idempotent
    assert job_status(stuck["job_id"])[1]["status"] == "complete"
    assert job_status(busy["job_id"])[1]["status"] == "running"
    assert notify.jobs.open_job_ids() == [busy["job_id"]]


def test_fault_point_fires_once_for_its_job_only(tmp_path, monkeypatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(faults.os, "_exit", lambda code: exits.append(code))
    monkeypatch.setenv(faults.FAULT_DIR_ENV, str(tmp_path))
    faults.arm(tmp_path, "process.after_output", "j-1")
    faults.point("process.after_output", "j-2")
    faults.point("process.after_result", "j-1")
    assert exits == []
    faults.point("process.after_output", "j-1")
    faults.point("process.after_output", "j-1")
    assert exits == [faults.CRASH_EXIT_CODE] and faults.armed(tmp_path) == []
    with pytest.raises(ValueError, match="unknown fault point"):
        faults.arm(tmp_path, "nowhere")
    monkeypatch.delenv(faults.FAULT_DIR_ENV)
    faults.arm(tmp_path, "process.after_output")
    faults.point("process.after_output")  # not enabled in this process: nothing happens
    assert exits == [faults.CRASH_EXIT_CODE]


def test_heartbeat_leases_a_batch_for_a_short_time_from_the_start(aws: Aws) -> None:
    url = aws.queue_url("RequestQueue")
    aws.sqs.send_message(QueueUrl=url, MessageBody="a")
    message = aws.receive("RequestQueue")[0]  # hidden for the queue's long visibility timeout
    queue = MessageQueue(aws.sqs, url)
    with VisibilityHeartbeat(queue, [message["ReceiptHandle"]], seconds=1, every=3600):
        pass  # the worker "dies" with only the first beat done: the lease is 1 s, not 720 s
    again = aws.receive("RequestQueue", wait=3)
    assert [m["Body"] for m in again] == ["a"]
