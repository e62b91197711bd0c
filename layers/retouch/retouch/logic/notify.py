"""notify: record each result on its job, once (completing the job when nothing remains), and
hand its events to the push paths."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.errors import ValidationError
from retouch.logic.batch import leased_batch
from retouch.logic.deps import NotifyDeps
from retouch.logic.results import record, record_job
from retouch.models import Counted, ImageStatus, JobStatus, ProcessResult, UploadDeadline, parse_response
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
        except ValidationError:
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
