"""Recording a result on its job - the one place that does it, for notify, the sweeper and
enqueue - and handing the events it stored to the push paths.

Counting is one conditional transaction (:meth:`JobRepository.count_result`): the image's new
state, the job's counters, its completion when nothing remains, and the events with their
``seq``. A worker may die after it and before the events are handed on; its message is then
delivered again, counts nothing, and hands the same events on again (the push paths
de-duplicate by ``seq``).
"""

from __future__ import annotations

from retouch import faults
from retouch.adapters.jobs import Counted, JobRepository
from retouch.adapters.publisher import EventPublisher
from retouch.models import ProcessResult


def record(result: ProcessResult, jobs: JobRepository, publisher: EventPublisher) -> Counted:
    """Record ``result`` once (idempotent) and push the events it stored (again, for a duplicate)."""
    counted = jobs.count_result(result)
    faults.point("record.after_count", result.job_id)
    publisher.publish(result.job_id, counted.stored, counted.webhook_types)
    faults.point("record.after_publish", result.job_id)
    return counted


def republish(job_id: str, image_id: str, jobs: JobRepository, publisher: EventPublisher) -> None:
    """Push again the events recorded for a finished image (its first recording may have died
    before pushing them)."""
    stored, webhook_types = jobs.stored_events(job_id, image_id)
    publisher.publish(job_id, stored, webhook_types)
    faults.point("record.after_publish", job_id)
