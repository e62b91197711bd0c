"""sweeper: the scheduled settling of dead letters, so no job waits forever.

Its own function (``DeadLetterSweeperFunction``, on an EventBridge schedule) with its own
dependencies (:class:`~retouch.logic.deps.SweeperDeps`): the three dead-letter queues, and the
jobs and event publisher that recording a result needs (:mod:`retouch.logic.results`, as notify
records them).
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event

from retouch.errors import ValidationError
from retouch.keys import decode_event_key, parse_upload_key
from retouch.logic.deps import SweeperDeps
from retouch.logic.results import record
from retouch.models import ProcessRequest, ProcessResult, valid_image_id, valid_job_id
from retouch.observability import logger, metrics

SWEEP_VISIBILITY_SECONDS = 10


def sweep(deps: SweeperDeps) -> dict[str, int]:
    """The scheduled sweep: images whose messages were dead-lettered are settled."""
    return {"failed": sweep_dead_letters(deps)}


def sweep_dead_letters(deps: SweeperDeps, max_messages: int = 500) -> int:
    """Settle the images whose messages were dead-lettered, so no job waits forever.

    * ``requests``: processing failed ``maxReceiveCount`` times - including crashes (a worker
      killed mid-image, a timeout, out of memory) that never reported anything. The image is
      failed with "gave up after N attempts" (``gave_up``: a redrive may still succeed). The
      messages stay in the DLQ for inspection and ``retouch dlq redrive``.
    * ``responses``: a result that notify could not record N times. It is a real result, so it
      is recorded now and then deleted (nothing is lost: it has been applied).
    * ``upload-events``: an upload that enqueue could not queue N times; its image is failed
      (gave up), the event stays for redrive.

    Recording is idempotent, so sweeping the same messages again changes nothing; each run hides
    what it read for a few seconds and skips what it has seen. Returns how many images it settled.
    """
    settled = seen = 0
    attempts = deps.settings.max_receive_count
    for name, queue in deps.dead_letters.items():
        count = 0
        seen_ids: set[str] = set()
        while count < max_messages:
            # hidden only briefly, so `retouch dlq list` sees them again between sweeps
            batch = [m for m in queue.receive(10, visibility_timeout=SWEEP_VISIBILITY_SECONDS) if m["MessageId"] not in seen_ids]
            if not batch:
                break
            count += len(batch)
            for message in batch:
                seen_ids.add(message["MessageId"])
                result = _dead_letter_result(name, message["Body"], attempts, deps)
                if result is None:
                    logger.error(
                        "unreadable dead letter",
                        extra={"queue": name, "message_id": message["MessageId"], "body": message["Body"][:2000]},
                    )
                    continue
                if record(result, deps.jobs, deps.publisher):
                    settled += 1
                    logger.warning(
                        "dead letter settled",
                        extra={
                            "queue": name,
                            "job_id": result.job_id,
                            "image_id": result.image_id,
                            "status": result.status.value,
                        },
                    )
                if name == "responses":
                    queue.delete(message["ReceiptHandle"])
        seen += count
    metrics.add_metric(name="DeadLettersSwept", unit="Count", value=seen)
    return settled


def _dead_letter_result(queue: str, body: str, attempts: int, deps: SweeperDeps) -> ProcessResult | None:
    if queue == "responses":
        try:
            return ProcessResult.from_json(body)
        except ValidationError:
            return None
    if queue == "upload-events":
        ref = dead_upload_ref(body, deps.settings.uploads_prefix)
        if ref is None:
            return None
        return ProcessResult.given_up(ref[0], ref[1], attempts, "the upload could not be queued")
    ids = dead_letter_ids(body)
    if ids is None:
        return None
    return ProcessResult.given_up(ids[0], ids[1], attempts, "processing never completed (the worker crashed or timed out)")


def dead_upload_ref(body: str, uploads_prefix: str) -> tuple[str, str] | None:
    """The job and image of a dead-lettered S3 event (the first of its records that is ours)."""
    try:
        keys_ = [decode_event_key(r.s3.get_object.key) for r in S3Event(json.loads(body)).records]
    except (ValueError, AttributeError, KeyError, TypeError):
        return None
    for key in keys_:
        ref = parse_upload_key(key, uploads_prefix)
        if ref is not None:
            return ref.job_id, ref.image_id
    return None


def dead_letter_ids(body: str) -> tuple[str, str] | None:
    """The job and image a dead-lettered request names, even if the rest of it is unreadable
    (a message that failed to parse every time is exactly what ends up here)."""
    try:
        request = ProcessRequest.from_json(body)
        return request.job_id, request.image_id
    except ValidationError:
        pass
    try:
        raw = json.loads(body)
    except ValueError:
        return None
    if isinstance(raw, dict) and valid_job_id(str(raw.get("job_id"))) and valid_image_id(str(raw.get("image_id"))):
        return str(raw["job_id"]), str(raw["image_id"])
    return None
