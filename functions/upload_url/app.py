"""HTTP API: jobs (presigned uploads, status, events), operations, the OpenAPI document.

Routes only: each validates its input through the models (:mod:`retouch.apimodels`) and calls
one use case (:mod:`retouch.logic.api`).
"""

from typing import Annotated, Any

from annotated_types import Ge, Le
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch import apimodels as m
from retouch.errors import RetouchError
from retouch.logic import api
from retouch.logic.deps import api_deps
from retouch.logic.http import bounded_body, caller, docs_security_headers, error_response, only_query, validation_message
from retouch.observability import logger, metrics, tracer

app = APIGatewayHttpResolver(enable_validation=True)

OPENAPI = {"title": "Retouch API", "version": "1", "description": "Serverless photo retouching: jobs, uploads, results."}
BEARER = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}  # type: ignore[dict-item]
DOCS: dict[str, Any] = {"path": "/docs", "security_schemes": BEARER, "security": [{"bearer": []}], **OPENAPI}
app.enable_swagger(middlewares=[docs_security_headers], **DOCS)

IDEMPOTENCY_HELP = (
    "Optional: any 1-255 visible ASCII characters (a UUID). The same key and body within 24 hours "
    "answer the job the first request created, so a retried request never makes a second job."
)
ERRORS: dict[int | str, Any] = {
    code: {"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for code, what in (
        (400, "invalid request"),
        (401, "no or invalid token"),
        (403, "an API key may not manage API keys"),
        (404, "no such job (or not yours)"),
        (409, "the Idempotency-Key was used with another body"),
        (429, "a per-user limit is reached (Retry-After says when to try again)"),
    )
}


@app.post(
    "/jobs", responses={201: {"description": "created"}, 400: ERRORS[400], 401: ERRORS[401], 409: ERRORS[409], 429: ERRORS[429]}
)
def create_job(
    request: Annotated[m.JobRequest, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY_HELP)] = None,
) -> Response[m.JobCreated]:
    job = api.create_job_once(caller(app), idempotency_key, request, api_deps(), app.lambda_context)
    return Response(201, content_types.APPLICATION_JSON, job)


@app.get("/jobs", responses={200: {"description": "the caller's jobs, newest first, a page"}, 400: ERRORS[400], 401: ERRORS[401]})
def list_jobs(
    limit: Annotated[int, Query(), Ge(1), Le(100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> m.JobList:
    only_query(app, "limit", "cursor")
    return api.list_jobs(caller(app), api_deps(), limit, cursor)


@app.get("/jobs/<job_id>", responses={200: {"description": "status"}, 400: ERRORS[400], 401: ERRORS[401], 404: ERRORS[404]})
def get_job(
    job_id: str,
    limit: Annotated[int, Query(description="images per page"), Ge(1), Le(m.STATUS_PAGE_MAX)] = m.STATUS_PAGE,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> m.JobStatus:
    only_query(app, "limit", "cursor")
    return api.job_status(caller(app), job_id, api_deps(), limit=limit, cursor=cursor)


@app.post("/jobs/<job_id>/cancel", responses={200: {"description": "the job, complete"}, 401: ERRORS[401], 404: ERRORS[404]})
def cancel_job(job_id: str) -> m.JobStatus:
    return api.cancel_job(caller(app), job_id, api_deps())


@app.delete("/jobs/<job_id>", responses={204: {"description": "deleted for good"}, 401: ERRORS[401], 404: ERRORS[404]})
def delete_job(job_id: str) -> Response[None]:
    api.delete_job(caller(app), job_id, api_deps())
    return Response(204)


@app.get(
    "/jobs/<job_id>/events",
    responses={200: {"description": "events after N"}, 400: ERRORS[400], 401: ERRORS[401], 404: ERRORS[404]},
)
def get_job_events(job_id: str, after: Annotated[int, Query(), Ge(0), Le(10**9)] = 0) -> m.EventList:
    return api.job_events(caller(app), job_id, after, api_deps())


@app.get("/jobs/<job_id>/deliveries", responses={200: {"description": "attempts"}, 401: ERRORS[401], 404: ERRORS[404]})
def get_job_deliveries(job_id: str) -> m.DeliveryList:
    return api.job_deliveries(caller(app), job_id, api_deps())


@app.get("/webhook-secret", responses={200: {"description": "the secret"}, 401: ERRORS[401]})
def get_webhook_secret() -> m.WebhookSecret:
    return api.webhook_secret(caller(app), api_deps())


@app.post("/webhook-secret", responses={200: {"description": "a new secret"}, 401: ERRORS[401]})
def rotate_webhook_secret() -> m.WebhookSecret:
    return api.webhook_secret(caller(app), api_deps(), rotate=True)


@app.post(
    "/api-keys",
    responses={
        201: {"description": "the key, shown once"},
        400: ERRORS[400],
        401: ERRORS[401],
        403: ERRORS[403],
        429: ERRORS[429],
    },
)
def create_api_key(request: Annotated[m.ApiKeyRequest, Body()]) -> Response[m.ApiKeyCreated]:
    key = api.create_api_key(caller(app, signed_in=True), request, api_deps())
    return Response(201, content_types.APPLICATION_JSON, key)


@app.get("/api-keys", responses={200: {"description": "the caller's keys (never the keys themselves)"}, 401: ERRORS[401]})
def list_api_keys() -> m.ApiKeyList:
    return api.list_api_keys(caller(app), api_deps())


@app.delete(
    "/api-keys/<key_id>", responses={204: {"description": "revoked"}, 401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404]}
)
def revoke_api_key(key_id: str) -> Response[None]:
    api.revoke_api_key(caller(app, signed_in=True), key_id, api_deps())
    return Response(204)


@app.get("/operations", responses={200: {"description": "the operations"}, 401: ERRORS[401]})
def list_operations() -> m.OperationList:
    caller(app)
    settings = api_deps().settings
    return api.list_operations(settings.max_upload_bytes, settings.max_pixels)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    document = app.get_openapi_json_schema(security_schemes=BEARER, security=[{"bearer": []}], **OPENAPI)  # type: ignore[arg-type]
    return Response(200, content_types.APPLICATION_JSON, document)


@app.exception_handler(RetouchError)
def domain_error(exc: RetouchError) -> Response[Any]:
    return error_response(exc)


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response[Any]:
    return error_response(validation_message(exc))


@app.not_found
def not_found(_: Exception) -> Response[Any]:
    return error_response(api.route_not_found(app.current_event.http_method, app.current_event.path))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@bounded_body
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
