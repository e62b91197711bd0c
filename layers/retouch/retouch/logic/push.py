"""The WebSocket: connections, subscriptions, and the fan-out of a job's events to them.

Protocol (the same on AWS and on the embedded stack): connect to ``websocket_url?token=<bearer
token>`` (a wrong token is refused at connect), send ``{"action": "subscribe", "job_id": ...,
"after": N}``, then receive every stored event with ``seq > N`` followed by live events, each a
JSON text message (:mod:`retouch.events`). A job that is not the caller's is answered with
``{"type": "error", "message": ...}`` exactly like a missing one.

The fan-out runs from a FIFO queue with one message group per job, so one job's events are sent
by one worker at a time, in ``seq`` order, from the event store: a subscription's ``last_sent``
says where it stands, so a subscriber that arrives late, or a signal that arrives twice, sends
exactly what is missing. Delivery is at least once only when a worker dies mid-send; clients
ignore a ``seq`` they have already seen.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.api_gateway_websocket_event import APIGatewayWebSocketEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch import events
from retouch.adapters.connections import ConnectionGone
from retouch.events import EventSignal
from retouch.logic.batch import leased_batch
from retouch.logic.deps import PushDeps
from retouch.logic.links import with_download_links
from retouch.models import valid_job_id
from retouch.observability import logger, metrics

MAX_AFTER = 10**9


def _error(message: str) -> str:
    return events.encode({"type": "error", "message": message})


def websocket_route(raw: dict[str, Any], deps: PushDeps) -> dict[str, Any]:
    """One WebSocket route invocation (``$connect``, ``$disconnect``, ``subscribe``, ``$default``)."""
    event = APIGatewayWebSocketEvent(raw)
    ctx = event.request_context
    route, connection_id = ctx.route_key, ctx.connection_id
    if route == "$connect":
        # the $connect authorizer's principal (:func:`retouch.logic.auth.websocket_authorize`)
        owner = str((ctx.get("authorizer") or {}).get("principalId") or "")
        if not owner:
            return {"statusCode": 401}
        deps.connections.add(connection_id, owner)
        metrics.add_metric(name="WebSocketConnections", unit="Count", value=1)
        return {"statusCode": 200}
    if route == "$disconnect":
        deps.connections.remove(connection_id)
        return {"statusCode": 200}
    if route == "subscribe":
        subscribe(connection_id, event.body or "", deps)
        return {"statusCode": 200}
    _reply(deps, connection_id, _error('unknown action; send {"action": "subscribe", "job_id": "...", "after": 0}'))
    return {"statusCode": 200}


def subscribe(connection_id: str, body: str, deps: PushDeps) -> None:
    try:
        message = json.loads(body)
        job_id, after = message["job_id"], message.get("after", 0)
        if not isinstance(job_id, str) or isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_AFTER:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        _reply(deps, connection_id, _error('expected {"action": "subscribe", "job_id": "...", "after": N} with N >= 0'))
        return
    owner = deps.connections.owner(connection_id)
    job = deps.jobs.get(job_id, with_images=False) if valid_job_id(job_id) else None
    if owner is None or job is None or job.owner != owner:
        _reply(deps, connection_id, _error(f"job {job_id} not found"))  # another user's job looks missing
        return
    deps.connections.subscribe(job_id, connection_id, after)
    signal = EventSignal("subscribe", job_id, connection_id=connection_id, after=after)
    deps.events.send(signal.to_json(), group_id=job_id, dedup_id=signal.dedup_id)
    logger.info("subscribed", extra={"job_id": job_id, "connection_id": connection_id, "after": after})


def _reply(deps: PushDeps, connection_id: str, text: str) -> None:
    try:
        deps.sender.send(connection_id, text)
    except ConnectionGone:
        deps.connections.remove(connection_id)


def fan_out_batch(event: dict[str, Any], context: LambdaContext, deps: PushDeps) -> PartialItemFailureResponse:
    """One batch from the FIFO events queue, in order, each signal parsed once.

    A job's "event" signal means "its events up to ``seq`` are stored", and its fan-out sends
    every subscriber everything it has not been sent. So of several such signals for one job in
    a batch only the last needs the work (two reads and a write per subscriber); the earlier
    ones are covered by it. If the last one fails, the FIFO processor fails it and what
    follows, and its retry sends everything.
    """
    signals: dict[str, EventSignal] = {}
    """The batch's readable signals by message id (an unreadable one fails when handled)."""
    last_event_signal: dict[str, str] = {}
    """By job: the message id of the batch's last "event" signal."""

    def parse(records: list[SQSRecord]) -> None:
        for record in records:
            try:
                signal = signals[record.message_id] = EventSignal.from_json(record.body)
            except (KeyError, TypeError, ValueError):
                continue
            if signal.kind == "event":
                last_event_signal[signal.job_id] = record.message_id

    def handle(record: SQSRecord, _: object) -> int:
        signal = signals.get(record.message_id) or EventSignal.from_json(record.body)
        if signal.kind == "event" and last_event_signal.get(signal.job_id, record.message_id) != record.message_id:
            return 0  # a later signal of this batch sends these events too
        return fan_out(signal, deps)

    return leased_batch(event, context, deps.events, deps.settings.visibility_lease_seconds, handle, fifo=True, prepare=parse)


def fan_out(signal: EventSignal, deps: PushDeps) -> int:
    """Send each subscriber of the signal's job what it has not been sent. Returns messages sent."""
    subs = deps.connections.subscriptions(signal.job_id)
    if signal.kind == "subscribe":
        subs = [s for s in subs if s.connection_id == signal.connection_id]
    if not subs:
        return 0
    pending = deps.jobs.events_after(signal.job_id, min(s.last_sent for s in subs))
    pending = with_download_links(signal.job_id, pending, deps.jobs, deps.store, deps.settings.download_url_ttl_seconds)
    sent = 0
    for sub in subs:
        todo = [e for e in pending if e["seq"] > sub.last_sent]
        if not todo:
            continue
        try:
            for e in todo:
                deps.sender.send(sub.connection_id, events.encode(e))
                sent += 1
        except ConnectionGone:
            logger.info("connection gone", extra={"job_id": signal.job_id, "connection_id": sub.connection_id})
            deps.connections.unsubscribe(signal.job_id, sub.connection_id)
            deps.connections.remove(sub.connection_id)
            continue
        deps.connections.sent(signal.job_id, sub.connection_id, todo[-1]["seq"])
    metrics.add_metric(name="WebSocketMessages", unit="Count", value=sent)
    return sent
