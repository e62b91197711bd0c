"""POST /preview: the chosen operations on one small image (bytes in, image bytes out).

Its own function, beside the API's: it carries the OpenCV layer and runs the process
function's pipeline (:mod:`retouch.logic.preview`); the API function needs neither.
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.errors import RetouchError
from retouch.logic import preview
from retouch.logic.deps import preview_deps
from retouch.logic.http import caller, error_response
from retouch.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()


@app.post("/preview")
def render_preview() -> Response[bytes]:
    # (caller: the authorizer verified the token; a request that somehow bypassed it is refused)
    rendered = preview.preview(app.current_event, caller(app), preview_deps())
    headers = {"Cache-Control": "no-store", "X-Image-Width": str(rendered.width), "X-Image-Height": str(rendered.height)}
    return Response(200, rendered.content_type, rendered.body, headers=headers)


@app.exception_handler(RetouchError)
def domain_error(exc: RetouchError) -> Response[Any]:
    return error_response(exc)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
