"""The HTTP API: create jobs with presigned uploads, report status, list operations.

Routes (all behind the JWT authorizer; the caller is the token's ``sub``):

* ``POST /jobs``            - create a job; returns presigned POSTs, one per image
* ``GET  /jobs``            - the caller's recent jobs
* ``GET  /jobs/{job_id}``   - status, counts, per-image results and download URLs
* ``GET  /operations``      - the operation registry
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from retouch import keys, ops
from retouch.errors import InvalidParameters, NotFound, RetouchError, Unauthorized, ValidationError
from retouch.logic import openapi
from retouch.logic.deps import ApiDeps, api_deps
from retouch.models import (
    FORMAT_CHOICES,
    OUTPUT_FORMATS,
    ImageRecord,
    ImageUpload,
    Job,
    OperationSpec,
    OutputSpec,
    UploadDeadline,
    image_id_for,
    now_iso,
    valid_job_id,
)
from retouch.observability import logger, metrics

app = APIGatewayHttpResolver()

MAX_NAME_LENGTH = 255


# --- request validation -------------------------------------------------------------------
def parse_body(raw: str | None, max_bytes: int) -> dict[str, Any]:
    if raw is None or raw == "":
        raise ValidationError("the request body must be a JSON object")
    if len(raw.encode()) > max_bytes:
        raise ValidationError(f"the request body is {len(raw.encode())} bytes; the limit is {max_bytes} bytes")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"the request body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    return body


def parse_images(raw: Any, max_images: int, max_bytes: int) -> list[ImageUpload]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("'images' must be a non-empty list of {name, content_type, size}")
    if len(raw) > max_images:
        raise ValidationError(f"a job may have at most {max_images} images, got {len(raw)}")
    images = []
    for n, item in enumerate(raw):
        where = f"images[{n}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where} must be an object with name, content_type and size")
        extra = sorted(set(item) - {"name", "content_type", "size"})
        if extra:
            raise ValidationError(f"{where}: unknown field {extra[0]!r} (allowed: name, content_type, size)")
        name, ctype, size = item.get("name"), item.get("content_type"), item.get("size")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH or "\x00" in name:
            raise ValidationError(f"{where}.name must be a non-empty string of at most {MAX_NAME_LENGTH} characters")
        if not isinstance(ctype, str) or not ctype.startswith("image/") or len(ctype) > 100:
            raise ValidationError(f"{where}.content_type must be an image/* type, got {ctype!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValidationError(f"{where}.size must be a number of bytes, got {size!r}")
        if size > max_bytes:
            raise ValidationError(f"{where} ({name}) is {size} bytes; the limit is {max_bytes} bytes")
        images.append(ImageUpload(name=name, content_type=ctype, size=size))
    return images


def parse_callback(raw: Any, allow_http: bool) -> str | None:
    """An optional URL that receives the job summary (signed) when the job completes."""
    if raw is None:
        return None
    schemes = ("https://", "http://") if allow_http else ("https://",)
    if not isinstance(raw, str) or not raw.startswith(schemes) or len(raw) > 2048 or any(c.isspace() for c in raw):
        raise ValidationError(f"callback_url must be an {' or '.join(s[:-3] for s in schemes)} URL of at most 2048 characters")
    return raw


def parse_output(raw: Any) -> OutputSpec:
    if raw is None:
        return OutputSpec()
    if isinstance(raw, str):
        return OutputSpec(format=raw)
    if not isinstance(raw, dict) or set(raw) - {"format", "quality"}:
        raise ValidationError("'output' must be a format name or an object with format and quality")
    default = OutputSpec()
    return OutputSpec(format=raw.get("format", default.format), quality=raw.get("quality", default.quality))


def resolve_references(operations: tuple[OperationSpec, ...], images: list[ImageUpload]) -> tuple[OperationSpec, ...]:
    """``reference=<name>`` names another image of the job; store it as that image's id."""
    ids: dict[str, str] = {}
    for n, img in enumerate(images):
        ids.setdefault(img.name, image_id_for(n))
    out = []
    for spec in operations:
        ref = spec.params.get(ops.registry.REFERENCE_PARAM)
        if isinstance(ref, str):
            if ref not in ids:
                raise ValidationError(f"{spec.op}: reference {ref!r} is not the name of an image in this job")
            spec = OperationSpec(spec.op, {**spec.params, ops.registry.REFERENCE_PARAM: ids[ref]})
        out.append(spec)
    return tuple(out)


