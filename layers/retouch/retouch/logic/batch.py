"""One SQS batch, as every queue consumer handles it: its messages leased while it works
(:class:`~retouch.adapters.queue.VisibilityHeartbeat`), each record handled on its own, failures
reported per record (Powertools ``BatchProcessor``, ``ReportBatchItemFailures``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.adapters.queue import MessageQueue, VisibilityHeartbeat


def leased_batch(
    event: dict[str, Any],
    context: LambdaContext,
    queue: MessageQueue,
    lease_seconds: int,
    handle: Callable[[SQSRecord, VisibilityHeartbeat | None], Any],
    *,
    fifo: bool = False,
    prepare: Callable[[list[SQSRecord]], Any] | None = None,
) -> PartialItemFailureResponse:
    """Handle every record of ``event`` with ``handle(record, heartbeat)``.

    ``queue`` is the batch's source queue. Every message stays leased until the whole batch
    returns - a finished one too, since the event source mapping deletes it only then - unless
    its handler released it to set a retry delay of its own. ``fifo``: a FIFO queue's batch stops at its first failure
    (the rest is reported failed, so a message group keeps its order). ``prepare``, if given,
    sees all the records first (under the same lease), for work done once per batch.
    """
    processor = SqsFifoPartialProcessor() if fifo else BatchProcessor(event_type=EventType.SQS)
    handles = [r["receiptHandle"] for r in event.get("Records", []) if "receiptHandle" in r]
    with VisibilityHeartbeat(queue, handles, lease_seconds) as heartbeat:
        if prepare is not None:
            prepare([SQSRecord(r) for r in event.get("Records", [])])
        # Powertools passes the record by keyword: the parameter must be called ``record``
        return process_partial_response(
            event=event, record_handler=lambda record: handle(record, heartbeat), processor=processor, context=context
        )
