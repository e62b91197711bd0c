"""notify: record each result on its job, once (completing the job when nothing remains), and
hand its events to the push paths."""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.adapters.jobs import Counted
from retouch.errors import InvalidParameters
from retouch.keys import decode_event_key, parse_upload_key
from retouch.logic.batch import leased_batch
from retouch.logic.deps import NotifyDeps
from retouch.logic.results import record, record_job
from retouch.models import (
    ImageStatus,
    JobStatus,
    ProcessRequest,
    ProcessResult,
    UploadDeadline,
    parse_response,
    valid_image_id,
    valid_job_id,
)
from retouch.observability import logger, metrics


def notify_batch(event: dict[str, Any], context: LambdaContext, deps: NotifyDeps) -> PartialItemFailureResponse:
    """One batch of responses, leased while it works; failures reported per record.

    The batch's results are recorded per job first (:func:`record_results`: one read and one
    transaction per job, not per result); each record then reports its own outcome.
    """
    recorded: dict[str, tuple[ProcessResult, Counted] | Exception] = {}

    def handle(record_: SQSRecord, _: object) -> bool:
        outcome = recorded.get(record_.message_id)
        if outcome is None:  # an upload deadline, or a message that did not parse (it raises again)
            return record_message(record_.body, deps)
        if isinstance(outcome, Exception):
            raise outcome
        return _reported(*outcome)

    return leased_batch(
        event,
        context,
        deps.responses,
        deps.settings.visibility_lease_seconds,
        handle,
        prepare=lambda records: recorded.update(record_results(records, deps)),
    )


def record_results(records: list[SQSRecord], deps: NotifyDeps) -> dict[str, tuple[ProcessResult, Counted] | Exception]:
    """Record the results among ``records`` job by job. Returns, by message id, the result and
    what counting did, or the error that stopped its job's recording (raised again for each of
    that job's records, so each is retried). Deadlines and unreadable messages are left out."""
    by_job: dict[str, list[tuple[str, ProcessResult]]] = {}
    for r in records:
        try:
            message = parse_response(r.body)
        except InvalidParameters:
            continue
        if not isinstance(message, UploadDeadline):
            by_job.setdefault(message.job_id, []).append((r.message_id, message))
    out: dict[str, tuple[ProcessResult, Counted] | Exception] = {}
    for job_id, items in by_job.items():
        try:
            counted = record_job(job_id, [result for _, result in items], deps.jobs, deps.publisher)
        except Exception as exc:  # noqa: BLE001 - raised again by each of the job's records
            out |= {message_id: exc for message_id, _ in items}
            continue
        out |= {message_id: (result, c) for (message_id, result), c in zip(items, counted, strict=True)}
    return out


def record_message(body: str, deps: NotifyDeps) -> bool:
    """Record one response message. Returns False for a duplicate (nothing counted).

    A malformed message raises, so it is retried and finally dead-lettered for inspection.
    """
    message = parse_response(body)
    if isinstance(message, UploadDeadline):
        return fail_missing_uploads(message, deps) > 0
    return _reported(message, record(message, deps.jobs, deps.publisher))


def _reported(result: ProcessResult, recorded: Counted) -> bool:
    log = {"job_id": result.job_id, "image_id": result.image_id, "status": result.status.value}
    if recorded:
        logger.info("result recorded", extra=log)
        metrics.add_metric(name="ResultsRecorded", unit="Count", value=1)
    else:
        logger.info("duplicate or late result ignored", extra=log)
        metrics.add_metric(name="ResultsDuplicate", unit="Count", value=1)
    return recorded.counted


def fail_missing_uploads(deadline: UploadDeadline, deps: NotifyDeps) -> int:
    """When a job's upload deadline is due, fail its images that never arrived.

    SQS delays are at most 15 minutes, so a deadline that arrives early is sent again with the
    remaining delay. Returns the number of images failed.
    """
    remaining = deadline.not_before - time.time()
    if remaining > 1:
        deps.responses.send(deadline.to_json(), delay_seconds=int(remaining) + 1)
        return 0
    job = deps.jobs.get(deadline.job_id)
    if job is None or job.status is JobStatus.COMPLETE:
        return 0
    failed = 0
    for image in job.images:
        if image.status is ImageStatus.PENDING:
            result = ProcessResult.failed(
                job.job_id, image.image_id, "the image was never uploaded before its upload URL expired"
            )
            failed += bool(record(result, deps.jobs, deps.publisher))
    if failed:
        logger.warning("images never uploaded", extra={"job_id": job.job_id, "images": failed})
        metrics.add_metric(name="UploadsMissing", unit="Count", value=failed)
    return failed


SWEEP_VISIBILITY_SECONDS = 10


def sweep(deps: NotifyDeps) -> dict[str, int]:
    """The scheduled sweep: images whose messages were dead-lettered are settled."""
    return {"failed": sweep_dead_letters(deps)}


def sweep_dead_letters(deps: NotifyDeps, max_messages: int = 500) -> int:
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


def _dead_letter_result(queue: str, body: str, attempts: int, deps: NotifyDeps) -> ProcessResult | None:
    if queue == "responses":
        try:
            return ProcessResult.from_json(body)
        except InvalidParameters:
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
    except InvalidParameters:
        pass
    try:
        raw = json.loads(body)
    except ValueError:
        return None
    if isinstance(raw, dict) and valid_job_id(str(raw.get("job_id"))) and valid_image_id(str(raw.get("image_id"))):
        return str(raw["job_id"]), str(raw["image_id"])
    return None
