"""An image that crashes its worker fails alone (logic/crashes.py): on a redelivered batch the
images are rendered one at a time, those without a crash mark first, each finished message
deleted at once; an image whose renders crashed twice is failed with a plain reason."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.process import app as process_app
from retouch.local.events import sqs_event
from retouch.logic import crashes, deps
from retouch.logic import process as process_logic
from retouch.models import ImageStatus, ProcessResult
from tests.conftest import Aws
from tests.helpers import context, create_job
from tests.unit.test_handlers import IMAGE, THUMB, _enqueue


def _batch(aws: Aws, astronaut_jpeg: bytes, receive_count: int) -> tuple[str, list[dict[str, Any]]]:
    job = create_job([IMAGE] * 4, THUMB)
    _enqueue(aws, job, [astronaut_jpeg] * 4)
    messages = sorted(aws.drain("RequestQueue", 4), key=lambda m: m["Body"])
    for m in messages:
        m["Attributes"] = {"ApproximateReceiveCount": str(receive_count)}
    return job["job_id"], messages


def _rendered_in_order(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    order: list[str] = []
    real = process_logic.process_message

    def recording(body: str, *args: Any, **kwargs: Any) -> ProcessResult:
        result = real(body, *args, **kwargs)
        order.append(result.image_id)
        return result

    monkeypatch.setattr(process_logic, "process_message", recording)
    return order


def _in_flight(aws: Aws) -> int:
    attrs = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url("RequestQueue"), AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessagesNotVisible"]) + int(attrs["ApproximateNumberOfMessages"])


def test_a_redelivered_batch_fails_the_image_that_crashed_and_renders_the_rest_first(
    aws: Aws, astronaut_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, messages = _batch(aws, astronaut_jpeg, receive_count=3)
    jobs = deps.process_deps().jobs
    for _ in range(crashes.CRASHES_ALLOWED):  # i0000 crashed its worker twice
        jobs.mark_render(job_id, "i0000", 1)
    jobs.mark_render(job_id, "i0001", 1)  # i0001 once
    order = _rendered_in_order(monkeypatch)
    response = process_app.lambda_handler(sqs_event(messages, aws.queue_arn("RequestQueue")), context())
    assert response == {"batchItemFailures": []}
    assert order == ["i0002", "i0003", "i0001"]  # the suspect last, the twice-crashed not at all
    results = {r.image_id: r for r in (ProcessResult.from_json(m["Body"]) for m in aws.drain("ResponseQueue", 4))}
    assert results["i0000"].status is ImageStatus.FAILED and results["i0000"].error == crashes.CRASHED
    assert all(results[i].status is ImageStatus.SUCCEEDED for i in ("i0001", "i0002", "i0003"))
    # each rendered message was deleted as soon as it was done (the failed one is left for the
    # event source mapping to delete when the batch returns)
    assert _in_flight(aws) == 1
    # a render that ended, however it ended, leaves no mark
    assert [jobs.unfinished_renders(job_id, f"i000{n}") for n in range(4)] == [2, 1, 0, 0]


def test_a_render_that_raises_is_not_counted_as_a_crash(aws: Aws, astronaut_jpeg: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from retouch.errors import TransientError

    job_id, messages = _batch(aws, astronaut_jpeg, receive_count=2)

    def throttled(*args: Any, **kwargs: Any) -> bytes:
        raise TransientError("S3 get: SlowDown")

    monkeypatch.setattr(deps.process_deps().store, "read", throttled)
    with pytest.raises(BatchProcessingError):  # (every record failed: Lambda retries the batch)
        process_app.lambda_handler(sqs_event(messages[:1], aws.queue_arn("RequestQueue")), context())
    assert deps.process_deps().jobs.unfinished_renders(job_id, "i0000") == 0


def test_a_first_delivery_reads_and_writes_no_marks(aws: Aws, astronaut_jpeg: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    _, messages = _batch(aws, astronaut_jpeg, receive_count=1)

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a first delivery touched the crash marks")

    monkeypatch.setattr(deps.process_deps().jobs, "unfinished_renders", forbidden)
    monkeypatch.setattr(deps.process_deps().jobs, "mark_render", forbidden)
    response = process_app.lambda_handler(sqs_event(messages, aws.queue_arn("RequestQueue")), context())
    assert response == {"batchItemFailures": []}
    assert _in_flight(aws) == 4  # deleted by the event source mapping after the batch, not before