# --- use cases ----------------------------------------------------------------------------
def create_job(owner: str, body: dict[str, Any], deps: ApiDeps) -> dict[str, Any]:
    s = deps.settings
    unknown = set(body) - {"images", "operations", "output", "callback_url"}
    if unknown:
        raise ValidationError(f"unknown field {sorted(unknown)[0]!r} (allowed: images, operations, output, callback_url)")
    callback_url = parse_callback(body.get("callback_url"), s.allow_http_callbacks)
    images = parse_images(body.get("images"), s.max_images_per_job, s.max_upload_bytes)
    try:
        operations = ops.validate_operations(body.get("operations"))
    except InvalidParameters as exc:
        raise ValidationError(exc.message) from None
    output = parse_output(body.get("output"))
    operations = resolve_references(operations, images)

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
        callback_secret=secrets.token_hex(32) if callback_url else None,
        job_id=job_id,
        owner=owner,
        operations=operations,
        output=output,
        total=len(records),
        created_at=now_iso(),
        images=records,
    )
    deps.jobs.create(job)
    if deps.responses is not None:
        wait = s.upload_url_ttl_seconds + s.upload_grace_seconds
        deps.responses.send(UploadDeadline(job_id, time.time() + wait).to_json(), delay_seconds=wait)
    expires_at = (datetime.now(UTC) + timedelta(seconds=s.upload_url_ttl_seconds)).isoformat(timespec="seconds")
    uploads = []
    for rec in records:
        post = deps.store.presigned_post(rec.upload_key, rec.content_type, s.max_upload_bytes, s.upload_url_ttl_seconds)
        uploads.append({"image_id": rec.image_id, "name": rec.name, "url": post["url"], "fields": post["fields"]})
    logger.info("job created", extra={"job_id": job_id, "images": len(records), "operations": [o.op for o in operations]})
    metrics.add_metric(name="JobsCreated", unit="Count", value=1)
    metrics.add_metric(name="ImagesRequested", unit="Count", value=len(records))
    return {
        "job_id": job_id,
        "status": job.status.value,
        "total": job.total,
        "operations": [o.to_dict() for o in operations],
        "output": {"format": output.format, "quality": output.quality},
        "uploads": uploads,
        "upload_expires_at": expires_at.replace("+00:00", "Z"),
        "max_upload_bytes": s.max_upload_bytes,
        **({"callback_url": callback_url, "callback_secret": job.callback_secret} if callback_url else {}),
    }


def format_of_key(key: str) -> str:
    """An output's format, from its key's extension (what ``auto`` chose for it)."""
    extension = key.rsplit(".", 1)[-1]
    return next((fmt for fmt, ext in OUTPUT_FORMATS.items() if ext == extension), extension)


def job_status(owner: str, job_id: str, deps: ApiDeps) -> dict[str, Any]:
    job = deps.jobs.get(job_id) if valid_job_id(job_id) else None
    if job is None or job.owner != owner:
        raise NotFound(f"job {job_id} not found")  # another user's job is indistinguishable from none
    ttl = deps.settings.download_url_ttl_seconds
    images = []
    for img in job.images:
        entry: dict[str, Any] = {"image_id": img.image_id, "name": img.name, "status": img.status.value}
        for field in ("width", "height", "bytes", "duration_ms", "error"):
            if getattr(img, field) is not None:
                entry[field] = getattr(img, field)
        if img.output_key:
            entry["download_url"] = deps.store.presigned_get(img.output_key, ttl)
            entry["format"] = format_of_key(img.output_key)
        images.append(entry)
    return {
        "job_id": job.job_id,
        "status": job.status.value,
        "created_at": job.created_at,
        "completed_at": job.completed_at,
        "total": job.total,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "remaining": job.remaining,
        "operations": [o.to_dict() for o in job.operations],
        "output": {"format": job.output.format, "quality": job.output.quality},
        "images": images,
        "download_urls_expire_in": ttl,
    }


def list_jobs(owner: str, deps: ApiDeps) -> dict[str, Any]:
    return {
        "jobs": [
            {
                "job_id": j.job_id,
                "status": j.status.value,
                "created_at": j.created_at,
                "total": j.total,
                "succeeded": j.succeeded,
                "failed": j.failed,
            }
            for j in deps.jobs.list_for_owner(owner)
        ]
    }


# --- routes -------------------------------------------------------------------------------
def caller() -> str:
    """The authenticated user: the ``sub`` claim the JWT authorizer verified."""
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer is not None else None
    sub = (claims or {}).get("sub")
    if not sub:
        raise Unauthorized("a valid bearer token is required")
    return str(sub)


@app.post("/jobs")
def _create_job() -> Response[Any]:
    owner = caller()
    deps = api_deps()
    body = parse_body(app.current_event.decoded_body, deps.settings.max_body_bytes)
    return _json(201, create_job(owner, body, deps))


@app.get("/jobs")
def _list_jobs() -> Response[Any]:
    return _json(200, list_jobs(caller(), api_deps()))


@app.get("/jobs/<job_id>")
def _job_status(job_id: str) -> Response[Any]:
    return _json(200, job_status(caller(), job_id, api_deps()))


@app.get("/operations")
def _operations() -> Response[Any]:
    caller()
    return _json(200, {"operations": ops.describe_all(), "output_formats": list(FORMAT_CHOICES)})


@app.get("/openapi.json")
def _openapi() -> Response[Any]:
    return _json(200, openapi.document(api_deps().settings.max_images_per_job))


@app.exception_handler(RetouchError)
def _domain_error(exc: RetouchError) -> Response[Any]:
    status = exc.http_status
    if status >= 500:
        logger.exception("request failed")
    return _json(status, {"error": {"type": type(exc).__name__, "message": exc.message}})


@app.not_found
def _not_found(_: Exception) -> Response[Any]:
    return _json(
        404, {"error": {"type": "NotFound", "message": f"no route {app.current_event.http_method} {app.current_event.path}"}}
    )


def _json(status: int, body: dict[str, Any]) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))
