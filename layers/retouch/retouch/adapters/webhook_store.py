"""Webhooks' two stores in the table: the per-user signing secrets (rotated with a grace period
for the retired ones) and the log of delivery attempts (:mod:`retouch.adapters.table` for keys)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retouch.adapters import table as t
from retouch.adapters.aws import aws_errors
from retouch.adapters.webhooks import Attempt

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SECRET_GRACE_SECONDS = 24 * 3600
"""A rotated secret keeps signing (beside the new one) this long, from its own rotation."""


@dataclass
class WebhookSecrets:
    """Per-user signing secrets: ``pk=USER#<sub>, sk=WEBHOOK`` (the table is encrypted at rest
    with a KMS key on AWS)."""

    ddb: DynamoDBClient
    table: str

    def _read(self, owner: str) -> dict[str, Any] | None:
        with aws_errors("read webhook secret"):
            got = self.ddb.get_item(
                TableName=self.table, Key=t.item({"pk": t.user_pk(owner), "sk": t.WEBHOOK_SK}), ConsistentRead=True
            )
        return t.plain(got["Item"]) if "Item" in got else None

    def current(self, owner: str) -> str:
        """The user's secret, created on first use."""
        item = self._read(owner)
        if item is not None:
            return str(item["secret"])
        secret = "whsec_" + secrets.token_hex(32)
        with aws_errors("store webhook secret"):
            try:
                self.ddb.put_item(
                    TableName=self.table,
                    Item=t.item({"pk": t.user_pk(owner), "sk": t.WEBHOOK_SK, "secret": secret}),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except self.ddb.exceptions.ConditionalCheckFailedException:
                return self.current(owner)  # created concurrently
        return secret

    def signing(self, owner: str, now: float | None = None) -> list[str]:
        """The secrets that sign a delivery now: the current one, and rotated ones in their grace."""
        item = self._read(owner)
        if item is None:
            return [self.current(owner)]
        return [str(item["secret"]), *(secret for secret, _ in _in_grace(item, time.time() if now is None else now))]

    def rotate(self, owner: str, now: float | None = None) -> tuple[str, float]:
        """A new secret. The one it replaces keeps signing for 24 hours, and so do earlier ones
        whose 24 hours have not run out (a second rotation never cuts short the first one's
        promise), up to :data:`MAX_RETIRED_SECRETS`. Returns (secret, replaced one valid until)."""
        now = time.time() if now is None else now
        item = self._read(owner) or {}
        old = str(item["secret"]) if item else self.current(owner)
        until = int(now + SECRET_GRACE_SECONDS)
        retired = [*_in_grace(item, now), (old, until)][-MAX_RETIRED_SECRETS:]
        new = "whsec_" + secrets.token_hex(32)
        with aws_errors("rotate webhook secret"):
            self.ddb.put_item(
                TableName=self.table,
                Item=t.item(
                    {
                        "pk": t.user_pk(owner),
                        "sk": t.WEBHOOK_SK,
                        "secret": new,
                        "retired": [{"secret": secret, "until": int(t)} for secret, t in retired],
                    }
                ),
            )
        return new, until


MAX_RETIRED_SECRETS = 5
"""Rotated secrets still signing at most (each adds a ``v1`` to every signature header)."""


def _in_grace(item: dict[str, Any], now: float) -> list[tuple[str, float]]:
    """The rotated secrets of a stored item whose grace has not run out, oldest first (items
    written before the list kept one ``previous``)."""
    retired = [(str(r["secret"]), float(r["until"])) for r in item.get("retired") or []]
    if item.get("previous"):
        retired.append((str(item["previous"]), float(item.get("previous_until", 0))))
    return [(secret, until) for secret, until in retired if until > now]


@dataclass
class DeliveryLog:
    """``pk=DLV#<job id>, sk=<seq>#<attempt>``: one item per attempt, kept with the job."""

    ddb: DynamoDBClient
    table: str

    def add(self, job_id: str, seq: int, attempt: int, result: Attempt, expires_at: int | None) -> None:
        with aws_errors("log delivery"):
            self.ddb.put_item(
                TableName=self.table,
                Item=t.item(
                    {
                        "pk": t.deliveries_pk(job_id),
                        "sk": t.delivery_sk(seq, attempt),
                        "seq": seq,
                        "attempt": attempt,
                        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "status": result.status,
                        "error": result.error,
                        "delivered": result.delivered,
                        "expires_at": expires_at,
                    }
                ),
            )

    def entries(self, job_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": t.item({":pk": t.deliveries_pk(job_id)}),
            "ConsistentRead": True,
        }
        with aws_errors("read deliveries"):
            while True:
                page = self.ddb.query(**kwargs)
                for item in map(t.plain, page.get("Items", [])):
                    out.append(
                        {
                            "seq": int(item["seq"]),
                            "attempt": int(item["attempt"]),
                            "at": item["at"],
                            "status": None if item.get("status") is None else int(item["status"]),
                            "error": item.get("error"),
                            "delivered": bool(item.get("delivered")),
                        }
                    )
                if "LastEvaluatedKey" not in page:
                    return out
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delivered(self, job_id: str, seq: int) -> bool:
        with aws_errors("read deliveries"):
            got = self.ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :seq)",
                FilterExpression="delivered = :true",
                ExpressionAttributeValues=t.item({":pk": t.deliveries_pk(job_id), ":seq": t.delivery_sk(seq), ":true": True}),
                ConsistentRead=True,
            )
        return bool(got.get("Items"))
