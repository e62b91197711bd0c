"""Recording a result on its job - the one place that does it, for notify, the sweeper and
enqueue - and handing the events it stored to the push paths.

Counting is one conditional transaction per job, planned by :func:`retouch.logic.recording.plan`
and written by :meth:`JobRepository.apply`: the images' new states, the job's counters, its
completion when nothing remains, and the events with their ``seq``; a plan that lost a race to
another recording of the job is made again from a fresh read. A batch's results are counted per
job, so results of one job recorded together do not conflict with each other. A worker may die
after it and before the events are handed on; its message is then delivered again, counts
nothing, and hands the same events on again (the push paths de-duplicate by ``seq``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from retouch import faults
from retouch.adapters.jobs import JobRepository
from retouch.adapters.publisher import EventPublisher
from retouch.backoff import backoff_seconds
from retouch.errors import TransientError
from retouch.logic import recording
from retouch.models import Counted, ProcessResult, now_iso

PLAN_ATTEMPTS = 60
"""Recordings of one job serialise on its ``seq``; a loser reads and plans again, at most this often."""


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
    for n, c in zip(order, count(jobs, [results[n] for n in order]), strict=True):
        counted[n] = c
    for n, result in enumerate(results):
        if counted[n] is None:
            counted[n] = count(jobs, [result])[0]
    done = [c for c in counted if c is not None]
    faults.point("record.after_count", job_id)
    publisher.publish(job_id, {e for c in done for e in c.stored}, next((c.webhook_types for c in done if c.webhook_types), ()))
    faults.point("record.after_publish", job_id)
    return done


def count(jobs: JobRepository, results: Sequence[ProcessResult]) -> list[Counted]:
    """Count terminal results of ONE job (distinct images) once each, in one transaction per
    :data:`~retouch.logic.recording.MAX_COUNTED_TOGETHER`, storing their events (and the job's,
    when they complete it). A duplicate changes nothing (``counted`` False) and returns the events
    its first recording stored, so they can be pushed again."""
    if not results:
        return []
    ids = [r.image_id for r in results]
    if any(r.job_id != results[0].job_id for r in results) or len(set(ids)) != len(ids):
        raise ValueError("count takes results of one job, one per image")
    step = recording.MAX_COUNTED_TOGETHER
    if len(results) > step:
        return [c for i in range(0, len(results), step) for c in count(jobs, results[i : i + step])]
    for attempt in range(1, PLAN_ATTEMPTS + 1):
        head, images = jobs.job_and_images(results[0].job_id, ids)
        plan = recording.plan(head, images, results, now_iso())
        if plan is None:
            return [Counted(False) for _ in results]  # an unknown job: nothing to count
        if not plan.changes or jobs.apply(plan):
            return plan.counted()
        time.sleep(backoff_seconds(attempt, 0.005, 0.2, jitter=1.0))
    raise TransientError("the job's results are being recorded too fast; retry")


def republish(job_id: str, image_id: str, jobs: JobRepository, publisher: EventPublisher) -> None:
    """Push again the events recorded for a finished image (its first recording may have died
    before pushing them)."""
    head, images = jobs.job_and_images(job_id, [image_id])
    image = images.get(image_id)
    if head is None or image is None:
        return
    publisher.publish(job_id, recording.stored_events(head, image), recording.webhook_types(head))
    faults.point("record.after_publish", job_id)
