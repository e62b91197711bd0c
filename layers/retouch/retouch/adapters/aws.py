"""AWS clients, created once per process and injectable.

boto3 honours ``AWS_ENDPOINT_URL`` (and per-service ``AWS_ENDPOINT_URL_S3`` ...), which is how
the embedded stack and the tests point everything at a moto server or LocalStack.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config


def _config() -> Config:
    local = bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3"))
    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        s3={"addressing_style": "path" if local else "auto"},
        signature_version="s3v4",
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=32,
    )


@cache
def client(service: str) -> Any:
    """The process-wide client for ``service`` (``s3``, ``sqs``, ``dynamodb``)."""
    return boto3.session.Session().client(service, config=_config())  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (after the environment changed, e.g. in tests)."""
    client.cache_clear()
