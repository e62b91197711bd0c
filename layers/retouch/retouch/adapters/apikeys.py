"""API keys: credentials for servers, batch jobs and webhook receivers, in the jobs table.

A key is ``rk_<key id>_<secret>``: shown once when created, stored only as the SHA-256 of its
secret (the secret is 256 random bits, so a plain hash is as safe as a slow one). A key acts as
its user, on every route and on the WebSocket, within the user's limits.

* ``pk=USER#<sub>, sk=APIKEY#<key id>`` - the user's list: ``name``, ``created_at``.
* ``pk=APIKEY#<key id>, sk=APIKEY`` - the lookup the authorizer reads: ``owner``, ``hash``.

Both are written and removed together (one transaction), so a revoked key stops at once
(behind API Gateway, within the authorizer's cache of ``AuthorizerCacheSeconds``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from retouch.adapters import table as t
from retouch.adapters.aws import aws_errors, error_code
from retouch.errors import TooManyRequests
from retouch.models import now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PREFIX = "rk_"
KEY = re.compile(r"rk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
MAX_KEYS_PER_USER = 20


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    created_at: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


@dataclass
class ApiKeyRepository:
    ddb: DynamoDBClient
    table: str

    def create(self, owner: str, name: str) -> tuple[ApiKey, str]:
        """A new key for ``owner``: its record and the key itself (the only time it is seen)."""
        if len(self.list(owner)) >= MAX_KEYS_PER_USER:
            raise TooManyRequests(f"you have {MAX_KEYS_PER_USER} API keys, the most allowed; revoke one first", 60)
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        key = ApiKey(key_id, name, now_iso())
        listed = {"pk": t.user_pk(owner), "sk": t.apikey_sk(key_id), "name": name, "created_at": key.created_at}
        lookup = {"pk": t.apikey_pk(key_id), "sk": t.APIKEY_SK, "owner": owner, "hash": _digest(secret)}
        with aws_errors("create API key"):
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": t.item(listed),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": t.item(lookup),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        return key, f"{PREFIX}{key_id}_{secret}"

    def list(self, owner: str) -> list[ApiKey]:
        with aws_errors("list API keys"):
            got = self.ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :k)",
                ExpressionAttributeValues=t.item({":pk": t.user_pk(owner), ":k": t.APIKEY_PREFIX}),
            )
        items = [t.plain(i) for i in got.get("Items", [])]
        return [ApiKey(i["sk"].removeprefix(t.APIKEY_PREFIX), str(i.get("name", "")), str(i["created_at"])) for i in items]

    def revoke(self, owner: str, key_id: str) -> bool:
        """Remove the key (only its owner's); False when there is no such key of theirs."""
        if not re.fullmatch(r"[0-9a-f]{16}", key_id):
            return False
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": t.item({"pk": t.user_pk(owner), "sk": t.apikey_sk(key_id)}),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": t.item({"pk": t.apikey_pk(key_id), "sk": t.APIKEY_SK})}},
                ]
            )
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            with aws_errors("revoke API key"):
                raise
        return True

    def owner_of(self, token: str) -> str | None:
        """The user a presented key acts as, or None (malformed, unknown, revoked, wrong secret)."""
        match = KEY.fullmatch(token)
        if match is None:
            return None
        key_id, secret = match.groups()
        with aws_errors("read API key"):
            got = self.ddb.get_item(
                TableName=self.table, Key=t.item({"pk": t.apikey_pk(key_id), "sk": t.APIKEY_SK}), ConsistentRead=True
            )
        item: dict[str, Any] = t.plain(got["Item"]) if "Item" in got else {}
        if not item or not hmac.compare_digest(str(item.get("hash", "")), _digest(secret)):
            return None
        return str(item["owner"])
