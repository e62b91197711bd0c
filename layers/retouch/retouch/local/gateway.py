"""The embedded stack's HTTP API: API Gateway's HTTP API (payload 2.0) on loopback, on werkzeug.

* The template's routes become a werkzeug routing :class:`~werkzeug.routing.Map`; a request on
  a known path with another method is a 405 with ``Allow``, anything else unknown a 404 (JSON
  bodies, as API Gateway answers).
* A matched route becomes the event API Gateway passes to the route's function (its bearer token
  checked first, by the stack's stand-in for the Lambda authorizer, whose context the event
  carries), run in that function's own processes (:class:`FunctionPools`).
* ``OPTIONS`` is answered from the template's CORS configuration; the web page
  (``retouch/web``) is served at ``/`` with its security headers, as CloudFront serves it on AWS.
* Requests wait for the stack to be ready: the port is bound before the template's resources
  exist, so that its URL is known early.

Request parsing, routing, threads and file serving are werkzeug's; the body's framing rules
(:func:`body_length`) are checked here, as API Gateway refuses what it cannot frame. werkzeug's
server closes every connection after one answer; :class:`KeepAliveHandler` keeps it open unless
the gateway left a body unread (it then answers ``Connection: close``).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from retouch.local import lambda_runtime as rt
from retouch.local.events import http_api_event
from retouch.local.kept_open import KeptOpen
from retouch.local.template import Route, StackModel
from retouch.logic.auth import bearer
from retouch.observability import logger

MAX_API_BODY = 10 * 1024 * 1024
WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
"""The web page (``retouch/web``), served at ``/`` as CloudFront serves it on AWS."""
PAGE_SUFFIXES = (".html", ".js", ".css", ".svg", ".png", ".txt")
"""The page's kinds of files; anything else under ``retouch/web`` (READMEs) is not served."""
TEXT_BODY_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")
"""Request bodies API Gateway passes as text; any other body arrives base64-encoded."""
API_PROCESSES = 2
"""Processes per function with HTTP routes (concurrent requests it serves)."""
READY_WAIT_SECONDS = 120
"""How long a request that arrives while the stack starts waits for it, before a 503."""
RAW_HEADERS = "retouch.raw_headers"
"""The environ key of the request's headers as received (repeated ones included)."""
INTERNAL_ERROR = b'{"message":"Internal Server Error"}'


def body_length(headers: Any) -> tuple[int, str | None]:
    """The request body's length from its headers, or a reason to refuse the request (400).

    ``Content-Length`` must be one run of decimal digits (RFC 9110: repeated equal values
    allowed); a negative, malformed or conflicting value, or a body framed with
    ``Transfer-Encoding`` (which the local API does not take) is refused.
    """
    if headers.get("Transfer-Encoding") is not None:
        return 0, "Transfer-Encoding is not supported: send the body with a Content-Length"
    get_all = getattr(headers, "get_all", None) or headers.getlist
    values = {v.strip() for raw in get_all("Content-Length") or [] for v in raw.split(",")}
    if not values:
        return 0, None
    if len(values) > 1 or not all(v.isascii() and v.isdigit() for v in values) or len(next(iter(values))) > 18:
        return 0, "malformed Content-Length header"
    return int(next(iter(values))), None


class _Answer(Response):
    """A response with no Content-Type unless one is given (a function's answer keeps its own)."""

    default_mimetype = None


class _RouteRule(Rule):
    """A template route: its method only (werkzeug would add HEAD to a GET route; API Gateway does not)."""

    def __init__(self, route: Route, function: str) -> None:
        super().__init__(re.sub(r"\{([A-Za-z0-9_]+)\}", r"<\1>", route.path), methods=[route.method], endpoint=function)
        self.methods = {route.method}
        self.route = route


def route_map(model: StackModel) -> Map:
    """The template's HTTP API routes, matched on the path as received (no slashes merged or added)."""
    rules = [_RouteRule(r, fn.logical_id) for fn in model.functions.values() for r in fn.routes]
    return Map(rules, strict_slashes=True, merge_slashes=False, redirect_defaults=False)


