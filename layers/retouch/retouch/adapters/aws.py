"""AWS clients, created once per process and injectable.

botocore honours ``AWS_ENDPOINT_URL`` (and per-service ``AWS_ENDPOINT_URL_S3`` ...), which is how
the embedded stack and the tests point everything at a moto server or LocalStack.

Clients come from a botocore session, not boto3: boto3 adds nothing the adapters use and imports
s3transfer on the way (most of its 0.6 s). botocore's session and config (0.4 s with the
modules they pull in) are imported when the first client is made, not when a handler module is
loaded; ``botocore.exceptions`` is light.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from retouch.errors import ConfigurationError, TransientError


def _config() -> Any:
    from botocore.config import Config

    local = bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3"))
    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        s3={"addressing_style": "path" if local else "auto"},
        signature_version="s3v4",
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=32,
    )


_creating = threading.Lock()


@cache
def session() -> Any:
    """The process's botocore session. One for all clients: a session caches the endpoint data
    and service models it loads, so the first client costs about 0.2 s and the next ones about
    0.02 s. (``botocore.session.get_session()`` makes a new session on every call, and a client per
    session paid the full cost each time.)"""
    import botocore.session

    return botocore.session.get_session()


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    """The process-wide client for ``service`` (``s3``, ``sqs``, ``dynamodb``...). Clients are
    thread-safe once made; making them from one shared botocore session is not, hence the lock."""
    with _creating:
        return session().create_client(service, endpoint_url=endpoint_url, config=_config())


def reset_clients() -> None:
    """Forget cached clients and their session (after the environment changed, e.g. in tests)."""
    with _creating:
        client.cache_clear()
        session.cache_clear()


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_CONFIGURATION = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "ValidationException",
    "ResourceNotFoundException",
}


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Translate AWS client errors into domain errors, in one place.

    Access-denied, validation and missing-resource errors are configuration errors (retrying
    cannot help: :class:`ConfigurationError`); everything else (throttling, timeouts, a service
    hiccup) is transient. The AWS text stays in the exception's cause, for the logs only.
    """
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in _CONFIGURATION:
            raise ConfigurationError(f"{what}: the service is misconfigured") from exc
        raise TransientError(f"{what}: temporarily unavailable") from exc
    except BotoCoreError as exc:
        raise TransientError(f"{what}: temporarily unavailable") from exc
