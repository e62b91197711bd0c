"""The HTTP API's request and response bodies, as Pydantic models.

The API function validates requests with them (``APIGatewayHttpResolver(enable_validation=True)``)
and its OpenAPI document is generated from them, so the document cannot drift from what the API
accepts. Operations are a discriminated union (on ``op``) built from the operation specs
(:mod:`retouch.ops.specs`); their parameters are checked by the specs themselves, so the API, the
CLI and the process function share one set of rules and messages.

Light: Pydantic and the specs only (no numpy, OpenCV or Pillow).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    SkipValidation,
    WithJsonSchema,
    create_model,
    model_serializer,
)

from retouch.errors import RetouchError
from retouch.events import EVENT_TYPES
from retouch.models import FORMAT_CHOICES, OutputSpec
from retouch.ops import specs

MAX_NAME_LENGTH = 255
"""An image's name (its file name), in characters."""
MAX_URL_LENGTH = 2048
"""A callback URL, in characters."""
MAX_CONTENT_TYPE_LENGTH = 100
CONTENT_TYPE_PATTERN = r"^image/[A-Za-z0-9.+-]+$"


def _domain(check: Callable[[Any], Any]) -> BeforeValidator:
    """A validator that runs a domain check and reports its message as the API's message."""

    def run(value: Any) -> Any:
        try:
            return check(value)
        except RetouchError as exc:
            raise ValueError(exc.message) from None

    return BeforeValidator(run)


# --- operations -------------------------------------------------------------------------------
def _param_field(p: specs.Param) -> tuple[Any, Any]:
    """A parameter as the document states it: its kind's own JSON Schema (:mod:`retouch.ops.params`),
    or null, which means the default."""
    outer: dict[str, Any] = {"description": p.help}
    if p.default is not None:
        outer["json_schema_extra"] = {"default": p.default}
    schema = WithJsonSchema({"anyOf": [p.json_schema(), {"type": "null"}]})
    return Annotated[Any, schema], Field(None, **outer)


def _operation_model(op: specs.Operation) -> type[BaseModel]:
    params = create_model(  # type: ignore[call-overload]
        f"{op.name.title().replace('_', '')}Params",
        __config__=ConfigDict(extra="forbid"),
        **{p.name: _param_field(p) for p in op.params},
    )
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        op.name.title().replace("_", "") + "Operation",
        __config__=ConfigDict(extra="forbid", title=op.name, json_schema_extra={"description": op.summary}),
        op=(Literal[op.name], ...),
        params=(params | None, None),
    )
    return model


OPERATION_MODELS: tuple[type[BaseModel], ...] = tuple(_operation_model(op) for op in specs.OPERATIONS)
"""The document's description of each operation. Requests are not validated with these models:
:func:`retouch.ops.bind` validates the operations once, into the :class:`~retouch.ops.Chain`
that ``JobRequest.operations`` holds."""

Operation = Annotated[Union[OPERATION_MODELS], Field(discriminator="op")]  # type: ignore[valid-type]  # noqa: UP007
"""One requested operation: ``{"op": name, "params": {...}}``, one variant per operation."""

Operations = Annotated[
    list[Operation],
    Field(min_length=1, max_length=specs.MAX_OPERATIONS),
    SkipValidation,
    _domain(specs.bind),
    PlainSerializer(lambda chain: chain.to_dicts(), return_type=list[dict[str, Any]]),
]
"""The operations of a request, documented as a list of :data:`Operation` and validated once, by
:func:`retouch.ops.bind`, into a bound :class:`~retouch.ops.Chain` (serialised back as the
normalised ``{op, params}`` list)."""


def _output(raw: Any) -> Any:
    if raw is None:
        return None
    spec = OutputSpec(format=raw) if isinstance(raw, str) else None
    if isinstance(raw, dict) and not set(raw) - {"format", "quality"}:
        default = OutputSpec()
        spec = OutputSpec(format=raw.get("format", default.format), quality=raw.get("quality", default.quality))
    if spec is None:
        raise ValueError("'output' must be a format name or an object with format and quality")
    return {"format": spec.format, "quality": spec.quality}


