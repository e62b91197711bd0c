"""Cancelling a job (its unrendered images are dropped when they come up) and deleting it (its
originals, outputs and records go for good)."""

from __future__ import annotations

from functions.process import app as process_app
from retouch.models import CANCELLED, ImageStatus, ProcessResult
from tests.conftest import Aws
from tests.helpers import call_api, create_job, job_status, run_consumer
from tests.unit.test_handlers import IMAGE, THUMB, _enqueue
from tests.unit.test_handlers import upload_key as upload_key_of


def cancel(job_id: str, sub: str = "alice") -> tuple[int, dict]:
    return call_api("POST", f"/jobs/{job_id}/cancel", route="/jobs/{job_id}/cancel", params={"job_id": job_id}, sub=sub)


def delete(job_id: str, sub: str = "alice") -> tuple[int, dict]:
    return call_api("DELETE", f"/jobs/{job_id}", route="/jobs/{job_id}", params={"job_id": job_id}, sub=sub)


def outputs(aws: Aws) -> list[str]:
    return [o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="outputs/").get("Contents", [])]


def test_cancel_drops_the_images_not_rendered_and_completes_the_job_as_cancelled(aws: Aws, astronaut_jpeg: bytes) -> None:
    job = create_job([IMAGE] * 3, THUMB)
    job_id = job["job_id"]
    _enqueue(aws, job, [astronaut_jpeg] * 3)
    status, body = cancel(job_id)
    assert status == 200, body
    assert body["status"] == "complete" and body["cancelled_at"] and (body["succeeded"], body["failed"]) == (0, 3)
    assert {i["error"] for i in body["images"]} == {CANCELLED}
    # the three requests still on the queue come up: none is rendered
    assert run_consumer(aws, "RequestQueue", process_app.lambda_handler, 3) == {"batchItemFailures": []}
    assert outputs(aws) == []
    results = [ProcessResult.from_json(m["Body"]) for m in aws.drain("ResponseQueue", 3)]
    assert all(r.status is ImageStatus.FAILED and r.error == CANCELLED for r in results)
    _, events = call_api("GET", f"/jobs/{job_id}/events", route="/jobs/{job_id}/events", params={"job_id": job_id})
    assert [e["type"] for e in events["events"]] == ["image"] * 3 + ["job"]
    assert events["events"][-1]["cancelled"] is True
    assert cancel(job_id)[0] == 200  # again: nothing changes
    assert job_status(job_id)[1]["failed"] == 3


def test_cancel_and_delete_of_another_users_job_are_404s(aws: Aws) -> None:
    job = create_job([IMAGE], THUMB)
    assert cancel(job["job_id"], sub="bob")[0] == 404
    assert delete(job["job_id"], sub="bob")[0] == 404
    assert job_status(job["job_id"])[1]["status"] == "running"


def test_delete_removes_originals_outputs_and_every_item_for_good(aws: Aws, astronaut_jpeg: bytes) -> None:
    job = create_job([IMAGE, IMAGE], THUMB)
    job_id = job["job_id"]
    _enqueue(aws, job, [astronaut_jpeg] * 2)
    run_consumer(aws, "RequestQueue", process_app.lambda_handler, 2)
    assert len(outputs(aws)) == 2
    kept = create_job([IMAGE], THUMB)  # another job of the same user stays
    status, _ = delete(job_id)
    assert status == 204
    assert outputs(aws) == []
    uploads = aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="uploads/").get("Contents", [])
    assert all(job_id not in o["Key"] for o in uploads) and upload_key_of(job) not in {o["Key"] for o in uploads}
    table = next(iter(aws.ddb.list_tables()["TableNames"]))
    items = aws.ddb.scan(TableName=table)["Items"]
    assert not [i for i in items if job_id in i["pk"]["S"]]
    assert job_status(job_id)[0] == 404 and job_status(kept["job_id"])[0] == 200
    # the results still on the response queue come up later: they find no job and count nothing
    from functions.notify import app as notify_app

    run_consumer(aws, "ResponseQueue", notify_app.lambda_handler, 2)
    assert not [i for i in aws.ddb.scan(TableName=table)["Items"] if job_id in i["pk"]["S"]]