class FunctionPools:
    """One process pool per function with HTTP routes: each route runs in its own function's runtime."""

    def __init__(self, runtime: Callable[[str], rt.FunctionRuntime], mp_context: Any) -> None:
        self.runtime = runtime
        self.mp_context = mp_context
        self.pools: dict[str, ProcessPoolExecutor] = {}
        self.lock = threading.Lock()
        self.warming: list[Future[bool]] = []

    def pool(self, function: str, *, renew: bool = False) -> ProcessPoolExecutor:
        """The function's worker pool (its processes start on the first request); a new one if ``renew``."""
        with self.lock:
            pool = self.pools.get(function)
            if pool is None or renew:
                pool = self.pools[function] = ProcessPoolExecutor(
                    max_workers=API_PROCESSES,
                    mp_context=self.mp_context,
                    initializer=rt.api_worker_init,
                    initargs=(self.runtime(function),),
                )
            return pool

    def warm(self, functions: Iterable[str]) -> None:
        """Start these functions' processes now, not on the first request (as a provisioned
        Lambda would); :attr:`warming` tells when they are up."""
        for function in functions:
            pool = self.pool(function)
            self.warming += [pool.submit(rt.api_worker_ready) for _ in range(API_PROCESSES)]

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """The function's answer; a pool whose process died is replaced (and the error raised)."""
        try:
            return self.pool(function).submit(rt.api_worker_invoke, event).result(timeout=60)
        except BrokenProcessPool:
            self.pool(function, renew=True)
            raise

    def shutdown(self) -> None:
        for pool in list(self.pools.values()):
            pool.shutdown(cancel_futures=True)


def page_security_policy(storage: str, websocket: str | None) -> str:
    """The page's Content-Security-Policy: its own scripts and styles, images and uploads from
    the storage endpoint, and the WebSocket API if there is one."""
    ws = f" ws://{urlsplit(websocket).netloc}" if websocket else ""
    return (
        f"default-src 'self'; img-src 'self' blob: data: {storage}; connect-src 'self' {storage}{ws}; "
        "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


class HttpGateway:
    """The WSGI application of the local HTTP API, and the werkzeug server it runs in."""

    def __init__(
        self,
        model: StackModel,
        *,
        invoke: Callable[[str, dict[str, Any]], Any],
        authenticate: Callable[[str], tuple[str, str] | None],
        ready: threading.Event,
        page_policy: str,
    ) -> None:
        """``invoke(function, event)`` runs a function; ``authenticate(token)`` is the authorizer's
        stand-in (``(sub, "user" | "key")`` or None); ``ready`` is set once the stack's resources exist."""
        self.model = model
        self.routes = route_map(model)
        self.invoke = invoke
        self.authenticate = authenticate
        self.ready = ready
        self.page_policy = page_policy
        self.server: ThreadedWSGIServer | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, port: int = 0) -> threading.Thread:
        """Listen on 127.0.0.1:``port`` (0: any free port) and serve in a thread, which is returned."""
        listener = socket.socket()
        try:  # bound here, not by werkzeug, which exits the process on a port in use
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(128)
            self.server = QuietWSGIServer("127.0.0.1", port, self, handler=KeepAliveHandler, fd=listener.fileno())
        finally:
            listener.close()  # (the server listens on its own duplicate)
        t = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="retouch-api", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()  # ends serve_forever, which closes the socket
            self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # --- the application ----------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.method == "OPTIONS":
            self.ready.wait(READY_WAIT_SECONDS)
            answer: Response = _Answer(b"", 204, self.cors_headers(_headers(request).get("Origin")))
        elif not self.ready.wait(READY_WAIT_SECONDS):  # (a stack still starting after that failed)
            answer = refuse(503, "Service Unavailable: the local stack is still starting", {"Retry-After": "5"}, unread=1)
        else:
            answer = self.dispatch(request)
        return answer(environ, start_response)

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        cors = self.model.api_cors
        allowed = cors.get("AllowOrigins", [])
        if not origin or not cors or ("*" not in allowed and origin not in allowed):
            return {}
        return {
            "Access-Control-Allow-Origin": "*" if "*" in allowed else origin,
            "Access-Control-Allow-Methods": ",".join(cors.get("AllowMethods", [])),
            "Access-Control-Allow-Headers": ",".join(cors.get("AllowHeaders", [])),
            "Access-Control-Max-Age": str(cors.get("MaxAge", 0)),
            "Vary": "Origin",
        }

    def match(self, path: str, method: str) -> tuple[_RouteRule | None, dict[str, str], set[str]]:
        """The route of ``method`` on ``path`` and its path parameters, or the methods ``path`` has."""
        adapter = self.routes.bind("127.0.0.1")
        try:
            rule, params = adapter.match(path, method, return_rule=True)
        except MethodNotAllowed as error:
            return None, {}, set(error.valid_methods or ())
        except NotFound:
            return None, {}, set()
        assert isinstance(rule, _RouteRule)
        return rule, {k: str(v) for k, v in params.items()}, set()

    def dispatch(self, request: Request) -> Response:
        headers = _headers(request)
        cors = self.cors_headers(headers.get("Origin"))
        parts = urlsplit(request.environ.get("RAW_URI") or request.full_path)
        rule, params, allowed = self.match(parts.path, request.method)
        length, problem = body_length(headers)
        if problem is not None:  # as API Gateway: a framing error is the client's, answered before anything else
            return refuse(400, problem, cors)
        if rule is None and not allowed and not length and request.method in ("GET", "HEAD"):
            page = self.page(request, parts.path)
            if page is not None:
                return page
        if rule is None and allowed:
            return refuse(405, "Method Not Allowed", {"Allow": ", ".join(sorted(allowed)), **cors}, unread=length)
        if rule is None:
            return refuse(404, "Not Found", cors, unread=length)
        caller = self.authenticate(bearer(headers.get("Authorization")))
        sub, kind = caller if caller else (None, "user")
        if sub is None and rule.route.authorized:  # the token is checked before the body is read
            return refuse(401, "Unauthorized", cors, unread=length)
        if length > MAX_API_BODY:
            return refuse(413, "Request Entity Too Large", cors, unread=length)
        body = request.input_stream.read(length) if length else b""  # (the length checked above, not werkzeug's)
        event = http_api_event(
            method=rule.route.method,
            route_path=rule.route.path,
            path=parts.path,
            query=parts.query,
            headers=dict(headers.items()),
            body=body,
            path_params=params,
            sub=sub,
            source_ip=request.environ.get("REMOTE_ADDR", "127.0.0.1"),
            auth=kind,
        )
        content_type = (headers.get("Content-Type") or "").lower()
        if body and content_type and not content_type.startswith(TEXT_BODY_TYPES):
            event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)  # as API Gateway passes binary
        return self.run(str(rule.endpoint), event, cors)

    def run(self, function: str, event: dict[str, Any], cors: dict[str, str]) -> Response:
        """The function's answer to ``event`` as API Gateway returns it (a crash: 502 or 500)."""
        try:
            response = self.invoke(function, event)
        except BrokenProcessPool:
            return _Answer(INTERNAL_ERROR, 502, {"Content-Type": "application/json", **cors})
        except Exception:  # noqa: BLE001 - like API Gateway, a crashing function is a 500
            logger.exception("API function failed")
            return _Answer(INTERNAL_ERROR, 500, {"Content-Type": "application/json", **cors})
        headers = {k: str(v) for k, v in (response.get("headers") or {}).items()}
        headers.update(cors)
        payload = response.get("body") or ""
        data = payload.encode() if isinstance(payload, str) else payload
        if response.get("isBase64Encoded"):
            data = base64.b64decode(data)
        return _Answer(data, int(response.get("statusCode", 200)), headers)

    def page(self, request: Request, path: str) -> Response | None:
        """The web page and its assets (a file under ``retouch/web``), as CloudFront serves them
        on AWS; ``/config.json`` tells the page how to sign in (locally: ``?token=``)."""
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
        if path == "/config.json":
            config = json.dumps({"api_url": "", "auth": {"mode": "token"}}).encode()
            return _Answer(config, 200, {**headers, "Content-Type": "application/json"})
        name = "index.html" if path == "/" else path.lstrip("/")
        if not name.endswith(PAGE_SUFFIXES):
            return None
        try:  # werkzeug's safe join: nothing outside the folder, files only
            answer = send_from_directory(WEB_ROOT, name, request.environ, conditional=False, etag=False)
        except NotFound:
            return None
        answer.headers.update(headers)
        if name.endswith(".html"):
            answer.headers["Content-Security-Policy"] = self.page_policy
        return answer


