"""Response queue -> results recorded on the job (idempotently)."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.logic.deps import notify_deps, sweeper_deps
from retouch.logic.notify import notify_batch, sweep
from retouch.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return notify_batch(event, context, notify_deps())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def sweep_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Scheduled (the DeadLetterSweeper function): fail images whose messages were dead-lettered,
    complete open jobs with nothing remaining."""
    return sweep(sweeper_deps())