# --- requests ---------------------------------------------------------------------------------
def _name(raw: Any) -> Any:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_NAME_LENGTH:
        raise ValueError(f"must be a non-empty string of at most {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in raw):
        raise ValueError("must not contain control characters or unpaired surrogates")
    return raw


def _content_type(raw: Any) -> Any:
    if not isinstance(raw, str) or not raw.startswith("image/") or len(raw) > MAX_CONTENT_TYPE_LENGTH:
        raise ValueError(f"must be an image/* type, got {raw!r}")
    return raw


MAX_DECLARED_BYTES = 2**40


def _size(raw: Any) -> Any:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= MAX_DECLARED_BYTES:
        raise ValueError("must be a whole number of bytes")
    return raw


def _callback(raw: Any) -> Any:
    if raw is not None and (
        not isinstance(raw, str)
        or not raw.startswith(("https://", "http://"))
        or len(raw) > MAX_URL_LENGTH
        or any(c.isspace() for c in raw)
    ):
        raise ValueError(f"must be an https URL of at most {MAX_URL_LENGTH} characters")
    return raw


class ImageIn(BaseModel):
    """An image the job will receive: its file name, type and size in bytes."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, BeforeValidator(_name), Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    content_type: Annotated[
        str, BeforeValidator(_content_type), Field(max_length=MAX_CONTENT_TYPE_LENGTH, pattern=CONTENT_TYPE_PATTERN)
    ]
    size: Annotated[int, BeforeValidator(_size), Field(ge=0, description="bytes")]


class Output(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal[FORMAT_CHOICES] = Field(  # type: ignore[valid-type]
        "auto",
        description="auto: the source's format where it can be written, else JPEG, or PNG with transparency",
    )
    quality: int = Field(88, ge=1, le=100)


class JobRequest(BaseModel):
    """``POST /jobs``: the images to upload, the operations to apply in order, the output."""

    model_config = ConfigDict(extra="forbid")

    images: Annotated[list[ImageIn], Field(min_length=1)]
    operations: Operations
    output: Annotated[
        Output | Literal[FORMAT_CHOICES] | None,  # type: ignore[valid-type]
        _domain(_output),
        Field(description="a format name, or {format, quality}; null means auto, quality 88"),
    ] = None
    callback_url: Annotated[
        Annotated[str, Field(max_length=MAX_URL_LENGTH)] | None,
        BeforeValidator(_callback),
        Field(description="receives the job's events as signed webhooks (see the README)"),
    ] = None
    callback_events: Annotated[
        Annotated[list[Literal[EVENT_TYPES]], Field(min_length=1, max_length=len(EVENT_TYPES))] | None,  # type: ignore[valid-type]
        Field(description='which events the webhook receives; default ["job"]'),
    ] = None

    def chain(self) -> specs.Chain:
        """The operations, bound once when the request was validated (see :data:`Operations`)."""
        chain: specs.Chain = self.operations  # type: ignore[assignment]  # a Chain at run time
        return chain

    def output_spec(self) -> OutputSpec:
        out = self.output
        if isinstance(out, Output):
            return OutputSpec(format=out.format, quality=out.quality)
        return OutputSpec() if out is None else OutputSpec(format=out)


# --- responses --------------------------------------------------------------------------------
class Sparse(BaseModel):
    """A body whose optional fields are left out when they have no value (not sent as null)."""

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error the API answers: ``{"error": {"type", "message"}}``."""

    error: ErrorDetail


class Upload(BaseModel):
    image_id: str
    name: str
    url: str
    fields: dict[str, str]


class OutputOut(BaseModel):
    format: str
    quality: int


class OperationOut(BaseModel):
    op: str
    params: dict[str, Any]


class JobCreated(Sparse):
    job_id: str
    status: str
    total: int
    operations: list[OperationOut]
    output: OutputOut
    uploads: list[Upload]
    upload_expires_at: str
    max_upload_bytes: int
    websocket_url: str | None = None
    """Follow the job's events: connect with ``?token=``, send a subscribe message."""
    callback_url: str | None = None
    callback_events: list[str] | None = None


class OutcomeOut(Sparse):
    """What the operations did to the image (:class:`retouch.outcome.Outcome`): the facts that
    are known (a fact is absent when no operation looked), and ``summary``, one plain sentence."""

    summary: str
    faces_found: int | None = None
    red_eyes_fixed: int | None = None
    eyes_looked_at: int | None = None
    teeth_whitened: int | None = None
    colorized: bool | None = None
    already_in_colour: bool | None = None
    faces_outside: int | None = None


class ImageOut(Sparse):
    image_id: str
    name: str
    status: Literal["pending", "queued", "succeeded", "failed"]
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    duration_ms: int | None = None
    error: str | None = None
    outcome: OutcomeOut | None = None
    """A succeeded image's: what changed ("2 red eyes fixed."), or why nothing did."""
    download_url: str | None = None
    """Short-lived (``download_urls_expire_in``); the download is named ``output_name``."""
    output_name: str | None = None
    """The output's file name: the input's name with the output format's extension."""
    format: str | None = None


class JobStatus(BaseModel):
    job_id: str
    status: Literal["running", "complete"]
    created_at: str
    completed_at: str | None = None
    total: int
    succeeded: int
    failed: int
    remaining: int
    operations: list[OperationOut]
    output: OutputOut
    images: list[ImageOut]
    download_urls_expire_in: int
    websocket_url: str | None = None
    cancelled_at: str | None = None
    """When its owner cancelled it (its unprocessed images failed as cancelled)."""
    next_cursor: str | None = None
    """More images follow: pass as ``cursor`` for the next page (``images`` is one page, in id
    order; the counters are the whole job's). Null on the last page."""


STATUS_PAGE = 100
"""Images per page of ``GET /jobs/{id}`` unless ``limit`` says otherwise (at most
:data:`STATUS_PAGE_MAX`)."""
STATUS_PAGE_MAX = 1000


class JobSummary(BaseModel):
    job_id: str
    status: Literal["running", "complete"]
    created_at: str
    total: int
    succeeded: int
    failed: int


class JobList(BaseModel):
    jobs: list[JobSummary]
    """Newest first."""
    next_cursor: str | None = None
    """Pass as ``cursor`` for the next page; null on the last page."""


class ParamOut(BaseModel):
    """One parameter (its kind's facts, such as ``minimum`` or ``choices``, are listed too)."""

    model_config = ConfigDict(extra="allow")

    name: str
    type: str
    help: str
    """What it does, technically (``retouch ops``)."""
    label: str
    """Its name in a person's words (the web page's)."""
    plain_help: str
    """What it does in a person's words, no formula."""
    ui: str | None = None
    """Not typed in: ``points`` are placed on one photo, ``photo`` names another photo of the job."""
    choice_labels: dict[str, str] | None = None
    """A ``choice``'s values in a person's words."""
    suggestions: list[str] | None = None
    """Usual values to pick from (an ``aspect``'s shapes)."""


class OperationDescription(BaseModel):
    name: str
    summary: str
    label: str
    """The task a person chooses ("Fix red eyes")."""
    task_help: str
    """What the task does, in plain words."""
    preset: dict[str, Any]
    """The settings the task starts with, beyond the parameters' defaults."""
    order: int
    """Where the task sits among the others: the page offers and applies them in this order."""
    params: list[ParamOut]


class UploadLimits(BaseModel):
    """What an upload is checked against (the stack's settings): a page checks files before sending them."""

    max_upload_bytes: int
    max_pixels: int
    """Images whose header declares more pixels fail before decoding."""
    formats: list[str]
    """The image formats read (sniffed from the file's first bytes, whatever its name)."""


class OperationList(BaseModel):
    operations: list[OperationDescription]
    output_formats: list[str]
    limits: UploadLimits


class Event(BaseModel):
    """One job event (see the README: the same JSON is pushed on the WebSocket and by webhooks)."""

    model_config = ConfigDict(extra="allow")

    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    job_id: str
    seq: int
    at: str


class EventList(BaseModel):
    events: list[Event]


class DeliveryOut(BaseModel):
    seq: int
    attempt: int
    at: str
    status: int | None = None
    """The receiver's HTTP status; null when it never answered."""
    error: str | None = None
    delivered: bool


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


class WebhookSecret(Sparse):
    secret: str
    """Signs every webhook of the user's jobs (``Retouch-Signature``)."""
    previous_valid_until: str | None = None
    """After a rotation, the old secret also signs until then."""


class ApiKeyRequest(BaseModel):
    """``POST /api-keys``: a name to tell the key apart (where it is used)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    created_at: str


class ApiKeyCreated(ApiKeyOut):
    key: str
    """``Authorization: Bearer <key>`` on every route and ``?token=<key>`` on the WebSocket. Shown
    this once: only a hash of it is kept."""


class ApiKeyList(BaseModel):
    keys: list[ApiKeyOut]
