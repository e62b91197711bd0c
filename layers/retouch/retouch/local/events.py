"""Lambda event payloads, shaped as AWS delivers them (used by the local stack and tests)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """The event Lambda's SQS integration delivers for messages from ``ReceiveMessage``."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def http_api_event(
    *,
    method: str,
    route_path: str,
    path: str,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    path_params: Mapping[str, str] | None = None,
    sub: str | None = None,
    source_ip: str = "127.0.0.1",
    auth: str = "user",
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event; ``sub`` and ``auth`` (``user`` or ``key``) are what
    the Lambda authorizer verified (:func:`retouch.logic.auth.http_authorize`)."""
    now = datetime.now(UTC)
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    route_key = f"{method} {route_path}"
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):  # decoded; repeated keys joined by commas, as API Gateway does
        params[key] = f"{params[key]},{value}" if key in params else value
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "queryStringParameters": params or None,
        "pathParameters": dict(path_params) if path_params else None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "requestId": secrets.token_hex(8),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "authorizer": {"lambda": {"sub": sub, "auth": auth}} if sub else None,
        },
        "body": body or None,
        "isBase64Encoded": False,
    }
