"""Recording a result on its job - the one place that does it, for notify, the sweeper and
enqueue - completing the job, and pushing the completion to the user.

Each step is its own write, and a worker may die between any two of them; every caller's message
is then delivered again, and recording it again finishes what the first delivery started:

1. count the result (a conditional transaction: a duplicate changes nothing);
2. complete the job if nothing remains - tried on duplicates too, so completion is never lost
   (the failed condition returns the job, so a duplicate costs one request more, not two);
3. push the completion callback if the job is complete and its receiver has not accepted it
   yet (at least once: a receiver de-duplicates by job id).
"""

from __future__ import annotations

from retouch import faults
from retouch.adapters.jobs import JobRepository
from retouch.adapters.webhooks import WebhookSender
from retouch.models import Job, JobStatus, ProcessResult, Recorded
from retouch.observability import logger, metrics


def record(result: ProcessResult, jobs: JobRepository, webhooks: WebhookSender) -> Recorded:
    """Record ``result`` once (idempotent); complete the job and push its completion if due."""
    counted = jobs.count_result(result)
    faults.point("record.after_count", result.job_id)
    completed = settle_job(result.job_id, jobs, webhooks)
    return Recorded(counted=counted, completed=completed)


def settle_job(job_id: str, jobs: JobRepository, webhooks: WebhookSender) -> bool:
    """Complete a job with nothing remaining, and push its completion unless its receiver has it
    (a redelivery may be that of a worker that died after completing); True if this call
    completed the job. Two requests when nothing is due: the conditional completion returns the
    job as it stands when its condition fails."""
    completed, current = jobs.try_complete(job_id)
    faults.point("record.after_complete", job_id)
    if completed or (current is not None and _push_due(current)):
        push_completion(job_id, jobs, webhooks)
    return completed


def _push_due(job: Job) -> bool:
    return job.status is JobStatus.COMPLETE and bool(job.callback_url) and not job.callback_sent_at


def needs_settling(job: Job) -> bool:
    """Whether :func:`settle_job` has anything to do for ``job`` as read: nothing remains and it
    is still running, or its completion has not reached its receiver."""
    return job.remaining == 0 and (job.status is JobStatus.RUNNING or _push_due(job))


def push_completion(job_id: str, jobs: JobRepository, webhooks: WebhookSender) -> None:
    """POST the job summary to the job's callback URL once the job is complete, until the
    receiver accepts it (2xx).

    Best effort within one delivery: a failing callback is logged and counted, not retried in a
    loop; a later redelivery of any of the job's results tries again. The status stays available
    from ``GET /jobs/{id}``.
    """
    job = jobs.get(job_id, with_images=False)
    if job is None or job.status is not JobStatus.COMPLETE or job.callback_sent_at:
        return
    if not job.callback_url or not job.callback_secret:
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
        status = webhooks.post(job.callback_url, payload, job.callback_secret)
    except OSError as exc:
        status = 0
        logger.warning("callback failed", extra={"job_id": job_id, "error": str(exc)})
    if 200 <= status < 300:
        jobs.mark_callback_sent(job_id)
        metrics.add_metric(name="CallbacksDelivered", unit="Count", value=1)
    else:
        logger.warning("callback not accepted", extra={"job_id": job_id, "status": status})
        metrics.add_metric(name="CallbacksFailed", unit="Count", value=1)
