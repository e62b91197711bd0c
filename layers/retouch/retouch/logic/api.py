"""The API's use cases: create a job, report its status, list jobs and operations.

The routes (``functions/upload_url/app.py``) validate requests with :mod:`retouch.apimodels` and call
these; they take the caller and typed input, and return typed bodies.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from retouch import apimodels as m
from retouch import events, keys
from retouch.adapters import webhooks
from retouch.adapters.jobs import JobCursor
from retouch.adapters.quotas import Limits
from retouch.adapters.table import user_pk
from retouch.errors import Conflict, NotFound, ValidationError
from retouch.logic.deps import ApiDeps
from retouch.logic.links import with_download_links
from retouch.logic.results import record_job
from retouch.models import (
    FORMAT_CHOICES,
    OUTPUT_FORMATS,
    PUBLIC_RESULT_FIELDS,
    ImageRecord,
    ImageUpload,
    Job,
    JobStatus,
    OperationSpec,
    ProcessResult,
    UploadDeadline,
    image_id_for,
    now_iso,
    valid_image_id,
    valid_job_id,
)
from retouch.observability import logger, metrics
from retouch.ops import specs
from retouch.settings import ApiSettings
from retouch.sniff import SUPPORTED


def check_images(images: list[m.ImageIn], max_images: int, max_bytes: int) -> list[ImageUpload]:
    """The limits the stack's settings set (the models check each image's shape)."""
    if len(images) > max_images:
        raise ValidationError(f"a job may have at most {max_images} images, got {len(images)}")
    for n, img in enumerate(images):
        if img.size > max_bytes:
            raise ValidationError(f"images[{n}] ({img.name}) is {img.size} bytes; the limit is {max_bytes} bytes")
    return [ImageUpload(name=img.name, content_type=img.content_type, size=img.size) for img in images]


def check_callback(url: str | None, allow_private: bool) -> str | None:
    """An optional URL that receives the job's events (signed): only where Retouch may call
    (public https; loopback too on the embedded stack). Delivery checks again."""
    if url is None:
        return None
    try:
        webhooks.check_callback(url, allow_private=allow_private)
    except webhooks.UnsafeCallback as exc:
        raise ValidationError(str(exc)) from None
    return url


def resolve_references(operations: tuple[OperationSpec, ...], images: list[ImageUpload]) -> tuple[OperationSpec, ...]:
    """``reference=<name>`` names another image of the job; store it as that image's id."""
    ids: dict[str, str] = {}
    for n, img in enumerate(images):
        ids.setdefault(img.name, image_id_for(n))
    out = []
    for spec in operations:
        ref = spec.params.get(specs.REFERENCE_PARAM)
        if isinstance(ref, str):
            if ref not in ids:
                raise ValidationError(f"{spec.op}: reference {ref!r} is not the name of an image in this job")
            spec = OperationSpec(spec.op, {**spec.params, specs.REFERENCE_PARAM: ids[ref]})
        out.append(spec)
    return tuple(out)


# --- use cases ----------------------------------------------------------------------------
IDEMPOTENCY_HOURS = 24
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
"""An ``Idempotency-Key``: 1 to 255 visible ASCII characters (a UUID, say)."""


