"""Crash isolation on the request queue: an image that crashes its worker fails alone.

A crash - out of memory, a timeout, a native abort - ends the whole invocation, so every message
of its batch comes back, and at the end of a job the same few messages are batched together
again and again: without care, innocent neighbours of the image that crashes reach
``MaxReceiveCount`` and are dead-lettered with it. So a batch in which any message was delivered
before is handled carefully:

* its images are rendered one at a time, each render marked on the image's item before it
  starts and unmarked when it ends, however it ended - only a crash leaves the mark;
* images without a crash mark go first, and each finished message is deleted at once (released
  from the lease), so a crash later in the batch cannot bring it back;
* an image whose renders crashed :data:`CRASHES_ALLOWED` times is failed with a plain reason
  instead of being rendered again.

A first delivery costs nothing of this (no marks, no reads).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from retouch.adapters.queue import VisibilityHeartbeat
from retouch.logic.deps import ProcessDeps
from retouch.models import ProcessRequest, ProcessResult
from retouch.observability import logger, metrics

CRASHES_ALLOWED = 2
"""Crashed renders of one image before it is failed (within the default ``MaxReceiveCount`` of 5:
a first crash in a batch, then two marked ones, then the failure)."""

CRASHED = (
    "This photo stopped the retouching worker each time it was processed (it may be damaged, or too "
    "large to process), so it was not retouched."
)

Handler = Callable[[SQSRecord, VisibilityHeartbeat | None], ProcessResult]


def redelivered(records: list[dict[str, Any]]) -> bool:
    return any(int(r.get("attributes", {}).get("ApproximateReceiveCount", "1")) > 1 for r in records)


def _image(record: dict[str, Any]) -> tuple[str, str] | None:
    try:
        request = ProcessRequest.from_json(record["body"])
    except Exception:  # noqa: BLE001 - a malformed body is the handler's to report
        return None
    return request.job_id, request.image_id


def careful(records: list[dict[str, Any]], handle: Handler, deps: ProcessDeps) -> tuple[list[dict[str, Any]], Handler]:
    """The batch's records in the order to render them (no crash mark first), and a handler that
    marks each render, fails an image that crashed too often, and deletes each finished message."""
    crashes = {}
    for record in records:
        image = _image(record)
        crashes[record["messageId"]] = deps.jobs.unfinished_renders(*image) if image else 0
    ordered = sorted(records, key=lambda r: crashes[r["messageId"]])  # (stable: otherwise as received)

    def handle_carefully(record: SQSRecord, heartbeat: VisibilityHeartbeat | None) -> ProcessResult:
        image = _image(record.raw_event)
        if image is None:
            return handle(record, heartbeat)
        job_id, image_id = image
        if crashes[record.message_id] >= CRASHES_ALLOWED:
            logger.error("image failed: its renders crashed the worker", extra={"job_id": job_id, "image_id": image_id})
            metrics.add_metric(name="ImagesCrashed", unit="Count", value=1)
            result = ProcessResult.failed(job_id, image_id, CRASHED)
            deps.responses.send(result.to_json())
            return result
        deps.jobs.mark_render(job_id, image_id, 1)
        try:
            result = handle(record, heartbeat)
        finally:
            deps.jobs.mark_render(job_id, image_id, -1)
        if heartbeat is not None:
            heartbeat.release(record.receipt_handle)
        deps.requests.delete(record.receipt_handle)  # done: a crash later in the batch cannot bring it back
        return result

    return ordered, handle_carefully