def _headers(request: Request) -> Any:
    """The request's headers as received (``get``, ``get_all``, ``items``), else werkzeug's view."""
    return request.environ.get(RAW_HEADERS) or request.headers


def refuse(status: int, message: str, headers: Mapping[str, str], unread: int = 0) -> Response:
    """An error answered before the body was read: the connection closes after it (an unread
    body would otherwise be taken for the next request)."""
    extra = {"Connection": "close"} if unread or status == 400 else {}
    body = json.dumps({"message": message}).encode()
    return _Answer(body, status, {"Content-Type": "application/json", **headers, **extra})


class QuietWSGIServer(ThreadedWSGIServer):
    """The local API's server: a client that hangs up mid-answer (a stopped CLI) is not an error
    to print; anything else goes to the log, never as a traceback on the user's terminal."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        logger.debug("local API request failed", extra={"client": str(client_address), "error": repr(error)})


class KeepAliveHandler(KeptOpen, WSGIRequestHandler):
    """werkzeug's request handler, keeping HTTP/1.1 connections open between requests
    (:mod:`retouch.local.kept_open`); the gateway answers ``Connection: close`` when it leaves a
    body unread, which closes the connection. The raw headers go to the gateway (body framing)."""

    def make_environ(self) -> Any:
        environ = super().make_environ()
        environ[RAW_HEADERS] = self.headers
        return environ

    def body_length(self) -> int | None:
        length, problem = body_length(self.headers)  # (the gateway's framing rules, RFC 9110's)
        return None if problem else length

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":  # (a failure's traceback, from KeptOpen: to the log, not the terminal)
            logger.debug("local API request failed", extra={"detail": message % args})
