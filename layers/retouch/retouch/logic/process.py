"""process: one request message -> output image in S3 + result message on the response queue.

Idempotent: the output key is derived from the upload key, and the output carries a
fingerprint of the request in its metadata. A redelivered message whose output already exists
with the same fingerprint does no image work and re-sends the same result (notify ignores the
duplicate). A message is acknowledged only after its output and result are written.

Permanent failures (bad image, bad parameters) become a ``failed`` result and the message is
acknowledged; transient ones propagate so the message is retried.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch import faults, imageio, keys, ops, pipeline
from retouch.adapters.queue import VisibilityHeartbeat
from retouch.backoff import backoff_seconds
from retouch.errors import PermanentError, RetouchError, TransientError
from retouch.logic import crashes
from retouch.logic.batch import leased_batch
from retouch.logic.deps import ProcessDeps
from retouch.models import AUTO, CANCELLED, ProcessRequest, ProcessResult, valid_image_id
from retouch.observability import logger, metrics
from retouch.outcome import Outcome


def fingerprint(request: ProcessRequest) -> str:
    """Identifies the work (source key, operations, output), not the delivery."""
    body = ProcessRequest(request.job_id, request.image_id, "", request.bucket, request.key, request.operations, request.output)
    return hashlib.sha256(body.to_json().encode()).hexdigest()[:32]


def process_batch(event: dict[str, Any], context: LambdaContext, deps: ProcessDeps) -> PartialItemFailureResponse:
    """One SQS batch: every message is leased while the batch works (heartbeat), each record is
    processed by :func:`process_message`, failures are reported per record. A batch with a
    message delivered before may hold an image that crashed its worker: it is handled with
    :func:`retouch.logic.crashes.careful`, so that image fails alone."""

    def render(record: SQSRecord, heartbeat: VisibilityHeartbeat | None) -> ProcessResult:
        receive_count = int(record.attributes.approximate_receive_count or 1)
        return process_message(record.body, record.receipt_handle, receive_count, deps, heartbeat)

    handle: crashes.Handler = render
    records = event.get("Records", [])
    if crashes.redelivered(records):
        ordered, handle = crashes.careful(records, render, deps)
        event = {**event, "Records": ordered}
    return leased_batch(event, context, deps.requests, deps.settings.visibility_lease_seconds, handle)


def process_message(
    body: str, receipt_handle: str | None, receive_count: int, deps: ProcessDeps, heartbeat: VisibilityHeartbeat | None = None
) -> ProcessResult:
    """Process one request message body; the result has been sent when this returns.

    Transient failures are retried with growing delays (the message's visibility timeout is
    set to ``retry_base_seconds * 2**(attempt-1)``). On the last attempt before the queue
    dead-letters the message, the image is failed with "gave up after N attempts" (a later
    redrive may still succeed) and the error propagates so the message goes to the DLQ.
    """
    request = ProcessRequest.from_json(body)  # malformed -> raise -> retried, then dead-lettered
    s = deps.settings
    try:
        result = process_request(request, deps, first_delivery=receive_count <= 1)
    except Exception as exc:
        # the image's error is read by users: our own words only (the detail is in the log below)
        reason = exc.message if isinstance(exc, RetouchError) else "an internal error occurred"
        log = {
            "job_id": request.job_id,
            "image_id": request.image_id,
            "attempt": receive_count,
            "error": reason,
            "cause": f"{type(exc).__name__}: {exc}"[:500],
        }
        if receive_count >= s.max_receive_count:
            logger.error("giving up on image", extra=log)
            metrics.add_metric(name="ImagesGivenUp", unit="Count", value=1)
            deps.responses.send(ProcessResult.given_up(request.job_id, request.image_id, receive_count, reason).to_json())
        else:
            delay = int(backoff_seconds(receive_count, s.retry_base_seconds, 43_200))
            logger.warning("transient failure; retrying", extra={**log, "retry_in_seconds": delay})
            if receipt_handle is not None:
                if heartbeat is not None:
                    heartbeat.release(receipt_handle)  # so the heartbeat does not undo the delay
                with contextlib.suppress(TransientError):
                    deps.requests.extend_visibility(receipt_handle, delay)
        raise
    deps.responses.send(result.to_json())
    faults.point("process.after_result", request.job_id)
    return result


def load_sibling(request: ProcessRequest, image_id: str, deps: ProcessDeps) -> bytes:
    """Bytes of another upload of the same job (a ``reference`` image)."""
    if not valid_image_id(image_id):
        raise PermanentError(f"reference {image_id!r} is not an image of this job")
    key = request.key.rsplit("/", 1)[0] + "/" + image_id
    data = deps.store.read(key)
    if data is None:
        raise TransientError(f"the reference image {image_id} has not been uploaded yet")
    return data


def already_written(request: ProcessRequest, out_key: str, mark: str, deps: ProcessDeps) -> ProcessResult | None:
    """The result of the output an earlier attempt wrote for this very request, if any."""
    existing = deps.store.head(out_key)
    if existing is None or existing.get("Metadata", {}).get("fingerprint") != mark:
        return None
    meta = existing["Metadata"]
    return ProcessResult.succeeded(
        request.job_id,
        request.image_id,
        output_key=out_key,
        width=int(meta["width"]),
        height=int(meta["height"]),
        bytes=int(existing["ContentLength"]),
        duration_ms=int(meta.get("duration-ms", 0)),
        outcome=Outcome.from_dict(_json_or_none(meta.get("outcome"))),
    )


def _json_or_none(text: str | None) -> object:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def dropped(request: ProcessRequest, deps: ProcessDeps) -> bool:
    """Whether the image's job was cancelled or deleted since the request was sent (one read:
    a cancelled job's requests are dropped when they come up, never rendered)."""
    image = deps.jobs.get_image(request.job_id, request.image_id)
    return image is None or image.error == CANCELLED


