"""The WebSocket API: its routes ($connect, $disconnect, subscribe) and the fan-out of job events
to subscribed connections (FIFO events queue). Its $connect authorizer is functions/authorizer."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.logic.deps import push_deps
from retouch.logic.push import fan_out_batch, websocket_route
from retouch.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def websocket_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return websocket_route(event, push_deps())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return fan_out_batch(event, context, push_deps())
