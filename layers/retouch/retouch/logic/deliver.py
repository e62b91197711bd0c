"""Webhook deliveries: one event to one job's callback URL, retried with exponential backoff and
jitter for a day, every attempt in the job's delivery log.

Deliveries have their own queue and function, so a slow or failing receiver delays nobody's
results. Each message is one attempt: a failed attempt is logged and the next one is scheduled
as a new (delayed) message, so retries never pile up as redeliveries or reach a dead-letter
queue. An event already delivered (a re-published one) is not sent again.
"""

from __future__ import annotations

import random
import time
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch import events
from retouch.adapters.table import expiry
from retouch.adapters.webhooks import signature_header
from retouch.backoff import backoff_seconds
from retouch.events import Delivery
from retouch.logic.batch import leased_batch
from retouch.logic.deps import WebhookDeps
from retouch.logic.links import with_download_links
from retouch.observability import logger, metrics

FIRST_RETRY_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 3600.0
SQS_MAX_DELAY = 900


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from 10 s up to an hour, with jitter
    (each delay drawn from its upper half), so receivers coming back are not stampeded."""
    return backoff_seconds(attempt, FIRST_RETRY_SECONDS, MAX_BACKOFF_SECONDS, jitter=0.5, rng=rng)


def deliver_batch(event: dict[str, Any], context: LambdaContext, deps: WebhookDeps) -> PartialItemFailureResponse:
    return leased_batch(event, context, deps.queue, deps.settings.visibility_lease_seconds, lambda r, _: deliver(r.body, deps))


def deliver(body: str, deps: WebhookDeps, now: float | None = None) -> bool:
    """Make one attempt for the delivery in ``body``. True when the receiver accepted it."""
    now = time.time() if now is None else now
    d = Delivery.from_json(body)
    if d.not_before > now + 1:  # a long backoff waits in hops of at most 15 minutes
        deps.queue.send(body, delay_seconds=min(SQS_MAX_DELAY, int(d.not_before - now) + 1))
        return False
    job = deps.jobs.get(d.job_id, with_images=False)
    if job is None or not job.callback_url or deps.deliveries.delivered(d.job_id, d.seq):
        return False
    event = deps.jobs.event(d.job_id, d.seq)
    if event is None:
        return False
    [event] = with_download_links(d.job_id, [event], deps.jobs, deps.store, deps.settings.download_url_ttl_seconds)
    payload = events.encode(event).encode()
    stamp = int(now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Retouch-Webhook/1",
        "Retouch-Signature": signature_header(deps.secrets.signing(job.owner, now), stamp, payload),
        "Retouch-Delivery": d.delivery_id,
    }
    attempt = deps.sender.deliver(job.callback_url, payload, headers)
    deps.deliveries.add(d.job_id, d.seq, d.attempt, attempt, expiry(deps.settings.job_retention_days))
    log = {"job_id": d.job_id, "seq": d.seq, "attempt": d.attempt, "status": attempt.status, "error": attempt.error}
    if attempt.delivered:
        logger.info("webhook delivered", extra=log)
        metrics.add_metric(name="WebhooksDelivered", unit="Count", value=1)
        return True
    metrics.add_metric(name="WebhookAttemptsFailed", unit="Count", value=1)
    if attempt.refused:  # (the address it resolves to now is one Retouch never calls: no retry)
        logger.warning("webhook refused: the callback points where Retouch does not call", extra=log)
        metrics.add_metric(name="WebhooksAbandoned", unit="Count", value=1)
        return False
    first = d.first_at or now
    if now - first >= deps.settings.retry_hours * 3600:
        logger.warning("webhook abandoned after retrying", extra=log)
        metrics.add_metric(name="WebhooksAbandoned", unit="Count", value=1)
        return False
    wait = backoff(d.attempt)
    retry = Delivery(d.job_id, d.seq, d.attempt + 1, first, now + wait)
    deps.queue.send(retry.to_json(), delay_seconds=min(SQS_MAX_DELAY, int(wait)))
    logger.info("webhook attempt failed; retry scheduled", extra={**log, "retry_in_seconds": round(wait)})
    return False
