"""Webhook queue -> one signed delivery attempt per message (retries scheduled as new messages)."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.logic.deliver import deliver_batch
from retouch.logic.deps import webhook_deps
from retouch.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return deliver_batch(event, context, webhook_deps())