def create_job_once(owner: str, key: str | None, request: m.JobRequest, deps: ApiDeps, context: Any) -> m.JobCreated:
    """:func:`create_job`, once per ``Idempotency-Key`` (if given) and user for 24 hours: a retry
    with the same key and body answers the job the first request created (Powertools'
    idempotency utility, records in the jobs table under the user's partition); the same key
    with another body is a 409."""
    if key is None:
        return create_job(owner, request, deps)
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationError("the Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID, say)")
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    store = DynamoDBPersistenceLayer(
        table_name=deps.settings.jobs_table,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=user_pk(owner),
        expiry_attr="expires_at",
        boto3_client=deps.jobs.ddb,
    )
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_HOURS * 3600,
        lambda_context=context,
    )

    @idempotent_function(data_keyword_argument="submission", persistence_store=store, config=config, key_prefix="POST /jobs")
    def create(submission: dict[str, Any]) -> dict[str, Any]:
        return create_job(owner, request, deps).model_dump(mode="json")

    try:
        return m.JobCreated(**create(submission={"key": key, "body": request.model_dump(mode="json")}))
    except IdempotencyValidationError:
        raise Conflict(
            f"this Idempotency-Key was used for another request body in the last {IDEMPOTENCY_HOURS} hours; "
            "use a new key for a new job"
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict("a request with this Idempotency-Key is still being answered; try again in a moment") from None


def create_job(owner: str, request: m.JobRequest, deps: ApiDeps) -> m.JobCreated:
    s = deps.settings
    callback_url = check_callback(request.callback_url, s.allow_private_callbacks)
    callback_events = tuple(request.callback_events or events.DEFAULT_CALLBACK_EVENTS)
    images = check_images(request.images, s.max_images_per_job, s.max_upload_bytes)
    chain = request.chain()  # bound once, when the request was validated
    chain.check_request(s.max_pixels)
    output = request.output_spec()
    operations = resolve_references(chain.specs, images)

    job_id = "j-" + uuid.uuid4().hex
    records = [
        ImageRecord(
            image_id=image_id_for(n),
            name=img.name,
            upload_key=keys.upload_key(s.uploads_prefix, owner, job_id, image_id_for(n)),
            content_type=img.content_type,
            size=img.size,
        )
        for n, img in enumerate(images)
    ]
    job = Job(
        callback_url=callback_url,
        callback_events=callback_events,
        job_id=job_id,
        owner=owner,
        operations=operations,
        output=output,
        total=len(records),
        created_at=now_iso(),
        images=records,
    )
    limits = Limits(s.max_jobs_in_flight, s.max_images_per_day, s.max_bytes_per_day)
    deps.quotas.reserve(owner, len(records), sum(r.size for r in records), limits)
    try:
        deps.jobs.create(job)
    except Exception:
        deps.quotas.release(owner)
        raise
    wait = s.upload_url_ttl_seconds + s.upload_grace_seconds
    deps.responses.send(UploadDeadline(job_id, time.time() + wait).to_json(), delay_seconds=wait)
    expires_at = (datetime.now(UTC) + timedelta(seconds=s.upload_url_ttl_seconds)).isoformat(timespec="seconds")
    uploads: list[m.Upload] = []
    for rec in records:
        post = deps.store.presigned_post(rec.upload_key, rec.content_type, rec.size, s.upload_url_ttl_seconds)
        uploads.append(m.Upload(image_id=rec.image_id, name=rec.name, url=post["url"], fields=post["fields"]))
    logger.info("job created", extra={"job_id": job_id, "images": len(records), "operations": [o.op for o in operations]})
    metrics.add_metric(name="JobsCreated", unit="Count", value=1)
    metrics.add_metric(name="ImagesRequested", unit="Count", value=len(records))
    return m.JobCreated(
        job_id=job_id,
        status=job.status.value,
        total=job.total,
        operations=[m.OperationOut(**o.to_dict()) for o in operations],
        output=m.OutputOut(format=output.format, quality=output.quality),
        uploads=uploads,
        upload_expires_at=expires_at.replace("+00:00", "Z"),
        max_upload_bytes=s.max_upload_bytes,
        websocket_url=s.websocket_url or None,
        callback_url=callback_url,
        callback_events=list(callback_events) if callback_url else None,
    )


def format_of_key(key: str) -> str:
    """An output's format, from its key's extension (what ``auto`` chose for it)."""
    extension = key.rsplit(".", 1)[-1]
    return next((fmt for fmt, ext in OUTPUT_FORMATS.items() if ext == extension), extension)


def job_status(owner: str, job_id: str, deps: ApiDeps, *, limit: int = m.STATUS_PAGE, cursor: str | None = None) -> m.JobStatus:
    """The job's counters (from its item) and one page of its images (``limit`` after ``cursor``):
    reads what it returns, however many images the job has."""
    job = deps.jobs.get(job_id, with_images=False) if valid_job_id(job_id) else None
    if job is None or job.owner != owner:
        raise NotFound(f"job {job_id} not found")  # another user's job is indistinguishable from none
    after = decode_image_cursor(cursor, job_id) if cursor else None
    page, last = deps.jobs.images_page(job_id, after, limit)
    ttl = deps.settings.download_url_ttl_seconds
    images = []
    for img in page:
        entry: dict[str, object] = {"image_id": img.image_id, "name": img.name, "status": img.status.value}
        entry |= {k: v for k, v in img.result_fields().items() if k in PUBLIC_RESULT_FIELDS}
        if img.output_key:
            extension = img.output_key.rsplit(".", 1)[-1]
            entry["output_name"] = keys.download_name(img.name, extension)
            entry["download_url"] = deps.store.presigned_get(img.output_key, ttl, download_name=str(entry["output_name"]))
            entry["format"] = format_of_key(img.output_key)
        images.append(m.ImageOut.model_validate(entry))
    return m.JobStatus(
        job_id=job.job_id,
        status=job.status.value,
        created_at=job.created_at,
        completed_at=job.completed_at,
        total=job.total,
        succeeded=job.succeeded,
        failed=job.failed,
        remaining=job.remaining,
        operations=[m.OperationOut(**o.to_dict()) for o in job.operations],
        output=m.OutputOut(format=job.output.format, quality=job.output.quality),
        images=images,
        download_urls_expire_in=ttl,
        websocket_url=deps.settings.websocket_url or None,
        cancelled_at=job.cancelled_at,
        next_cursor=_encode([job_id, last]) if last else None,
    )


def list_jobs(owner: str, deps: ApiDeps, limit: int = 50, cursor: str | None = None) -> m.JobList:
    """The caller's jobs, newest first, a page at a time: ``next_cursor`` asks for the next page."""
    jobs, after = deps.jobs.list_for_owner(owner, limit, decode_cursor(cursor) if cursor else None)
    return m.JobList(
        jobs=[
            m.JobSummary(
                job_id=j.job_id,
                status=j.status.value,
                created_at=j.created_at,
                total=j.total,
                succeeded=j.succeeded,
                failed=j.failed,
            )
            for j in jobs
        ],
        next_cursor=encode_cursor(after) if after else None,
    )


def _encode(parts: list[str]) -> str:
    """A cursor: opaque to clients, where their next page starts."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, UnicodeDecodeError):
        parts = None
    if not (isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) and len(p) <= 40 for p in parts)):
        raise ValidationError("cursor is not one this API gave out; use next_cursor as it came")
    return parts


def encode_cursor(after: JobCursor) -> str:
    """Where the next page of a user's jobs starts."""
    return _encode([after.created_at, after.job_id])


def decode_cursor(cursor: str) -> JobCursor:
    created_at, job_id = _decode(cursor)
    if not valid_job_id(job_id):
        raise ValidationError("cursor is not one this API gave out; use next_cursor as it came")
    return JobCursor(created_at, job_id)


def decode_image_cursor(cursor: str, job_id: str) -> str:
    """The image the next page of job ``job_id``'s images starts after."""
    of_job, image_id = _decode(cursor)
    if not (of_job == job_id and valid_image_id(image_id)):
        raise ValidationError("cursor is not one this API gave out; use next_cursor as it came")
    return str(image_id)


def cancel_job(owner: str, job_id: str, deps: ApiDeps) -> m.JobStatus:
    """Stop work on the job: every image not rendered yet fails as cancelled (its request, when
    it comes up, is dropped: process renders no image of a cancelled job), which completes the
    job with the usual events, its completion saying ``"cancelled": true``. Nothing more is
    rendered or counted. Cancelling a complete job changes nothing."""
    job = _own_job(owner, job_id, deps)
    if job.status is JobStatus.RUNNING:
        deps.jobs.mark_cancelled(job_id)
        full = deps.jobs.get(job_id)
        todo = [ProcessResult.cancelled(job_id, i.image_id) for i in (full.images if full else []) if not i.status.terminal]
        record_job(job_id, todo, deps.jobs, deps.publisher)
        logger.info("job cancelled", extra={"job_id": job_id, "images_cancelled": len(todo)})
        metrics.add_metric(name="JobsCancelled", unit="Count", value=1)
    return job_status(owner, job_id, deps)


def delete_job(owner: str, job_id: str, deps: ApiDeps) -> None:
    """Remove the job for good: it is cancelled first (so nothing is rendered or recorded after),
    then its originals and outputs, and every item of it (images, events, deliveries)."""
    job = _own_job(owner, job_id, deps)
    if job.status is JobStatus.RUNNING:
        cancel_job(owner, job_id, deps)
    s = deps.settings
    prefix = keys.job_prefix(owner, job_id)
    objects = deps.store.delete_prefix(s.uploads_prefix + prefix) + deps.store.delete_prefix(s.outputs_prefix + prefix)
    items = deps.jobs.delete_job(job_id)
    logger.info("job deleted", extra={"job_id": job_id, "objects": objects, "items": items})
    metrics.add_metric(name="JobsDeleted", unit="Count", value=1)


def create_api_key(owner: str, request: m.ApiKeyRequest, deps: ApiDeps) -> m.ApiKeyCreated:
    key, token = deps.keys.create(owner, request.name)
    logger.info("API key created", extra={"key_id": key.key_id})
    return m.ApiKeyCreated(key_id=key.key_id, name=key.name, created_at=key.created_at, key=token)


def list_api_keys(owner: str, deps: ApiDeps) -> m.ApiKeyList:
    return m.ApiKeyList(keys=[m.ApiKeyOut(key_id=k.key_id, name=k.name, created_at=k.created_at) for k in deps.keys.list(owner)])


def revoke_api_key(owner: str, key_id: str, deps: ApiDeps) -> None:
    if not deps.keys.revoke(owner, key_id):
        raise NotFound(f"API key {key_id} not found")
    logger.info("API key revoked", extra={"key_id": key_id})


_DEFAULTS = {f.name: f.default for f in fields(ApiSettings)}


def list_operations(max_upload_bytes: int | None = None, max_pixels: int | None = None) -> m.OperationList:
    """``GET /operations``: every operation (in a person's words too), the output formats, and the
    limits an upload is checked against: the stack's settings, or, when not given (``retouch
    ops``), the defaults a stack is deployed with."""
    limits = {
        "max_upload_bytes": _DEFAULTS["max_upload_bytes"] if max_upload_bytes is None else max_upload_bytes,
        "max_pixels": _DEFAULTS["max_pixels"] if max_pixels is None else max_pixels,
        "formats": list(SUPPORTED),
    }
    return m.OperationList.model_validate(
        {"operations": specs.describe_all(), "output_formats": list(FORMAT_CHOICES), "limits": limits}
    )


def route_not_found(method: str, path: str) -> NotFound:
    return NotFound(f"no route {method} {path}")


def _own_job(owner: str, job_id: str, deps: ApiDeps) -> Job:
    job = deps.jobs.get(job_id, with_images=False) if valid_job_id(job_id) else None
    if job is None or job.owner != owner:
        raise NotFound(f"job {job_id} not found")  # another user's job is indistinguishable from none
    return job


MAX_EVENTS_PAGE = 1000


def job_events(owner: str, job_id: str, after: int, deps: ApiDeps) -> m.EventList:
    """The job's events with ``seq > after``, in order (at most 1000; ask again after the last)."""
    _own_job(owner, job_id, deps)
    found = deps.jobs.events_after(job_id, after, MAX_EVENTS_PAGE)
    ttl = deps.settings.download_url_ttl_seconds
    return m.EventList.model_validate({"events": with_download_links(job_id, found, deps.jobs, deps.store, ttl)})


def job_deliveries(owner: str, job_id: str, deps: ApiDeps) -> m.DeliveryList:
    _own_job(owner, job_id, deps)
    return m.DeliveryList.model_validate({"deliveries": deps.deliveries.entries(job_id)})


def webhook_secret(owner: str, deps: ApiDeps, *, rotate: bool = False) -> m.WebhookSecret:
    if not rotate:
        return m.WebhookSecret(secret=deps.secrets.current(owner))
    secret, until = deps.secrets.rotate(owner)
    return m.WebhookSecret(
        secret=secret,
        previous_valid_until=datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
