"""Configuration from environment variables, validated into typed settings objects.

Every variable is set in ``template.yaml`` (and by the embedded stack, which reads the same
template). Nothing here hard-codes a bucket, table or queue name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T", bound="_EnvSettings")


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _convert(name: str, raw: str, kind: Any) -> Any:
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (bool, "bool"):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        return raw
    except ValueError as exc:
        raise SettingsError(f"environment variable {name}={raw!r} is not a valid {kind}") from exc


@dataclass(frozen=True, kw_only=True)
class _EnvSettings:
    """Fields map to upper-cased environment variables; fields without default are required."""

    @classmethod
    def from_env(cls: type[T], env: Mapping[str, str] | None = None) -> T:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        missing = []
        for f in fields(cls):
            key = f.name.upper()
            if key in env and env[key] != "":
                values[f.name] = _convert(key, env[key], f.type)
            elif f.default is MISSING and f.default_factory is MISSING:
                missing.append(key)
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class StorageSettings(_EnvSettings):
    bucket_name: str
    uploads_prefix: str = "uploads/"
    outputs_prefix: str = "outputs/"


@dataclass(frozen=True, kw_only=True)
class PushQueues(_EnvSettings):
    events_queue_url: str
    """The FIFO queue of the WebSocket fan-out."""
    webhook_queue_url: str
    """The webhook delivery queue."""


@dataclass(frozen=True, kw_only=True)
class ApiSettings(StorageSettings, PushQueues):
    jobs_table: str
    job_retention_days: int = 30
    """A job's records expire with its outputs (``OutputRetentionDays``); 0 keeps them."""
    max_images_per_job: int = 1000
    max_upload_bytes: int = 50 * 1024 * 1024
    upload_url_ttl_seconds: int = 900
    download_url_ttl_seconds: int = 900
    max_pixels: int = 50_000_000
    max_body_bytes: int = 1024 * 1024
    max_jobs_in_flight: int = 20
    max_images_per_day: int = 20_000
    max_bytes_per_day: int = 100 * 1024**3
    allow_private_callbacks: bool = False
    """Accept http:// callback URLs to loopback receivers (the embedded stack's
    ``--allow-private-callbacks``); otherwise only https:// to public addresses."""
    websocket_url: str
    """Where clients follow a job's events (``wss://`` on AWS)."""
    response_queue_url: str
    """Where the job's upload deadline is scheduled (a delayed message notify acts on): required,
    or abandoned uploads would keep jobs running forever."""
    upload_grace_seconds: int = 300
    """After the upload URLs expire, how long uploads that started in time may still land."""


@dataclass(frozen=True, kw_only=True)
class EnqueueSettings(StorageSettings, PushQueues):
    jobs_table: str
    request_queue_url: str
    upload_events_queue_url: str
    """Enqueue's source queue, whose messages it leases while a batch works."""
    visibility_lease_seconds: int = 30
    max_upload_bytes: int = 50 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class OperationSettings(_EnvSettings):
    """What operations are configured with; they receive it through the chain's context
    (:class:`retouch.ops.context.ChainContext`), never from the environment.

    ``COLORIZE_MODEL_PATH``: an ONNX model for colorize ``auto`` (default: the model packaged with
    Retouch); ``COLORIZE_LIBRARY_PATH``: a reference library ``.npz`` for ``auto``, used instead
    of the model when set and no model path is (see :mod:`retouch.ops.colorize.library`)."""

    colorize_model_path: str = ""
    colorize_library_path: str = ""


@dataclass(frozen=True, kw_only=True)
class ProcessSettings(StorageSettings, OperationSettings):
    response_queue_url: str
    request_queue_url: str
    visibility_lease_seconds: int = 30
    """A batch's messages are hidden this long while it works, extended as long as it does."""
    max_receive_count: int = 5
    """Deliveries before the request queue dead-letters a message (its redrive policy)."""
    retry_base_seconds: int = 15
    """First retry delay after a transient failure; doubles with every further attempt."""
    max_pixels: int = 50_000_000
    max_upload_bytes: int = 50 * 1024 * 1024
    operation_budget_seconds: float = 120.0
    jobs_table: str
    """Where a redelivered batch marks the image it renders (see :mod:`retouch.logic.crashes`)."""


