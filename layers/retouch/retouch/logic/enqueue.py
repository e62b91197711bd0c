"""enqueue: an upload landed in S3 -> check it -> one message on the request queue.

S3 sends ``ObjectCreated`` notifications for the uploads prefix to an SQS queue, which
triggers this function in batches (so a burst of uploads is buffered and nothing is lost if
the function is throttled or failing). Each record is checked - size, and the real type
sniffed from the first bytes - and either becomes a request message (the image index) or
fails its image straight away with a readable reason. A batch's records are checked
concurrently and their messages sent together.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch import faults, keys, sniff
from retouch.logic.batch import leased_batch
from retouch.logic.deps import EnqueueDeps
from retouch.logic.results import record, republish
from retouch.models import Job, ProcessRequest, ProcessResult
from retouch.observability import logger, metrics

CHECKS_AT_ONCE = 10
"""Uploads of one batch checked concurrently (each check waits on 2-3 round trips)."""


def enqueue_batch(event: dict[str, Any], context: LambdaContext, deps: EnqueueDeps) -> PartialItemFailureResponse:
    """One batch of upload events, leased while it works; failures reported per record.

    The batch's uploads are checked concurrently and their request messages sent together
    (:func:`enqueue_records`); each record then reports its own outcome.
    """
    outcomes: dict[str, int | Exception] = {}

    def handle(record: SQSRecord, _: object) -> int:
        outcome = outcomes[record.message_id]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return leased_batch(
        event,
        context,
        deps.events,
        deps.settings.visibility_lease_seconds,
        handle,
        prepare=lambda records: outcomes.update(enqueue_records(records, deps)),
    )


Checked = tuple[ProcessRequest, str] | ProcessResult
"""What checking one upload gives: its request message and tenant group, or the failed result
of an upload that cannot be processed."""


def enqueue_records(records: list[SQSRecord], deps: EnqueueDeps) -> dict[str, int | Exception]:
    """Check the uploads of ``records`` concurrently (reads and the queued mark), then record the
    rejected ones one at a time and send one request message per accepted upload, in batches of
    ten. Returns, by message id, the number of messages sent for the record, or the error to
    raise for it (so that record alone is retried, and dead-lettered eventually). A failed send
    fails every record whose request it carried. (Recording after the concurrent checks keeps
    each recording and the events it hands on together, in one thread.)"""

    def check(record: SQSRecord) -> list[Checked] | Exception:
        try:
            return check_record(record, deps)
        except Exception as exc:  # noqa: BLE001 - raised again for this record only
            return exc

    with ThreadPoolExecutor(max_workers=min(CHECKS_AT_ONCE, max(1, len(records)))) as pool:
        checked = dict(zip([r.message_id for r in records], pool.map(check, records), strict=True))
    for mid, got in list(checked.items()):
        if isinstance(got, Exception):
            continue
        try:
            for failed in (g for g in got if isinstance(g, ProcessResult)):
                record(failed, deps.jobs, deps.publisher)
                metrics.add_metric(name="UploadsRejected", unit="Count", value=1)
        except Exception as exc:  # noqa: BLE001 - raised again for this record only
            checked[mid] = exc
    accepted = {
        mid: [g for g in got if not isinstance(g, ProcessResult)]
        for mid, got in checked.items()
        if not isinstance(got, Exception)
    }
    requests = [request for got in accepted.values() for request in got]
    try:
        deps.requests.send_batch((str(n), request.to_json(), tenant) for n, (request, tenant) in enumerate(requests))
    except Exception as exc:  # noqa: BLE001 - raised again by each record that had a request in it
        return {mid: got if isinstance(got, Exception) else (exc if accepted[mid] else 0) for mid, got in checked.items()}
    for request, _ in requests:
        faults.point("enqueue.after_send", request.job_id)
    metrics.add_metric(name="ImagesEnqueued", unit="Count", value=len(requests))
    return {mid: got if isinstance(got, Exception) else len(accepted[mid]) for mid, got in checked.items()}


def check_record(record: SQSRecord, deps: EnqueueDeps) -> list[Checked]:
    """The request messages (with their tenant groups), or failed results, for the uploads of one
    SQS record holding an S3 event. Raises on transient trouble."""
    body = record.json_body
    if isinstance(body, dict) and body.get("Event") == "s3:TestEvent":
        return []  # S3 sends this once when the notification is configured
    checked = (check_upload(s3_record, record.message_id, deps) for s3_record in record.decoded_nested_s3_event.records)
    return [r for r in checked if r is not None]


def tenant_group(owner: str) -> str:
    """The request queue's message group of a job's owner: SQS's fair queues serve groups with
    little in flight first, so one user's 100,000 images do not hold back another user's 10.
    A digest, so no user id travels in queue metadata."""
    return hashlib.blake2s(owner.encode(), digest_size=16).hexdigest()


def check_upload(s3_record: S3EventRecord, upload_event: str, deps: EnqueueDeps) -> Checked | None:
    """The request message for one uploaded object and its tenant group, the failed result to
    record for it, or ``None`` (not ours, a repeated upload).

    Work is done once per image: the image is marked queued by the first upload event for its
    key (``upload_event``, the SQS message that carried it), and only that event sends its
    request - again when it is redelivered, since its first send may have been lost. A presigned
    POST replayed within its lifetime, or S3 notifying twice, finds the image queued by another
    event (or finished) and is ignored, so nothing is rendered or counted twice.
    """
    s = deps.settings
    key = keys.decode_event_key(s3_record.s3.get_object.key)
    ref = keys.parse_upload_key(key, s.uploads_prefix)
    if ref is None:
        logger.warning("ignoring an object that is not a job upload", extra={"key": key})
        return None
    log = {"job_id": ref.job_id, "image_id": ref.image_id, "key": key}
    job = job_settings(ref.job_id, deps)
    if job is None:
        logger.warning("ignoring an upload for an unknown job", extra=log)
        return None

    mark = deps.jobs.mark_queued(ref.job_id, ref.image_id, key, upload_event)
    image = mark.image
    if image is None or image.upload_key != key:
        logger.warning("ignoring an upload for an unknown image", extra=log)
        return None
    if image.status.terminal:
        logger.info("repeated upload event for a finished image: its events are pushed again", extra=log)
        republish(ref.job_id, ref.image_id, deps.jobs, deps.publisher)  # the first delivery may have died before
        return None
    if not mark.ours:
        logger.warning("ignoring a repeated upload of an image already queued", extra=log)
        metrics.add_metric(name="UploadsRepeated", unit="Count", value=1)
        return None
    faults.point("enqueue.after_mark_queued", ref.job_id)

    error = upload_error(key, s3_record.s3.get_object.size, image.size, deps)
    if error is not None:
        logger.info("upload rejected", extra={**log, "error": error})
        return ProcessResult.failed(ref.job_id, ref.image_id, error)
    logger.info("upload queued", extra=log)
    request = ProcessRequest(
        job_id=ref.job_id,
        image_id=ref.image_id,
        name=image.name,
        bucket=deps.store.bucket,
        key=key,
        operations=job.operations,
        output=job.output,
    )
    return request, tenant_group(job.owner)


def upload_error(key: str, size: int | None, declared: int, deps: EnqueueDeps) -> str | None:
    """Why the object at ``key`` cannot be processed, in words for the person who uploaded it,
    or ``None``: it must be exactly the size the job declared (quotas count declared bytes; the
    presigned POST allows only that size, which the local stack does not enforce), and its
    first bytes must be an image format we read."""
    if size is None:
        head = deps.store.head(key)
        size = None if head is None else int(head["ContentLength"])
    if size is not None and size != declared:
        return (
            f"The file uploaded is {size:,} bytes, but the job said it would be {declared:,} bytes. "
            "Create a new job with the file's real size."
        )
    first = deps.store.read(key, first_bytes=sniff.SNIFF_BYTES)
    if first is None:
        return "The upload disappeared before it could be processed."
    if sniff.sniff(first) is None:
        return sniff.unsupported_message(first)
    return None


JOBS_REMEMBERED = 256


def job_settings(job_id: str, deps: EnqueueDeps) -> Job | None:
    """The job's owner, operations and output (without its images): fixed when the job was
    created, so read once per job by this process, not once per upload."""
    job = deps.known_jobs.get(job_id)
    if job is None:
        job = deps.jobs.get(job_id, with_images=False)
        if job is not None:
            if len(deps.known_jobs) >= JOBS_REMEMBERED:
                deps.known_jobs.clear()
            deps.known_jobs[job_id] = job
    return job
