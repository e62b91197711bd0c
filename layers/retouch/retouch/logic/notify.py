"""notify: record each result on its job, once; complete the job when nothing remains."""

from __future__ import annotations

from retouch.logic.deps import NotifyDeps
from retouch.models import ProcessResult
from retouch.observability import logger, metrics


def record_message(body: str, deps: NotifyDeps) -> bool:
    """Record one result message. Returns False for a duplicate (nothing counted).

    A malformed message raises, so it is retried and finally dead-lettered for inspection.
    """
    result = ProcessResult.from_json(body)
    counted = deps.jobs.record_result(result)
    log = {"job_id": result.job_id, "image_id": result.image_id, "status": result.status.value}
    if counted:
        logger.info("result recorded", extra=log)
        metrics.add_metric(name="ResultsRecorded", unit="Count", value=1)
    else:
        logger.info("duplicate or late result ignored", extra=log)
        metrics.add_metric(name="ResultsDuplicate", unit="Count", value=1)
    return counted
