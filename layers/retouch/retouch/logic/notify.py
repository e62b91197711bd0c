"""notify: record each result on its job, once; complete the job when nothing remains."""

from __future__ import annotations

import json

from retouch.errors import InvalidParameters
from retouch.logic.deps import NotifyDeps
from retouch.models import ProcessRequest, ProcessResult, valid_image_id, valid_job_id
from retouch.observability import logger, metrics


def record_message(body: str, deps: NotifyDeps) -> bool:
    """Record one result message. Returns False for a duplicate (nothing counted).

    A malformed message raises, so it is retried and finally dead-lettered for inspection.
    """
    result = ProcessResult.from_json(body)
    recorded = deps.jobs.record_result(result)
    log = {"job_id": result.job_id, "image_id": result.image_id, "status": result.status.value}
    if recorded.completed:
        push_completion(result.job_id, deps)
    if recorded:
        logger.info("result recorded", extra=log)
        metrics.add_metric(name="ResultsRecorded", unit="Count", value=1)
    else:
        logger.info("duplicate or late result ignored", extra=log)
        metrics.add_metric(name="ResultsDuplicate", unit="Count", value=1)
    return recorded.counted


def push_completion(job_id: str, deps: NotifyDeps) -> None:
    """POST the job summary to the job's callback URL, once, when the job completes.

    Best effort: a failing callback is logged and counted, never retried into a loop; the
    status stays available from ``GET /jobs/{id}``.
    """
    job = deps.jobs.get(job_id, with_images=False)
    if job is None or not job.callback_url or not job.callback_secret:
        return
    payload = {
        "job_id": job.job_id,
        "status": job.status.value,
        "total": job.total,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "completed_at": job.completed_at,
    }
    try:
        status = deps.webhooks.post(job.callback_url, payload, job.callback_secret)
    except OSError as exc:
        status = 0
        logger.warning("callback failed", extra={"job_id": job_id, "error": str(exc)})
    if 200 <= status < 300:
        metrics.add_metric(name="CallbacksDelivered", unit="Count", value=1)
    else:
        logger.warning("callback not accepted", extra={"job_id": job_id, "status": status})
        metrics.add_metric(name="CallbacksFailed", unit="Count", value=1)


def sweep_dead_letters(deps: NotifyDeps, max_messages: int = 500) -> int:
    """Fail the images whose requests were dead-lettered, so no job waits forever.

    A message reaches the request DLQ when processing failed ``maxReceiveCount`` times -
    including crashes (a worker killed mid-image, a timeout, out of memory) that never got to
    report anything. The messages stay in the DLQ for inspection and ``retouch dlq redrive``;
    the sweeper only reads them (hiding each for a minute so one run sees each once) and records
    "gave up after N attempts", which is idempotent. Returns how many images it failed now.
    """
    if deps.dead_letters is None:
        return 0
    attempts = deps.settings.max_receive_count
    failed = seen = 0
    while seen < max_messages:
        batch = deps.dead_letters.receive(10, visibility_timeout=60)
        if not batch:
            break
        seen += len(batch)
        for message in batch:
            ids = dead_letter_ids(message["Body"])
            if ids is None:
                logger.error("unreadable dead letter", extra={"message_id": message["MessageId"], "body": message["Body"][:2000]})
                continue
            job_id, image_id = ids
            result = ProcessResult.failed(
                job_id,
                image_id,
                f"gave up after {attempts} attempts: processing never completed (the worker crashed or timed out)",
                gave_up=True,
            )
            recorded = deps.jobs.record_result(result)
            if recorded.completed:
                push_completion(job_id, deps)
            if recorded:
                failed += 1
                logger.warning("dead-lettered image failed", extra={"job_id": job_id, "image_id": image_id})
    metrics.add_metric(name="DeadLettersSwept", unit="Count", value=seen)
    return failed


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
