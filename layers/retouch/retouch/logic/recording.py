"""What recording results on their job changes, decided without touching the table.

:func:`plan` reads the job's head item and its images' items as they were read, and says what
one conditional transaction must write (:class:`retouch.models.Recording`): which images move to their result
(each only from the state it was read in), their events with their numbers, the job's counters,
and its completion - with its own event - when nothing remains. The repository only applies a
plan (:meth:`retouch.adapters.jobs.JobRepository.apply`); :mod:`retouch.logic.results` reads,
plans and applies until a plan wins.

* A result for an image that is not terminal yet counts: succeeded or failed, one less remaining.
* The one allowed change of a terminal state: an image that was given up (dead-lettered) and then
  succeeded after a redrive moves from failed to succeeded.
* Anything else is a duplicate: it changes nothing and reports the events its first recording
  stored (to be pushed again).

``seq`` is the job's event counter: the transaction's condition on it makes two recordings of the
same job serialise, so event numbers have no gaps and no duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retouch import events
from retouch.keys import download_name
from retouch.models import Counted, ImageChange, ImageStatus, JobStatus, ProcessResult, Recording

MAX_COUNTED_TOGETHER = 40
"""Results counted in one transaction: 2 items each (image, event) plus 3 (job, its event, the
owner's slot) stay within TransactWriteItems' 100 items."""


def stored_events(head: Mapping[str, Any], image: Mapping[str, Any]) -> list[tuple[int, str]]:
    """``(seq, type)`` of the events recorded for a finished image (and the job's completion)."""
    out = [(int(image["event_seq"]), "image")] if image.get("event_seq") is not None else []
    if head.get("completed_seq") is not None:
        out.append((int(head["completed_seq"]), "job"))
    return out


def webhook_types(head: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(head.get("callback_events") or ("job",)) if head.get("callback_url") else ()


def counters_for(result: ProcessResult, image: Mapping[str, Any]) -> dict[str, int] | None:
    """How ``result`` moves the job's counters from its image's stored state; None: a duplicate."""
    status = ImageStatus(image["status"])
    if not status.terminal:
        return {"succeeded" if result.status is ImageStatus.SUCCEEDED else "failed": 1, "remaining": -1}
    if status is ImageStatus.FAILED and image.get("gave_up") and result.status is ImageStatus.SUCCEEDED:
        return {"succeeded": 1, "failed": -1}
    return None


def image_event(result: ProcessResult, image: Mapping[str, Any], seq: int, now: str) -> dict[str, Any]:
    """The event of one image's result, numbered ``seq``."""
    name = str(image.get("name", ""))
    output_name = download_name(name, result.output_key.rsplit(".", 1)[-1]) if result.output_key else None
    return events.image_event(
        result.job_id,
        seq,
        now,
        image_id=result.image_id,
        name=image.get("name"),
        status=result.status.value,
        output_name=output_name,
        **result.result_fields(),
    )


def plan(
    head: Mapping[str, Any] | None, images: Mapping[str, Mapping[str, Any]], results: Sequence[ProcessResult], now: str
) -> Recording | None:
    """What recording ``results`` (of one job, distinct images) changes, from the job's ``head``
    item and its images' items (by image id) as read. None when there is no such job."""
    if head is None:
        return None
    prev = int(head.get("seq", 0))
    verdicts: list[Counted | None] = []
    changes: list[ImageChange] = []
    totals = {"succeeded": 0, "failed": 0, "remaining": 0}
    for result in results:
        image = images.get(result.image_id)
        counters = None if image is None else counters_for(result, image)
        if image is None:
            verdicts.append(Counted(False))  # an unknown image: nothing to count
        elif counters is None:
            verdicts.append(Counted(False, stored=stored_events(head, image), webhook_types=webhook_types(head)))
        else:
            verdicts.append(None)
            changes.append(ImageChange(result, str(image["status"]), image_event(result, image, prev + len(changes) + 1, now)))
            for k, v in counters.items():
                totals[k] += v
    completes = bool(changes) and int(head["remaining"]) + totals["remaining"] == 0 and head["status"] == JobStatus.RUNNING
    job_event = None
    if completes:
        job_event = events.job_event(
            str(head["job_id"]),
            prev + len(changes) + 1,
            now,
            total=int(head["total"]),
            succeeded=int(head["succeeded"]) + totals["succeeded"],
            failed=int(head["failed"]) + totals["failed"],
            cancelled=bool(head.get("cancelled_at")),
        )
    return Recording(
        job_id=str(head["job_id"]),
        owner=str(head["owner"]),
        prev_seq=prev,
        head_has_seq="seq" in head,
        changes=changes,
        counters={k: v for k, v in totals.items() if v},
        job_event=job_event,
        expires_at=None if head.get("expires_at") is None else int(head["expires_at"]),
        webhook_types=webhook_types(head),
        verdicts=verdicts,
        now=now,
    )
