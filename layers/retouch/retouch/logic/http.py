"""HTTP plumbing shared by the API routes: the caller, the error envelope, the body limit.

Every error the API answers has one shape, ``{"error": {"type", "message"}}``: domain errors
(:mod:`retouch.errors`) and request validation errors alike. Errors of ours (5xx) are logged
with their detail and answered with a generic message and the request id that ties the two.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator

from retouch.errors import Forbidden, RetouchError, TooManyRequests, Unauthorized, ValidationError
from retouch.logic.deps import api_deps
from retouch.observability import logger


def caller(app: APIGatewayHttpResolver, *, signed_in: bool = False) -> str:
    """The authenticated user: the ``sub`` the authorizer verified (:mod:`retouch.logic.auth`).
    ``signed_in``: the route needs the user's own sign-in, not an API key (managing keys)."""
    authorizer = app.current_event.request_context.authorizer
    context = authorizer.get_lambda if authorizer is not None else None
    sub = (context or {}).get("sub")
    if not sub:
        raise Unauthorized("a valid bearer token is required")
    if signed_in and (context or {}).get("auth") != "user":
        raise Forbidden("API keys are managed with your own sign-in, not with an API key")
    return str(sub)


def only_query(app: APIGatewayHttpResolver, *names: str) -> None:
    """Refuse query parameters the route does not take (a typo is told, not silently ignored)."""
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - set(names))
    if unknown:
        allowed = ", ".join(names) if names else "none"
        raise ValidationError(f"unknown query parameter {unknown[0]!r} (this route takes: {allowed})")


def error_response(exc: RetouchError) -> Response[Any]:
    """The answer to ``exc``: its status and the one error envelope. An error of ours (5xx) is
    logged with its detail and answered with a generic message and the request id."""
    message = exc.message
    if exc.http_status >= 500:
        logger.exception("request failed")
        request_id = logger.get_correlation_id()
        message = "the service could not answer; try again later" + (f" (request id {request_id})" if request_id else "")
    body = json.dumps({"error": {"type": type(exc).__name__, "message": message}})
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    return Response(status_code=exc.http_status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def envelope(exc: RetouchError) -> dict[str, Any]:
    """:func:`error_response` as a proxy integration's answer, for a refusal before the resolver."""
    response = error_response(exc)
    headers = dict(response.headers)
    return {"statusCode": response.status_code, "headers": headers, "body": response.body, "isBase64Encoded": False}


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "body":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_message(exc: RequestValidationError) -> ValidationError:
    """The first problem of a request that failed validation, as one readable sentence."""
    errors = list(exc.errors())
    if not errors:
        return ValidationError("the request is invalid")
    first = errors[0]
    kind, msg = first.get("type", ""), str(first.get("msg", "invalid"))
    if kind == "json_invalid":
        return ValidationError("the request body is not valid JSON")
    if kind == "missing" and tuple(first.get("loc", ())) == ("body",):
        return ValidationError("the request body must be a JSON object")
    where = _where(tuple(first.get("loc", ())))
    ctx = first.get("ctx") or {}
    if not where and kind in ("model_attributes_type", "dict_type", "model_type"):
        return ValidationError("the request body must be a JSON object")
    if kind == "too_short":
        return ValidationError(f"{where} must have at least {ctx.get('min_length')} item(s)")
    if kind == "too_long":
        return ValidationError(f"{where} must have at most {ctx.get('max_length')} item(s)")
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
        # a domain rule's sentence names what it is about; a field rule's starts with "must"
        return ValidationError(f"{where} {msg}" if msg.startswith("must") and where else msg)
    if kind == "extra_forbidden":
        return ValidationError(f"unknown field {where!r}")
    return ValidationError(f"{where}: {msg}" if where else msg)


DOCS_HEADERS = {
    # Powertools inlines Swagger UI's script and styles in the page, and the spec with them
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""What ``/docs`` (Swagger UI) is answered with: it runs in the browser of a signed-in developer."""


def docs_security_headers(app: APIGatewayHttpResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
    """Middleware for the ``/docs`` route: :data:`DOCS_HEADERS` on its answer."""
    response = next_middleware(app)
    response.headers.update(DOCS_HEADERS)
    return response


@lambda_handler_decorator
def bounded_body(handler: Callable[..., Any], event: dict[str, Any], context: Any) -> Any:
    """Refuse a body over the API's limit before anything parses it."""
    limit = api_deps().settings.max_body_bytes
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8", "surrogatepass"))
    if size > limit:
        return envelope(ValidationError(f"the request body is {size} bytes; the limit is {limit} bytes"))
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = str(headers.get("content-type", "application/json")).split(";")[0].strip().lower()
    if body and content_type != "application/json" and not content_type.endswith("+json"):
        return envelope(ValidationError("the request body must be JSON (Content-Type: application/json)"))
    if body and not event.get("isBase64Encoded"):
        try:
            json.loads(body)
        except RecursionError:
            return envelope(ValidationError("the request body is nested too deeply"))
        except json.JSONDecodeError:
            pass  # not JSON: the route's validation says so
        except ValueError:  # Python's limit on integer digits (4,300), which validation would not catch
            return envelope(ValidationError("a number in the request body is too long"))
    return handler(event, context)
