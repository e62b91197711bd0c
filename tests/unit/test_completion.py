"""Completion that cannot be lost: the job completes in the same transaction that counts its
last result, and a redelivered result pushes the events its first recording stored again."""

from __future__ import annotations

import json

import pytest

from retouch import faults
from retouch.adapters.queue import MessageQueue, VisibilityHeartbeat
from retouch.logic import deps
from retouch.logic.results import count, record
from retouch.models import ProcessResult
from tests.conftest import Aws
from tests.helpers import create_job, job_status

IMAGE = {"name": "a.jpg", "content_type": "image/jpeg", "size": 1000}
THUMB = [{"op": "thumbnail", "params": {"width": 64}}]


def ok(job_id: str, image_id: str) -> ProcessResult:
    return ProcessResult.succeeded(job_id, image_id, output_key="o", width=1, height=1, bytes=1)


def test_record_completes_the_job_in_the_counting_write(aws: Aws) -> None:
    job = create_job([IMAGE, IMAGE], THUMB)
    notify = deps.notify_deps()
    first = record(ok(job["job_id"], "i0000"), notify.jobs, notify.publisher)
    assert first.counted and not first.completed and first.stored == [(1, "image")]
    # the last result: counted and completed by one write, with its event and the job's
    last = count(notify.jobs, [ok(job["job_id"], "i0001")])[0]
    assert last.counted and last.completed and last.stored == [(2, "image"), (3, "job")]
    _, body = job_status(job["job_id"])
    assert (body["status"], body["succeeded"], body["failed"], body["remaining"]) == ("complete", 2, 0, 0)


def test_a_redelivered_result_counts_nothing_and_pushes_its_events_again(aws: Aws) -> None:
    job = create_job([IMAGE], THUMB)
    notify = deps.notify_deps()
    # the first delivery counted (and completed) the job, then its worker died before pushing
    assert count(notify.jobs, [ok(job["job_id"], "i0000")])[0].completed
    assert aws.receive("EventsQueue") == []
    again = record(ok(job["job_id"], "i0000"), notify.jobs, notify.publisher)
    assert not again.counted and again.stored == [(1, "image"), (2, "job")]
    signals = [json.loads(m["Body"]) for m in aws.receive("EventsQueue")]
    assert signals == [{"after": 0, "connection_id": "", "job_id": job["job_id"], "kind": "event", "seq": 2}]
    assert [e["seq"] for e in notify.jobs.events_after(job["job_id"], 0)] == [1, 2]  # nothing stored twice


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


def test_a_batch_of_results_is_counted_per_job_in_one_transaction(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten results of one job and one of another, a repeated result among them, and a job whose
    recording fails: one transaction per job, the repeat counted as a duplicate, and only the
    failing job's records reported failed."""
    from functions.notify import app as notify_app
    from tests.helpers import run_consumer

    big, small, broken = create_job([IMAGE] * 10, THUMB), create_job([IMAGE], THUMB), create_job([IMAGE], THUMB)
    url = aws.queue_url("ResponseQueue")
    bodies = [ok(big["job_id"], f"i{n:04d}").to_json() for n in range(10)]
    bodies += [
        ok(big["job_id"], "i0003").to_json(),
        ok(small["job_id"], "i0000").to_json(),
        ok(broken["job_id"], "i0000").to_json(),
    ]
    for body in bodies:
        aws.sqs.send_message(QueueUrl=url, MessageBody=body)

    notify = deps.notify_deps()
    transactions: list[int] = []
    original = notify.jobs.ddb.transact_write_items

    def counting(**kwargs: object) -> object:
        items = kwargs["TransactItems"]
        assert isinstance(items, list)
        if any(broken["job_id"] in json.dumps(i) for i in items):
            raise RuntimeError("DynamoDB is down for this job")
        transactions.append(len(items))
        return original(**kwargs)

    monkeypatch.setattr(notify.jobs.ddb, "transact_write_items", counting)
    response = run_consumer(aws, "ResponseQueue", notify_app.lambda_handler, len(bodies), timeout=30)

    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert len(failed) == 1  # the broken job's record, and only it
    # 10 results of one job: 10 image updates + the job + its slot + 11 events; the repeat is a duplicate
    assert sorted(transactions) == [5, 23]
    for job, total in ((big, 10), (small, 1)):
        _, body = job_status(job["job_id"])
        assert (body["status"], body["succeeded"], body["remaining"]) == ("complete", total, 0)
        assert [e["seq"] for e in notify.jobs.events_after(job["job_id"], 0)] == list(range(1, total + 2))
    _, body = job_status(broken["job_id"])
    assert (body["status"], body["remaining"]) == ("running", 1)
