"""Messages, jobs and images: the data that crosses function boundaries.

Everything here is plain data with explicit (de)serialisation, so a message written by one
function version can be read by the next. ``schema`` numbers the message format.
"""

from __future__ import annotations

import json
import re
from dataclasses import KW_ONLY, asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from retouch.errors import ValidationError
from retouch.outcome import Outcome

SCHEMA_VERSION = 1

OUTPUT_FORMATS: dict[str, str] = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
"""Output format name -> file extension."""

AUTO = "auto"
FORMAT_CHOICES: tuple[str, ...] = (AUTO, *OUTPUT_FORMATS)
"""What a job may ask for: a format, or ``auto`` - the source's format where it can be written
(JPEG stays JPEG, PNG stays PNG, WebP and AVIF stay so), otherwise PNG when the image has
transparency and JPEG when it has none (GIF, TIFF, BMP, HEIC)."""

CONTENT_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}

_JOB_ID = re.compile(r"j-[0-9a-f]{32}")
_IMAGE_ID = re.compile(r"i[0-9]{4,6}")


class ImageStatus(StrEnum):
    PENDING = "pending"  # job created, upload not yet seen
    QUEUED = "queued"  # upload seen, request message sent
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (ImageStatus.SUCCEEDED, ImageStatus.FAILED)


class JobStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"


def now_iso() -> str:
    """The current UTC time, ISO 8601 with milliseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def image_id_for(index: int) -> str:
    """Image ids are positional and zero-padded, so keys sort in upload order."""
    return f"i{index:04d}"


def valid_job_id(job_id: str) -> bool:
    return bool(_JOB_ID.fullmatch(job_id))


def valid_image_id(image_id: str) -> bool:
    return bool(_IMAGE_ID.fullmatch(image_id))


@dataclass(frozen=True)
class OperationSpec:
    """One requested operation: its registry name and validated parameters."""

    op: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, raw: Any) -> OperationSpec:
        if not isinstance(raw, dict) or not isinstance(raw.get("op"), str):
            raise ValidationError(f"an operation must be an object with an 'op' name, got {raw!r}")
        extra = sorted(set(raw) - {"op", "params"})
        if extra:
            raise ValidationError(f"operation {raw['op']!r}: unknown field {extra[0]!r} (allowed: op, params)")
        params = raw.get("params")
        params = {} if params is None else params
        if not isinstance(params, dict):
            raise ValidationError(f"operation {raw['op']!r}: 'params' must be an object")
        return cls(op=raw["op"], params=params)


@dataclass(frozen=True)
class OutputSpec:
    format: str = AUTO
    quality: int = 88

    def __post_init__(self) -> None:
        if not isinstance(self.format, str) or self.format not in FORMAT_CHOICES:
            raise ValidationError(f"output format {self.format!r} is not supported; choose one of {', '.join(FORMAT_CHOICES)}")
        if not isinstance(self.quality, int) or isinstance(self.quality, bool) or not 1 <= self.quality <= 100:
            raise ValidationError(f"output quality must be an integer from 1 to 100, got {self.quality!r}")

    def resolve(self, source_format: str | None, has_alpha: bool) -> OutputSpec:
        """The concrete format for a source (``auto`` decided; any other format is kept)."""
        if self.format != AUTO:
            return self
        if source_format in OUTPUT_FORMATS:
            return OutputSpec(source_format, self.quality)
        return OutputSpec("png" if has_alpha else "jpeg", self.quality)

    @property
    def extension(self) -> str:
        """The file extension (of a resolved spec: ``auto`` has none until the source is known)."""
        if self.format == AUTO:
            raise ValueError("an 'auto' output has no extension until it is resolved for a source")
        return OUTPUT_FORMATS[self.format]

    @property
    def content_type(self) -> str:
        self.extension  # noqa: B018 - refuses an unresolved 'auto'
        return CONTENT_TYPES[self.format]


@dataclass(frozen=True)
class ProcessRequest:
    """The image index on the request queue: everything a worker needs for one image."""

    job_id: str
    image_id: str
    name: str
    bucket: str
    key: str
    operations: tuple[OperationSpec, ...]
    output: OutputSpec
    schema: int = SCHEMA_VERSION

    def to_json(self) -> str:
        body = asdict(self)
        body["operations"] = [o.to_dict() for o in self.operations]
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProcessRequest:
        try:
            raw = json.loads(text)
            return cls(
                job_id=raw["job_id"],
                image_id=raw["image_id"],
                name=raw["name"],
                bucket=raw["bucket"],
                key=raw["key"],
                operations=tuple(OperationSpec.from_dict(o) for o in raw["operations"]),
                output=OutputSpec(**raw["output"]),
                schema=raw.get("schema", SCHEMA_VERSION),
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise ValidationError(f"malformed request message: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class ImageResult:
    """What became of one image: the one definition of an image's result fields, embedded in
    the worker's verdict (:class:`ProcessResult`), the stored image (:class:`ImageRecord`), and
    from there ``GET /jobs/{id}`` and image events (:func:`ImageResult.result_fields`)."""

    status: ImageStatus = ImageStatus.PENDING
    output_key: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    error: str | None = None
    duration_ms: int | None = None
    outcome: Outcome | None = None
    """What the operations did (:mod:`retouch.outcome`); a succeeded image's."""

    def result_fields(self) -> dict[str, Any]:
        """The result's known fields as plain values (``status`` aside; ``outcome`` as its
        dict, with its sentence): what is stored, reported and sent."""
        out: dict[str, Any] = {}
        for name in RESULT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value.to_dict() if isinstance(value, Outcome) else value
        return out

    @staticmethod
    def read_fields(raw: dict[str, Any]) -> dict[str, Any]:
        """The result fields (``status`` aside) in ``raw`` - a stored item, a message - typed
        back (what :meth:`result_fields` wrote)."""
        out: dict[str, Any] = {}
        for name in RESULT_FIELDS:
            value = raw.get(name)
            if value is None:
                continue
            if name == "outcome":
                out[name] = Outcome.from_dict(value)
            else:
                out[name] = str(value) if name in ("output_key", "error") else int(value)
        return out


