"""Job events: what the WebSocket and webhooks push, and ``GET /jobs/{id}/events`` returns.

Every image result and every job completion is an event. ``seq`` numbers a job's events from 1
with no gaps and no duplicates: it is assigned in the same conditional write that records the
result (:mod:`retouch.logic.recording`), so duplicate deliveries and
crashed workers cannot skip or repeat a number. Events are stored with the job (same TTL).

* ``{"type": "image", "job_id", "seq", "image_id", "name", "status", "error", "width",
  "height", "bytes", "duration_ms", "outcome", "output_name", "at"}`` - ``outcome``: what the
  operations did (:class:`retouch.outcome.Outcome`, with its ``summary`` sentence); ``output_name``: the file name the
  output is downloaded under; as they are sent (WebSocket, webhooks, ``GET .../events``), a
  succeeded image's event also carries a short-lived ``download_url`` (:mod:`retouch.logic.links`)
* ``{"type": "job", "job_id", "seq", "status": "complete", "total", "succeeded", "failed", "at"}``,
  with ``"cancelled": true`` when the owner cancelled the job
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from retouch.models import PUBLIC_RESULT_FIELDS

EVENT_TYPES = ("image", "job")
"""What a webhook may ask for (``callback_events``)."""
DEFAULT_CALLBACK_EVENTS: tuple[str, ...] = ("job",)

ImageFields = ("image_id", "name", "status", *PUBLIC_RESULT_FIELDS, "output_name")
JobFields = ("status", "total", "succeeded", "failed")


def image_event(job_id: str, seq: int, at: str, **fields: Any) -> dict[str, Any]:
    return {"type": "image", "job_id": job_id, "seq": seq, **{k: fields.get(k) for k in ImageFields}, "at": at}


def job_event(
    job_id: str, seq: int, at: str, *, total: int, succeeded: int, failed: int, cancelled: bool = False
) -> dict[str, Any]:
    """The job's completion; ``"cancelled": true`` when its owner cancelled it (its unprocessed
    images are among the failed, each saying so)."""
    return {
        "type": "job",
        "job_id": job_id,
        "seq": seq,
        "status": "complete",
        "total": total,
        "succeeded": succeeded,
        "failed": failed,
        **({"cancelled": True} if cancelled else {}),
        "at": at,
    }


def encode(event: dict[str, Any]) -> str:
    """An event as one JSON text (the WebSocket message and the webhook body)."""
    return json.dumps(event, separators=(",", ":"))


@dataclass(frozen=True)
class EventSignal:
    """On the events queue (FIFO, one message group per job): a job has events up to ``seq``,
    or a connection subscribed to a job and wants what comes after ``after``."""

    kind: Literal["event", "subscribe"]
    job_id: str
    seq: int = 0
    connection_id: str = ""
    after: int = 0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"), sort_keys=True)

    @property
    def dedup_id(self) -> str:
        return f"{self.job_id}:{self.seq}" if self.kind == "event" else f"{self.connection_id}:{self.job_id}:{self.after}"

    @classmethod
    def from_json(cls, text: str) -> EventSignal:
        raw = json.loads(text)
        return cls(
            kind=raw["kind"],
            job_id=str(raw["job_id"]),
            seq=int(raw.get("seq", 0)),
            connection_id=str(raw.get("connection_id", "")),
            after=int(raw.get("after", 0)),
        )


@dataclass(frozen=True)
class Delivery:
    """On the webhook queue: deliver event ``seq`` of a job; ``attempt`` counts from 1, and
    ``first_at`` (unix seconds) bounds the retries (24 hours)."""

    job_id: str
    seq: int
    attempt: int = 1
    first_at: float = 0.0
    not_before: float = 0.0
    """Unix time before which the attempt is not made (backoffs longer than SQS's 15-minute
    delay wait in several hops)."""

    @property
    def delivery_id(self) -> str:
        """The ``Retouch-Delivery`` header: the same for every attempt of one event."""
        return f"{self.job_id}.{self.seq}"

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Delivery:
        raw = json.loads(text)
        return cls(
            str(raw["job_id"]),
            int(raw["seq"]),
            int(raw.get("attempt", 1)),
            float(raw.get("first_at", 0)),
            float(raw.get("not_before", 0)),
        )
