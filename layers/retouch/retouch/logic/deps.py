"""Dependencies of each function: settings plus adapters over process-wide clients.

Each ``*_deps()`` is built once per process (cached); tests and the embedded stack point the
clients at an emulator through ``AWS_ENDPOINT_URL`` and call :func:`reset` after changing the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from retouch import settings as cfg
from retouch.adapters.aws import client, reset_clients
from retouch.adapters.jobs import JobRepository
from retouch.adapters.queue import MessageQueue
from retouch.adapters.storage import ObjectStore
from retouch.adapters.webhooks import WebhookSender


@dataclass(frozen=True)
class ApiDeps:
    settings: cfg.ApiSettings
    store: ObjectStore
    jobs: JobRepository
    responses: MessageQueue | None = None


@dataclass(frozen=True)
class EnqueueDeps:
    settings: cfg.EnqueueSettings
    store: ObjectStore
    jobs: JobRepository
    requests: MessageQueue
    webhooks: WebhookSender = field(default_factory=WebhookSender)
    events: MessageQueue | None = None
    """The upload-events queue (enqueue's source), for the lease on a batch's messages."""


@dataclass(frozen=True)
class ProcessDeps:
    settings: cfg.ProcessSettings
    store: ObjectStore
    requests: MessageQueue
    responses: MessageQueue


@dataclass(frozen=True)
class NotifyDeps:
    settings: cfg.NotifySettings
    jobs: JobRepository
    dead_letters: dict[str, MessageQueue] = field(default_factory=dict)
    """The dead-letter queues the sweeper reads: ``requests``, ``responses``, ``upload-events``."""
    webhooks: WebhookSender = field(default_factory=WebhookSender)
    responses: MessageQueue | None = None
    """The response queue, to re-schedule upload deadlines that arrived early."""


@lru_cache(maxsize=1)
def api_deps() -> ApiDeps:
    s = cfg.ApiSettings.from_env()
    responses = MessageQueue(client("sqs"), s.response_queue_url) if s.response_queue_url else None
    return ApiDeps(s, ObjectStore(client("s3"), s.bucket_name), JobRepository(client("dynamodb"), s.jobs_table), responses)


@lru_cache(maxsize=1)
def enqueue_deps() -> EnqueueDeps:
    s = cfg.EnqueueSettings.from_env()
    return EnqueueDeps(
        s,
        ObjectStore(client("s3"), s.bucket_name),
        JobRepository(client("dynamodb"), s.jobs_table),
        MessageQueue(client("sqs"), s.request_queue_url),
        events=MessageQueue(client("sqs"), s.upload_events_queue_url) if s.upload_events_queue_url else None,
    )


@lru_cache(maxsize=1)
def process_deps() -> ProcessDeps:
    s = cfg.ProcessSettings.from_env()
    return ProcessDeps(
        s,
        ObjectStore(client("s3"), s.bucket_name),
        MessageQueue(client("sqs"), s.request_queue_url),
        MessageQueue(client("sqs"), s.response_queue_url),
    )


@lru_cache(maxsize=1)
def notify_deps() -> NotifyDeps:
    s = cfg.NotifySettings.from_env()
    urls = {"requests": s.request_dlq_url, "responses": s.response_dlq_url, "upload-events": s.upload_events_dlq_url}
    dead_letters = {name: MessageQueue(client("sqs"), url) for name, url in urls.items() if url}
    responses = MessageQueue(client("sqs"), s.response_queue_url) if s.response_queue_url else None
    return NotifyDeps(s, JobRepository(client("dynamodb"), s.jobs_table), dead_letters, responses=responses)


def reset() -> None:
    """Forget settings and clients (the environment changed)."""
    for f in (api_deps, enqueue_deps, process_deps, notify_deps):
        f.cache_clear()
    reset_clients()
