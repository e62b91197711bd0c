"""Download links on image events, made as the events are sent.

A stored event must not hold a link: links live 15 minutes, events as long as the job, and
``GET /jobs/{id}/events`` or a reconnecting WebSocket may send an event again a day later. So the
WebSocket fan-out, the webhook delivery and the events route each add a fresh ``download_url``
(with ``Content-Disposition`` naming ``output_name``) to the events of succeeded images they
send; the receiver of a job's events is its owner, or the callback the owner chose.
"""

from __future__ import annotations

from typing import Any

from retouch.adapters.jobs import JobRepository
from retouch.adapters.storage import ObjectStore

READ_WHOLE_JOB_ABOVE = 8
"""Events of more images than this read the job's images in one query rather than one by one."""


def with_download_links(
    job_id: str, events: list[dict[str, Any]], jobs: JobRepository, store: ObjectStore, ttl: int
) -> list[dict[str, Any]]:
    """``events`` with a ``download_url`` (valid ``ttl`` seconds) on each succeeded image's."""
    wanted = {e["image_id"] for e in events if e.get("type") == "image" and e.get("status") == "succeeded"}
    if not wanted:
        return events
    if len(wanted) > READ_WHOLE_JOB_ABOVE:
        job = jobs.get(job_id)
        outputs = {i.image_id: i.output_key for i in job.images} if job else {}
    else:
        outputs = {}
        for image_id in wanted:
            image = jobs.get_image(job_id, image_id)
            outputs[image_id] = image.output_key if image else None
    out = []
    for e in events:
        key = outputs.get(e.get("image_id", "")) if e.get("image_id") in wanted else None
        if key:
            e = {
                **e,
                "download_url": store.presigned_get(key, ttl, download_name=e.get("output_name")),
                "download_url_expires_in": ttl,
            }
        out.append(e)
    return out