RESULT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ImageResult) if f.name != "status")
"""An image's result fields beside its status, in one place (stored, reported, sent)."""
PUBLIC_RESULT_FIELDS: tuple[str, ...] = tuple(f for f in RESULT_FIELDS if f != "output_key")
"""What clients see of a result (the output's key is ours: they get a name and a link)."""


@dataclass(frozen=True)
class ProcessResult(ImageResult):
    """A worker's verdict on one image, sent to the response queue."""

    job_id: str
    image_id: str
    _: KW_ONLY
    gave_up: bool = False
    """The image failed because its message was dead-lettered; a redrive may still succeed."""
    schema: int = SCHEMA_VERSION
    kind: Literal["result"] = "result"

    def to_json(self) -> str:
        body = asdict(self)
        body["status"] = self.status.value
        body["outcome"] = self.outcome.to_dict() if self.outcome is not None else None
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProcessResult:
        message = parse_response(text)
        if not isinstance(message, ProcessResult):
            raise ValidationError(f"malformed result message: it is a {message.kind!r} message")
        return message

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ProcessResult:
        try:
            raw = {**raw, **ImageResult.read_fields(raw), "status": ImageStatus(raw["status"])}
            if not raw["status"].terminal:
                raise ValueError(f"a result must be terminal, got {raw['status']}")
            return cls(**raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"malformed result message: {exc}") from exc

    @classmethod
    def succeeded(
        cls,
        job_id: str,
        image_id: str,
        *,
        output_key: str,
        width: int,
        height: int,
        bytes: int,
        duration_ms: int | None = None,
        outcome: Outcome | None = None,
    ) -> ProcessResult:
        return cls(
            job_id=job_id,
            image_id=image_id,
            status=ImageStatus.SUCCEEDED,
            output_key=output_key,
            width=width,
            height=height,
            bytes=bytes,
            duration_ms=duration_ms,
            outcome=outcome,
        )

    @classmethod
    def failed(
        cls, job_id: str, image_id: str, error: str, duration_ms: int | None = None, *, gave_up: bool = False
    ) -> ProcessResult:
        return cls(
            job_id=job_id, image_id=image_id, status=ImageStatus.FAILED, error=error, duration_ms=duration_ms, gave_up=gave_up
        )

    @classmethod
    def given_up(cls, job_id: str, image_id: str, attempts: int, reason: str) -> ProcessResult:
        """The image failed because its message was tried ``attempts`` times: the one wording of
        it, whoever gives up (process on its last attempt, or the dead-letter sweeper)."""
        return cls.failed(job_id, image_id, f"gave up after {attempts} attempts: {reason}", gave_up=True)

    @classmethod
    def cancelled(cls, job_id: str, image_id: str) -> ProcessResult:
        """The image was not processed: its owner cancelled the job (counted with the failed)."""
        return cls.failed(job_id, image_id, CANCELLED)


CANCELLED = "Cancelled before it was processed."
"""The error of an image its owner cancelled (:meth:`ProcessResult.cancelled`)."""


