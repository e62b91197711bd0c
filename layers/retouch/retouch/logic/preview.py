"""preview: the chosen operations applied to one small image, answered synchronously.

``POST /preview?operations=<JSON list of {op, params}>&format=jpeg&quality=85`` with the image
as the body (``Content-Type: image/*``) answers the rendered image. It runs
:func:`retouch.pipeline.render`, exactly what the process function runs for each image of a
job, under limits that fit a synchronous call: the body must fit Lambda's 6 MB payload once
base64-encoded (:attr:`PreviewSettings.max_preview_bytes`), and the page sends at most 1024 px
on the long side, so large images are refused rather than slowly rendered.

A preview is paid for synchronously, so each user gets a rate and a number of previews running
at once (429 with ``Retry-After`` beyond either), a chain of at most
:attr:`~PreviewSettings.max_preview_operations`, and an answer that fits Lambda's response limit
(a larger one is refused with a plain 400 on AWS and locally alike). The function's reserved
concurrency (``PreviewConcurrency``) keeps all users together from starving the image pipeline.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

from retouch import pipeline
from retouch.adapters.quotas import PreviewLimits
from retouch.errors import ImageTooLarge, ValidationError
from retouch.logic.deps import PreviewDeps
from retouch.models import AUTO, OutputSpec
from retouch.observability import logger, metrics
from retouch.ops import specs
from retouch.settings import PreviewSettings


@dataclass(frozen=True)
class PreviewRequest:
    """What one ``POST /preview`` asks for, parsed and validated."""

    image: bytes
    operations: specs.Chain
    output: OutputSpec


def parse_request(event: APIGatewayProxyEventV2, settings: PreviewSettings) -> PreviewRequest:
    """The image (binary body), its operations and output from the query string.

    :raises ValidationError: not an image content type, an empty or oversized body, bad JSON, an
        unknown operation or a bad parameter.
    """
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if not content_type.startswith("image/"):
        raise ValidationError(f"send the image itself as the body with an image/* Content-Type, not {content_type or 'none'}")
    raw = event.body or ""
    declared = len(raw) * 3 // 4 if event.is_base64_encoded else len(raw)
    if declared > settings.max_preview_bytes + 4:
        raise ImageTooLarge(f"the preview image is {declared} bytes; the limit is {settings.max_preview_bytes} bytes")
    try:
        image = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode("latin-1")
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValidationError("the request body is not a binary image") from exc
    if not image:
        raise ValidationError("the request body is empty; send the image as the body")
    if len(image) > settings.max_preview_bytes:
        raise ImageTooLarge(f"the preview image is {len(image)} bytes; the limit is {settings.max_preview_bytes} bytes")
    query = event.query_string_parameters or {}
    try:
        requested = json.loads(query.get("operations") or "[]")
    except json.JSONDecodeError as exc:
        raise ValidationError("the 'operations' query parameter must be a JSON list of {op, params} objects") from exc
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise ValidationError("a number in the 'operations' query parameter is too long") from exc
    if isinstance(requested, list) and len(requested) > settings.max_preview_operations:
        raise ValidationError(f"a preview may chain at most {settings.max_preview_operations} operations, got {len(requested)}")
    operations = specs.bind(requested)
    fmt = query.get("format") or "jpeg"
    try:
        quality = int(query.get("quality") or 85)
    except ValueError as exc:
        raise ValidationError("output quality must be an integer from 1 to 100") from exc
    return PreviewRequest(image, operations, OutputSpec(fmt, quality))


def render_preview(request: PreviewRequest, settings: PreviewSettings) -> pipeline.Rendered:
    """The process function's pipeline on the preview image (``auto`` previews as the source's format)."""
    started = time.monotonic()
    rendered = pipeline.render(
        request.image,
        request.operations,
        request.output if request.output.format != AUTO else OutputSpec(AUTO, request.output.quality),
        max_pixels=settings.max_preview_pixels,
        max_bytes=settings.max_preview_bytes,
        budget_seconds=settings.preview_budget_seconds,
        settings=settings,
    )
    duration_ms = int((time.monotonic() - started) * 1000)
    logger.info(
        "preview rendered",
        extra={
            "operations": [o.op for o in request.operations],
            "bytes_in": len(request.image),
            "bytes_out": len(rendered.body),
            "width": rendered.width,
            "height": rendered.height,
            "duration_ms": duration_ms,
        },
    )
    metrics.add_metric(name="PreviewsRendered", unit="Count", value=1)
    return rendered


def check_response_size(rendered: pipeline.Rendered, settings: PreviewSettings) -> None:
    """Refuse an answer that would not fit Lambda's synchronous response once base64-encoded."""
    encoded = 4 * -(-len(rendered.body) // 3) + RESPONSE_OVERHEAD_BYTES
    if encoded > settings.max_preview_response_bytes:
        raise ValidationError(
            f"the preview came out at {len(rendered.body) / 1e6:.1f} MB, more than a preview can send back; "
            "choose JPEG or WebP, or a smaller image"
        )


RESPONSE_OVERHEAD_BYTES = 2048
"""The response's headers and JSON framing around the base64 body."""


def preview(event: APIGatewayProxyEventV2, owner: str, deps: PreviewDeps) -> pipeline.Rendered:
    """One ``POST /preview`` by ``owner``: parse and validate, take a place within the user's
    preview limits, render, and check the answer fits."""
    s = deps.settings
    request = parse_request(event, s)
    limits = PreviewLimits(s.previews_per_minute, s.previews_at_once, int(s.preview_budget_seconds) + 10)
    slot = deps.quotas.start_preview(owner, limits)
    try:
        rendered = render_preview(request, s)
    finally:
        deps.quotas.end_preview(owner, slot)
    check_response_size(rendered, s)
    return rendered
