"""Recording a result on its job - the one place that does it, for notify, the sweeper and
enqueue - and handing the events it stored to the push paths.

Counting is one conditional transaction per job (:meth:`JobRepository.count_results`): the
images' new states, the job's counters, its completion when nothing remains, and the events with
their ``seq``. A batch's results are counted per job, so results of one job recorded together do
not conflict with each other. A worker may die after it and before the events are handed on; its message is then
delivered again, counts nothing, and hands the same events on again (the push paths
de-duplicate by ``seq``).
"""

from __future__ import annotations

from collections.abc import Sequence

from retouch import faults
from retouch.adapters.jobs import Counted, JobRepository
from retouch.adapters.publisher import EventPublisher
from retouch.models import ProcessResult


def record(result: ProcessResult, jobs: JobRepository, publisher: EventPublisher) -> Counted:
    """Record ``result`` once (idempotent) and push the events it stored (again, for a duplicate)."""
    return record_job(result.job_id, [result], jobs, publisher)[0]


def record_job(job_id: str, results: Sequence[ProcessResult], jobs: JobRepository, publisher: EventPublisher) -> list[Counted]:
    """Record results of job ``job_id``, each once (idempotent): counted together, then their
    events pushed with one signal. A repeated image is counted after the others (as the
    duplicate it is). Returns what counting did, in the order of ``results``."""
    firsts: dict[str, int] = {}
    for n, result in enumerate(results):
        firsts.setdefault(result.image_id, n)
    order = sorted(firsts.values())
    counted: list[Counted | None] = [None] * len(results)
    for n, c in zip(order, jobs.count_results([results[n] for n in order]), strict=True):
        counted[n] = c
    for n, result in enumerate(results):
        if counted[n] is None:
            counted[n] = jobs.count_result(result)
    done = [c for c in counted if c is not None]
    faults.point("record.after_count", job_id)
    publisher.publish(job_id, {e for c in done for e in c.stored}, next((c.webhook_types for c in done if c.webhook_types), ()))
    faults.point("record.after_publish", job_id)
    return done


def republish(job_id: str, image_id: str, jobs: JobRepository, publisher: EventPublisher) -> None:
    """Push again the events recorded for a finished image (its first recording may have died
    before pushing them)."""
    stored, webhook_types = jobs.stored_events(job_id, image_id)
    publisher.publish(job_id, stored, webhook_types)
    faults.point("record.after_publish", job_id)