def process_request(request: ProcessRequest, deps: ProcessDeps, *, first_delivery: bool = False) -> ProcessResult:
    """Render one image (idempotently: the same request always writes the same output).

    A redelivered message first looks for the output an earlier attempt may have written, and
    re-sends its result without rendering again. A first delivery skips that look (a HEAD per
    image, a 404 nearly every time): in the rare case that a duplicate of the message was
    already processed, rendering again writes the same bytes and notify counts the result once.
    """
    s = deps.settings
    started = time.monotonic()
    log = {"job_id": request.job_id, "image_id": request.image_id, "operations": [o.op for o in request.operations]}
    data: bytes | None = None
    output = request.output
    if output.format == AUTO:  # the output's format (and key) depends on the source
        data = deps.store.read(request.key)
        output = imageio.output_for(data, output) if data is not None else output.resolve(None, False)
    out_key = keys.output_key_for(request.key, s.uploads_prefix, s.outputs_prefix, output.extension)
    mark = fingerprint(request)

    done = None if first_delivery else already_written(request, out_key, mark, deps)
    if done is not None:
        logger.info("output already written; re-sending its result", extra=log)
        metrics.add_metric(name="ImagesAlreadyDone", unit="Count", value=1)
        return done
    if dropped(request, deps):
        logger.info("image not rendered: its job was cancelled or deleted", extra=log)
        metrics.add_metric(name="ImagesSkipped", unit="Count", value=1)
        return ProcessResult.cancelled(request.job_id, request.image_id)
    try:
        if data is None:
            data = deps.store.read(request.key)
        if data is None:
            raise PermanentError("the upload no longer exists")
        faults.point("process.before_render", f"{request.job_id}.{request.image_id}", request.job_id)
        rendered = pipeline.render(
            data,
            ops.bind(request.operations),  # the message is input: validated once, here
            output,
            load_reference=lambda image_id: load_sibling(request, image_id, deps),
            max_pixels=s.max_pixels,
            max_bytes=s.max_upload_bytes,
            budget_seconds=s.operation_budget_seconds,
            settings=s,
        )
    except PermanentError as exc:
        duration_ms = int((time.monotonic() - started) * 1000)
        cause = f"{type(exc.__cause__).__name__}: {exc.__cause__}"[:500] if exc.__cause__ else None
        logger.info("image failed", extra={**log, "error": exc.message, "cause": cause, "duration_ms": duration_ms})
        metrics.add_metric(name="ImagesFailed", unit="Count", value=1)
        return ProcessResult.failed(request.job_id, request.image_id, exc.message, duration_ms)

    duration_ms = int((time.monotonic() - started) * 1000)
    facts = {k: v for k, v in rendered.outcome.to_dict().items() if k != "summary"}
    meta = {"width": str(rendered.width), "height": str(rendered.height), "outcome": json.dumps(facts, separators=(",", ":"))}
    deps.store.write(
        out_key, rendered.body, rendered.content_type, {"fingerprint": mark, **meta, "duration-ms": str(duration_ms)}
    )
    faults.point("process.after_output", request.job_id)
    done_log = {"duration_ms": duration_ms, "bytes": len(rendered.body), "width": rendered.width, "height": rendered.height}
    logger.info("image processed", extra={**log, **done_log, "outcome": facts})
    metrics.add_metric(name="ImagesProcessed", unit="Count", value=1)
    return ProcessResult.succeeded(
        request.job_id,
        request.image_id,
        output_key=out_key,
        width=rendered.width,
        height=rendered.height,
        bytes=len(rendered.body),
        duration_ms=duration_ms,
        outcome=rendered.outcome,
    )
