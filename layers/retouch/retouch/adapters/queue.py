"""Message queues (SQS)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from retouch.adapters.aws import aws_errors
from retouch.errors import TransientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        MessageTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

SQS_BATCH = 10


@dataclass
class MessageQueue:
    """One queue, through an injected SQS client."""

    sqs: SQSClient
    url: str

    def send(self, body: str, delay_seconds: int = 0, *, group_id: str | None = None, dedup_id: str | None = None) -> None:
        """Send one message; ``group_id``/``dedup_id`` for a FIFO queue (which takes no delay)."""
        kwargs: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": body}
        if group_id is not None:
            kwargs |= {"MessageGroupId": group_id, "MessageDeduplicationId": dedup_id or body[:128]}
        else:
            kwargs["DelaySeconds"] = max(0, min(900, delay_seconds))
        with aws_errors("SQS send"):
            self.sqs.send_message(**kwargs)

    def send_batch(self, bodies: Iterable[tuple[str, str] | tuple[str, str, str]], attempts: int = 3) -> None:
        """Send ``(id, body)`` or ``(id, body, group id)`` entries in batches of ten, retrying
        entries that fail.

        On a standard queue the group id makes it a *fair queue*: SQS serves message groups
        (tenants) with few messages in flight ahead of one with a large backlog.

        Raises :class:`TransientError` if some entries still fail; senders must be idempotent
        (ours are), since some entries of a batch may already have gone.
        """
        pending = list(bodies)
        for start in range(0, len(pending), SQS_BATCH):
            chunk = pending[start : start + SQS_BATCH]
            for _ in range(attempts):
                entries: list[SendMessageBatchRequestEntryTypeDef] = []
                for entry in chunk:
                    entries.append({"Id": entry[0], "MessageBody": entry[1]})
                    if len(entry) > 2:
                        entries[-1]["MessageGroupId"] = entry[2]
                with aws_errors("SQS send batch"):
                    response = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
                failed = {f["Id"] for f in response.get("Failed", [])}
                chunk = [entry for entry in chunk if entry[0] in failed]
                if not chunk:
                    break
            if chunk:
                raise TransientError(f"SQS refused {len(chunk)} messages after {attempts} attempts")

    def receive(
        self, max_messages: int = 10, visibility_timeout: int | None = None, wait_seconds: int = 0
    ) -> list[MessageTypeDef]:
        """Receive up to ``max_messages`` (at most 10) with their system attributes."""
        kwargs: dict[str, Any] = {
            "QueueUrl": self.url,
            "MaxNumberOfMessages": min(10, max_messages),
            "WaitTimeSeconds": wait_seconds,
            "MessageSystemAttributeNames": ["All"],
        }
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout
        with aws_errors("SQS receive"):
            return self.sqs.receive_message(**kwargs).get("Messages", [])

    def delete(self, receipt_handle: str) -> None:
        with aws_errors("SQS delete"):
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)

    def extend_visibility(self, receipt_handle: str, seconds: int) -> None:
        """Keep a message hidden from other workers while it is being worked on."""
        with aws_errors("SQS change visibility"):
            self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)


class VisibilityHeartbeat:
    """A lease on a batch's messages while it is worked on: their visibility timeout is cut to
    ``seconds`` at once, then extended by ``seconds`` every ``seconds / 3`` until released.

    The queue's own visibility timeout stays long (it covers a batch that Lambda received but
    could not invoke yet - throttling, cold start - as AWS recommends); the lease is short, so
    when a worker dies (``kill -9``, timeout, out of memory) its messages return after at most
    ``seconds``, not after the queue's timeout. Every message of the batch is covered from the
    start (the last one may wait for the others) until the batch ends (a finished message is
    deleted only then), unless released to take a retry delay of its own.
    """

    def __init__(self, queue: MessageQueue, receipt_handles: Iterable[str], seconds: int, every: float | None = None) -> None:
        self.queue, self.seconds = queue, seconds
        self.every = every if every is not None else max(1.0, seconds / 3)
        self._handles = set(receipt_handles)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="visibility-heartbeat", daemon=True)

    def release(self, receipt_handle: str) -> None:
        """Stop extending one message (it has a retry delay of its own)."""
        with self._lock:
            self._handles.discard(receipt_handle)

    def _beat(self) -> None:
        with self._lock:
            handles = sorted(self._handles)
        for start in range(0, len(handles), SQS_BATCH):
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": self.seconds}
                for n, h in enumerate(handles[start : start + SQS_BATCH])
            ]
            # a failed beat is retried by the next one; the worst case is a harmless duplicate
            with contextlib.suppress(ClientError, BotoCoreError):
                self.queue.sqs.change_message_visibility_batch(QueueUrl=self.queue.url, Entries=entries)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._beat()

    def __enter__(self) -> VisibilityHeartbeat:
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