@dataclass(frozen=True, kw_only=True)
class NotifySettings(PushQueues):
    jobs_table: str
    uploads_prefix: str = "uploads/"
    max_receive_count: int = 5
    response_queue_url: str
    """Notify's source queue: its messages are leased while a batch works, and upload deadlines
    that arrive early are sent to it again."""
    visibility_lease_seconds: int = 30


@dataclass(frozen=True, kw_only=True)
class SweeperSettings(PushQueues):
    """The scheduled dead-letter sweeper: the dead-letter queues it reads, and what recording a
    result needs (the jobs table, the push queues)."""

    jobs_table: str
    uploads_prefix: str = "uploads/"
    max_receive_count: int = 5
    """Deliveries before a queue dead-letters a message: the "gave up after N attempts" told."""
    request_dlq_url: str
    response_dlq_url: str
    upload_events_dlq_url: str


@dataclass(frozen=True, kw_only=True)
class PushSettings(_EnvSettings):
    """The WebSocket routes and the fan-out of events to connections."""

    jobs_table: str
    bucket_name: str
    download_url_ttl_seconds: int = 900
    """Image events carry a download link valid this long (made as they are sent)."""
    events_queue_url: str
    websocket_management_url: str
    """The management API endpoint that posts to connections (API Gateway's, or the embedded
    stack's)."""
    visibility_lease_seconds: int = 30


@dataclass(frozen=True, kw_only=True)
class AuthorizerSettings(_EnvSettings):
    """The WebSocket ``$connect`` authorizer: which tokens are this stack's."""

    jobs_table: str
    """Where API keys are looked up."""
    user_pool_id: str
    user_pool_client_ids: str
    """Comma-separated: the app clients whose access tokens are accepted (the HTTP API's audience)."""
    aws_region: str = "us-east-1"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.aws_region}.amazonaws.com/{self.user_pool_id}"

    @property
    def client_ids(self) -> frozenset[str]:
        return frozenset(c.strip() for c in self.user_pool_client_ids.split(",") if c.strip())


@dataclass(frozen=True, kw_only=True)
class WebhookSettings(_EnvSettings):
    """Webhook deliveries."""

    jobs_table: str
    job_retention_days: int = 30
    """The delivery log is kept as long as its job (0: until the job is deleted)."""
    bucket_name: str
    download_url_ttl_seconds: int = 900
    """Image events carry a download link valid this long (made as they are sent)."""
    webhook_queue_url: str
    allow_private_callbacks: bool = False
    retry_hours: float = 24.0
    """Failed deliveries are retried, with exponential backoff and jitter, this long."""
    visibility_lease_seconds: int = 30


@dataclass(frozen=True, kw_only=True)
class PreviewSettings(OperationSettings):
    """``POST /preview``: one small image through the operations, answered synchronously."""

    max_preview_bytes: int = 4 * 1024 * 1024
    """Largest image accepted: Lambda's 6 MB synchronous payload holds it base64-encoded."""
    max_preview_pixels: int = 4_000_000
    """The page sends at most 1024 px on the long side (1 MP); anything far larger is refused."""
    preview_budget_seconds: float = 20.0
    max_preview_operations: int = 6
    """Operations one preview may chain (the page's presets use at most four)."""
    max_preview_response_bytes: int = 6 * 1024 * 1024
    """Lambda's synchronous response limit: the rendered image travels base64-encoded in it."""
    previews_per_minute: int = 60
    previews_at_once: int = 2
    """Per user: a person tweaking a slider, not a client farming renders (answered 429)."""
    jobs_table: str


def normalize_domain(domain: str) -> str:
    """``" @Example.COM. "`` -> ``"example.com"``: lower case, no ``@``, no trailing dot or spaces."""
    return domain.strip().lstrip("@").rstrip(".").lower()


@dataclass(frozen=True, kw_only=True)
class SignUpSettings(_EnvSettings):
    signup_email_domains: str = ""
    """Comma-separated domains whose addresses may sign up (the ``SignUpEmailDomains`` parameter)."""

    @property
    def allowed_domains(self) -> frozenset[str]:
        """The list as normalized domains (:func:`normalize_domain`), blanks dropped."""
        return frozenset(d for d in (normalize_domain(part) for part in self.signup_email_domains.split(",")) if d)
