"""Who is calling: the HTTP API's and the WebSocket's authorizers, and the embedded stack's
stand-in for them, all through :func:`authenticate`.

Two credentials are accepted, as ``Authorization: Bearer <token>`` (``?token=`` on the
WebSocket): an access token issued by this stack's user pool to one of its app clients (the
issuer, ``token_use`` and ``client_id`` are checked, then Cognito's ``GetUser`` verifies it:
valid, unexpired, unrevoked - so no signing key is handled here), or an API key of a user
(:mod:`retouch.adapters.apikeys`). Either way the caller is that user's ``sub``; an API key is
marked as such, so it cannot create or revoke keys.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponseV2,
    APIGatewayAuthorizerResponseWebSocket,
)

from retouch.adapters.apikeys import looks_like_key
from retouch.logic.deps import AuthorizerDeps
from retouch.observability import logger


@dataclass(frozen=True)
class Caller:
    sub: str
    kind: Literal["user", "key"]


def authenticate(token: str, deps: AuthorizerDeps) -> Caller | None:
    """The caller a bearer token stands for, or None (refused)."""
    if not token:
        return None
    if looks_like_key(token):
        owner = deps.keys.owner_of(token)
        return Caller(owner, "key") if owner else None
    claims = unverified_claims(token)
    s = deps.settings
    if claims.get("iss") != s.issuer or claims.get("token_use") != "access" or claims.get("client_id") not in s.client_ids:
        logger.info("refused: a token of another user pool, client or kind")
        return None
    try:
        user = deps.cognito.get_user(AccessToken=token)
    except Exception:  # noqa: BLE001 - any failure to verify is a refusal
        logger.info("refused: token not accepted by Cognito")
        return None
    attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
    return Caller(str(attributes.get("sub") or user["Username"]), "user")


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, not verified (only to route it: Cognito verifies it after)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def bearer(header: str | None) -> str:
    header = header or ""
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def http_authorize(event: dict[str, Any], deps: AuthorizerDeps) -> dict[str, Any]:
    """The HTTP API's Lambda authorizer (payload 2.0, simple responses): the caller goes to the
    route in the authorizer's context (``sub``, ``auth``: ``user`` or ``key``)."""
    request = APIGatewayAuthorizerEventV2(event)
    caller = authenticate(bearer(request.get_header_value("authorization")), deps)
    context = {"sub": caller.sub, "auth": caller.kind} if caller else None
    return APIGatewayAuthorizerResponseV2(authorize=caller is not None, context=context).asdict()


def websocket_authorize(event: dict[str, Any], deps: AuthorizerDeps) -> dict[str, Any]:
    """The WebSocket ``$connect`` authorizer (a REQUEST authorizer on
    ``route.request.querystring.token``): the same callers as the HTTP API. Deny is the default."""
    request = APIGatewayAuthorizerRequestEvent(event)
    caller = authenticate(str((request.query_string_parameters or {}).get("token") or ""), deps)
    response = APIGatewayAuthorizerResponseWebSocket.from_route_arn(request.method_arn, caller.sub if caller else "anonymous")
    if caller:
        response.allow_all_routes()
    else:
        response.deny_all_routes()
    return response.asdict()
