"""Pushing a job's completion to the user: a signed HTTPS POST to their callback URL."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


def signature(secret: str, body: bytes) -> str:
    """``X-Retouch-Signature`` value: ``sha256=<hex HMAC of the body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class WebhookSender:
    timeout_seconds: float = 5.0

    def post(self, url: str, payload: dict[str, Any], secret: str) -> int:
        """POST ``payload`` as JSON; returns the HTTP status. Raises ``OSError`` on failure."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is validated when the job is created
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Retouch-Webhook/1",
                "X-Retouch-Signature": signature(secret, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
