"""Scheduled (EventBridge): settle images whose messages were dead-lettered, so no job waits
forever (:mod:`retouch.logic.sweeper`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.logic.deps import sweeper_deps
from retouch.logic.sweeper import sweep
from retouch.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    return sweep(sweeper_deps())
