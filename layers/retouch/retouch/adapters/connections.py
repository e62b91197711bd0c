"""WebSocket connections and their subscriptions, in the jobs table, and the sender that posts
to them through API Gateway's management API (the embedded stack serves the same API).

* ``pk=CONN#<id>, sk=CONN`` - a connection: its owner (the token's ``sub``), with a TTL.
* ``pk=SUBS#<job id>, sk=<connection id>`` - a subscription: ``last_sent`` is the last event
  ``seq`` the connection was sent; only the job's fan-out (one at a time per job, from the FIFO
  events queue) moves it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from retouch.adapters import table as t
from retouch.adapters.aws import aws_errors, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONNECTION_TTL_SECONDS = 2 * 3600
"""API Gateway closes a WebSocket after 2 hours; its items expire then too."""


@dataclass(frozen=True)
class Subscription:
    job_id: str
    connection_id: str
    last_sent: int


@dataclass
class ConnectionRepository:
    ddb: DynamoDBClient
    table: str

    def add(self, connection_id: str, owner: str) -> None:
        with aws_errors("store connection"):
            self.ddb.put_item(
                TableName=self.table,
                Item=t.item(
                    {
                        "pk": t.connection_pk(connection_id),
                        "sk": t.CONNECTION_SK,
                        "owner": owner,
                        "expires_at": int(time.time()) + CONNECTION_TTL_SECONDS,
                    }
                ),
            )

    def owner(self, connection_id: str) -> str | None:
        with aws_errors("read connection"):
            got = self.ddb.get_item(
                TableName=self.table, Key=t.item({"pk": t.connection_pk(connection_id), "sk": t.CONNECTION_SK})
            )
        return str(t.plain(got["Item"])["owner"]) if "Item" in got else None

    def remove(self, connection_id: str) -> None:
        """Forget a connection (its subscriptions go when the fan-out finds it gone)."""
        with aws_errors("remove connection"):
            self.ddb.delete_item(TableName=self.table, Key=t.item({"pk": t.connection_pk(connection_id), "sk": t.CONNECTION_SK}))

    def subscribe(self, job_id: str, connection_id: str, after: int) -> None:
        with aws_errors("store subscription"):
            self.ddb.put_item(
                TableName=self.table,
                Item=t.item(
                    {
                        "pk": t.subscriptions_pk(job_id),
                        "sk": connection_id,
                        "last_sent": after,
                        "expires_at": int(time.time()) + CONNECTION_TTL_SECONDS,
                    }
                ),
            )

    def subscriptions(self, job_id: str) -> list[Subscription]:
        with aws_errors("read subscriptions"):
            got = self.ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=t.item({":pk": t.subscriptions_pk(job_id)}),
                ConsistentRead=True,
            )
        return [Subscription(job_id, str(i["sk"]), int(i["last_sent"])) for i in map(t.plain, got.get("Items", []))]

    def sent(self, job_id: str, connection_id: str, last_sent: int) -> None:
        """The connection has been sent everything up to ``last_sent`` (if still subscribed)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=t.item({"pk": t.subscriptions_pk(job_id), "sk": connection_id}),
                UpdateExpression="SET last_sent = :s",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=t.item({":s": last_sent}),
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                with aws_errors("update subscription"):
                    raise

    def unsubscribe(self, job_id: str, connection_id: str) -> None:
        with aws_errors("remove subscription"):
            self.ddb.delete_item(TableName=self.table, Key=t.item({"pk": t.subscriptions_pk(job_id), "sk": connection_id}))


class ConnectionGone(Exception):
    """The client hung up: the connection will never take another message."""


@dataclass
class ConnectionSender:
    """Posts text to WebSocket connections (``apigatewaymanagementapi``, pointed at the
    WebSocket API's ``https://{api}.execute-api.{region}.amazonaws.com/{stage}`` endpoint)."""

    client: Any

    def send(self, connection_id: str, text: str) -> None:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=text.encode())
        except ClientError as exc:
            if error_code(exc) in ("GoneException", "410"):
                raise ConnectionGone(connection_id) from exc
            with aws_errors("post to connection"):
                raise
