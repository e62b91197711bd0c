"""Handing a job's new events to the paths that push them: the WebSocket fan-out (a FIFO queue,
one message group per job, so each job's events go out in order) and the webhook deliveries
(their own queue, so a slow receiver delays nobody's results)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from retouch.adapters.queue import MessageQueue
from retouch.events import Delivery, EventSignal


@dataclass
class EventPublisher:
    events: MessageQueue
    """The FIFO events queue (WebSocket fan-out)."""
    webhooks: MessageQueue
    """The webhook delivery queue."""

    def publish(self, job_id: str, stored: Iterable[tuple[int, str]], webhook_types: Iterable[str] = ()) -> None:
        """``stored``: ``(seq, type)`` of events now in the store. At least once: receivers and
        the fan-out de-duplicate by ``seq``."""
        stored = sorted(stored)
        if not stored:
            return
        signal = EventSignal("event", job_id, seq=stored[-1][0])
        self.events.send(signal.to_json(), group_id=job_id, dedup_id=signal.dedup_id)
        wanted = set(webhook_types)
        if wanted:
            now = time.time()
            self.webhooks.send_batch(
                (f"e{seq}", Delivery(job_id, seq, 1, now).to_json()) for seq, kind in stored if kind in wanted
            )
