"""Dependencies of each function: settings plus adapters over process-wide clients.

Each ``*_deps()`` is built once per process (cached); tests and the embedded stack point the
clients at an emulator through ``AWS_ENDPOINT_URL`` and call :func:`reset` after changing the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from retouch import settings as cfg
from retouch.adapters.apikeys import ApiKeyRepository
from retouch.adapters.aws import client, reset_clients
from retouch.adapters.connections import ConnectionRepository, ConnectionSender
from retouch.adapters.jobs import JobRepository
from retouch.adapters.publisher import EventPublisher
from retouch.adapters.queue import MessageQueue
from retouch.adapters.quotas import QuotaRepository
from retouch.adapters.storage import ObjectStore
from retouch.adapters.webhook_store import DeliveryLog, WebhookSecrets
from retouch.adapters.webhooks import WebhookSender
from retouch.models import Job


@dataclass(frozen=True)
class ApiDeps:
    settings: cfg.ApiSettings
    store: ObjectStore
    jobs: JobRepository
    responses: MessageQueue
    secrets: WebhookSecrets
    deliveries: DeliveryLog
    quotas: QuotaRepository
    keys: ApiKeyRepository
    publisher: EventPublisher
    """Pushes the events of a cancelled job's completion."""


@dataclass(frozen=True)
class EnqueueDeps:
    settings: cfg.EnqueueSettings
    store: ObjectStore
    jobs: JobRepository
    requests: MessageQueue
    publisher: EventPublisher
    events: MessageQueue
    """The upload-events queue (enqueue's source), for the lease on a batch's messages."""
    known_jobs: dict[str, Job] = field(default_factory=dict)
    """Jobs seen by this process (their owner, operations and output never change)."""


@dataclass(frozen=True)
class ProcessDeps:
    settings: cfg.ProcessSettings
    store: ObjectStore
    requests: MessageQueue
    responses: MessageQueue
    jobs: JobRepository
    """Only for the crash marks of a redelivered batch (:mod:`retouch.logic.crashes`)."""


@dataclass(frozen=True)
class NotifyDeps:
    settings: cfg.NotifySettings
    jobs: JobRepository
    publisher: EventPublisher
    responses: MessageQueue
    """The response queue: notify's source (leased while a batch works), and where upload
    deadlines that arrived early are re-scheduled."""


@dataclass(frozen=True)
class SweeperDeps:
    settings: cfg.SweeperSettings
    jobs: JobRepository
    publisher: EventPublisher
    dead_letters: dict[str, MessageQueue]
    """The dead-letter queues the sweeper reads: ``requests``, ``responses``, ``upload-events``."""


@dataclass(frozen=True)
class PushDeps:
    settings: cfg.PushSettings
    jobs: JobRepository
    connections: ConnectionRepository
    sender: ConnectionSender
    events: MessageQueue
    store: ObjectStore
    """Presigns the download links of image events."""


@dataclass(frozen=True)
class AuthorizerDeps:
    settings: cfg.AuthorizerSettings
    keys: ApiKeyRepository
    cognito: Any
    """A Cognito identity provider client (``GetUser``)."""


@dataclass(frozen=True)
class PreviewDeps:
    settings: cfg.PreviewSettings
    quotas: QuotaRepository


@dataclass(frozen=True)
class SignUpDeps:
    settings: cfg.SignUpSettings


@dataclass(frozen=True)
class SiteDeps:
    s3: Any
    """An S3 client: the page's files go to the bucket named in the custom resource's request."""


@dataclass(frozen=True)
class WebhookDeps:
    settings: cfg.WebhookSettings
    jobs: JobRepository
    secrets: WebhookSecrets
    deliveries: DeliveryLog
    queue: MessageQueue
    sender: WebhookSender
    store: ObjectStore
    """Presigns the download links of image events."""


def _publisher(s: cfg.PushQueues) -> EventPublisher:
    return EventPublisher(
        events=MessageQueue(client("sqs"), s.events_queue_url), webhooks=MessageQueue(client("sqs"), s.webhook_queue_url)
    )


