"""Response queue -> results recorded on the job (idempotently)."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.logic.deps import notify_deps
from retouch.logic.notify import notify_batch
from retouch.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return notify_batch(event, context, notify_deps())