@dataclass(frozen=True)
class UploadDeadline:
    """A delayed message on the response queue: when it is due, images of the job that were
    never uploaded are failed, so an abandoned upload cannot keep a job running forever."""

    job_id: str
    not_before: float
    """Unix time after which no upload that started in time can still land."""
    kind: Literal["upload-deadline"] = "upload-deadline"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> UploadDeadline:
        try:
            return cls(job_id=str(raw["job_id"]), not_before=float(raw["not_before"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"malformed upload deadline: {exc}") from exc


ResponseMessage = ProcessResult | UploadDeadline
"""What the response queue carries, told apart by ``kind`` (a result when it is absent: messages
written before the field existed)."""
_RESPONSE_KINDS: dict[str, type[ProcessResult] | type[UploadDeadline]] = {
    "result": ProcessResult,
    "upload-deadline": UploadDeadline,
}


def parse_response(text: str) -> ResponseMessage:
    """One response-queue message, parsed by its ``kind``; a malformed one raises
    :class:`ValidationError` (so it is retried, then dead-lettered for inspection)."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"malformed response message: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValidationError("malformed response message: not an object")
    kind = raw.get("kind", "result")
    if kind not in _RESPONSE_KINDS:
        raise ValidationError(f"malformed response message: unknown kind {kind!r}")
    return _RESPONSE_KINDS[kind].from_dict(raw)


@dataclass(frozen=True)
class ImageUpload:
    """An image the user announces when creating a job."""

    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ImageRecord(ImageResult):
    """One image of a job, as stored: what was announced, and its result so far."""

    image_id: str
    name: str
    upload_key: str
    _: KW_ONLY
    content_type: str = ""
    size: int = 0


@dataclass
class Job:
    """A job, as stored: who owns it, what to do, and how far it got."""

    job_id: str
    owner: str
    operations: tuple[OperationSpec, ...]
    output: OutputSpec
    total: int
    created_at: str
    status: JobStatus = JobStatus.RUNNING
    succeeded: int = 0
    failed: int = 0
    completed_at: str | None = None
    images: list[ImageRecord] = field(default_factory=list)
    callback_url: str | None = None
    """Where the job's events are delivered as webhooks (optional)."""
    callback_events: tuple[str, ...] = ("job",)
    """Which events the webhook receives: ``job`` (completion), ``image`` (each result)."""
    seq: int = 0
    """The job's last event number (see :mod:`retouch.events`)."""
    cancelled_at: str | None = None
    """When its owner cancelled it: the images not processed by then failed as cancelled."""

    @property
    def remaining(self) -> int:
        return self.total - self.succeeded - self.failed


# --- recording results (planned by retouch.logic.recording, written by the jobs repository) ---
@dataclass(frozen=True)
class Counted:
    """What recording a result did: ``counted`` it (False for a duplicate), whether that
    ``completed`` the job, and the events it stands for."""

    counted: bool
    completed: bool = False
    stored: list[tuple[int, str]] = field(default_factory=list)
    """``(seq, type)`` of the events this result stands for: stored now, or by the first
    recording of a duplicate (to be pushed again)."""
    webhook_types: tuple[str, ...] = ()
    """The event types the job's webhook receives (none without a callback URL)."""

    def __bool__(self) -> bool:
        return self.counted


@dataclass(frozen=True)
class ImageChange:
    """One image moving to its result: only from the status it was read in (``was``)."""

    result: ProcessResult
    was: str
    event: dict[str, Any]
    """Its event, numbered (``event["seq"]``)."""


@dataclass(frozen=True)
class Recording:
    """One transaction's worth of changes to a job (see the module docstring)."""

    job_id: str
    owner: str
    prev_seq: int
    """The job's ``seq`` as read (the write's condition); ``None`` in the item reads as 0."""
    head_has_seq: bool
    changes: list[ImageChange]
    counters: dict[str, int]
    """Non-zero amounts to add to the job's ``succeeded``/``failed``/``remaining``."""
    job_event: dict[str, Any] | None
    """The job's completion event, when these results complete it."""
    expires_at: int | None
    webhook_types: tuple[str, ...]
    verdicts: list[Counted | None]
    """Per result, in order: a duplicate's verdict, or None for a result this plan records."""
    now: str

    @property
    def completes(self) -> bool:
        return self.job_event is not None

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event the transaction stores, in ``seq`` order."""
        return [c.event for c in self.changes] + ([self.job_event] if self.job_event else [])

    @property
    def seq(self) -> int:
        """The job's ``seq`` after the transaction."""
        return self.prev_seq + len(self.events)

    def counted(self) -> list[Counted]:
        """What recording did for each result, once the transaction is written."""
        recorded = [Counted(True, stored=[(c.event["seq"], "image")], webhook_types=self.webhook_types) for c in self.changes]
        if self.job_event is not None and recorded:
            last = recorded[-1]
            recorded[-1] = Counted(True, True, [*last.stored, (self.seq, "job")], self.webhook_types)
        it = iter(recorded)
        return [v if v is not None else next(it) for v in self.verdicts]