@lru_cache(maxsize=1)
def api_deps() -> ApiDeps:
    s = cfg.ApiSettings.from_env()
    ddb = client("dynamodb")
    return ApiDeps(
        s,
        ObjectStore(client("s3"), s.bucket_name),
        JobRepository(ddb, s.jobs_table, s.job_retention_days),
        MessageQueue(client("sqs"), s.response_queue_url),
        WebhookSecrets(ddb, s.jobs_table),
        DeliveryLog(ddb, s.jobs_table),
        QuotaRepository(ddb, s.jobs_table),
        ApiKeyRepository(ddb, s.jobs_table),
        _publisher(s),
    )


@lru_cache(maxsize=1)
def enqueue_deps() -> EnqueueDeps:
    s = cfg.EnqueueSettings.from_env()
    return EnqueueDeps(
        s,
        ObjectStore(client("s3"), s.bucket_name),
        JobRepository(client("dynamodb"), s.jobs_table),
        MessageQueue(client("sqs"), s.request_queue_url),
        publisher=_publisher(s),
        events=MessageQueue(client("sqs"), s.upload_events_queue_url),
    )


@lru_cache(maxsize=1)
def process_deps() -> ProcessDeps:
    s = cfg.ProcessSettings.from_env()
    return ProcessDeps(
        s,
        ObjectStore(client("s3"), s.bucket_name),
        MessageQueue(client("sqs"), s.request_queue_url),
        MessageQueue(client("sqs"), s.response_queue_url),
        JobRepository(client("dynamodb"), s.jobs_table),
    )


@lru_cache(maxsize=1)
def notify_deps() -> NotifyDeps:
    s = cfg.NotifySettings.from_env()
    return NotifyDeps(
        s, JobRepository(client("dynamodb"), s.jobs_table), _publisher(s), MessageQueue(client("sqs"), s.response_queue_url)
    )


@lru_cache(maxsize=1)
def sweeper_deps() -> SweeperDeps:
    s = cfg.SweeperSettings.from_env()
    urls = {"requests": s.request_dlq_url, "responses": s.response_dlq_url, "upload-events": s.upload_events_dlq_url}
    return SweeperDeps(
        s,
        JobRepository(client("dynamodb"), s.jobs_table),
        _publisher(s),
        {name: MessageQueue(client("sqs"), url) for name, url in urls.items()},
    )


@lru_cache(maxsize=1)
def push_deps() -> PushDeps:
    s = cfg.PushSettings.from_env()
    ddb = client("dynamodb")
    management = client("apigatewaymanagementapi", endpoint_url=s.websocket_management_url)
    return PushDeps(
        s,
        JobRepository(ddb, s.jobs_table),
        ConnectionRepository(ddb, s.jobs_table),
        ConnectionSender(management),
        MessageQueue(client("sqs"), s.events_queue_url),
        ObjectStore(client("s3"), s.bucket_name),
    )


@lru_cache(maxsize=1)
def authorizer_deps() -> AuthorizerDeps:
    s = cfg.AuthorizerSettings.from_env()
    return AuthorizerDeps(s, ApiKeyRepository(client("dynamodb"), s.jobs_table), client("cognito-idp"))


@lru_cache(maxsize=1)
def preview_deps() -> PreviewDeps:
    s = cfg.PreviewSettings.from_env()
    return PreviewDeps(s, QuotaRepository(client("dynamodb"), s.jobs_table))


@lru_cache(maxsize=1)
def signup_deps() -> SignUpDeps:
    return SignUpDeps(cfg.SignUpSettings.from_env())


@lru_cache(maxsize=1)
def site_deps() -> SiteDeps:
    return SiteDeps(client("s3"))


@lru_cache(maxsize=1)
def webhook_deps() -> WebhookDeps:
    s = cfg.WebhookSettings.from_env()
    ddb = client("dynamodb")
    return WebhookDeps(
        s,
        JobRepository(ddb, s.jobs_table),
        WebhookSecrets(ddb, s.jobs_table),
        DeliveryLog(ddb, s.jobs_table),
        MessageQueue(client("sqs"), s.webhook_queue_url),
        WebhookSender(allow_private=s.allow_private_callbacks),
        ObjectStore(client("s3"), s.bucket_name),
    )


def reset() -> None:
    """Forget settings and clients (the environment changed)."""
    for f in (
        api_deps,
        enqueue_deps,
        process_deps,
        notify_deps,
        sweeper_deps,
        push_deps,
        authorizer_deps,
        preview_deps,
        signup_deps,
        site_deps,
        webhook_deps,
    ):
        f.cache_clear()
    reset_clients()
