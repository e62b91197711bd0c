"""The authorizers: the HTTP API's (every route) and the WebSocket's ``$connect``. Both accept a
Cognito access token of the stack's user pool or an API key (:mod:`retouch.logic.auth`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.logic.auth import http_authorize, websocket_authorize
from retouch.logic.deps import authorizer_deps
from retouch.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def http_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http_authorize(event, authorizer_deps())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def websocket_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return websocket_authorize(event, authorizer_deps())
