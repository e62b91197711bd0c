"""The embedded stack's WebSocket API: API Gateway's WebSocket protocol on loopback.

* Clients connect to ``ws://127.0.0.1:<port>/?token=<bearer token>``; a token the stack does not
  know is refused (401) before the upgrade, as the ``$connect`` authorizer refuses it on AWS.
* Each connection and each text message becomes an invocation of the template's WebSocket
  function (``$connect``, ``$disconnect``, and the route named by the message's ``action``, else
  ``$default``), with the event API Gateway sends.
* The function (and the fan-out) answer through the **management API**, served on a second
  loopback port exactly as ``apigatewaymanagementapi`` expects: ``POST /@connections/{id}`` posts
  a message, ``DELETE`` closes the connection, and a gone connection answers 410
  ``GoneException``. The sender code is the same as on AWS.

The frames themselves are the ``websockets`` library's.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from retouch.local import lambda_runtime as rt
from retouch.local.processes import SERVER_POLL_SECONDS
from retouch.observability import logger


def websocket_event(route: str, connection_id: str, *, sub: str | None = None, body: str | None = None) -> dict[str, Any]:
    """The event API Gateway's WebSocket API passes to a Lambda proxy integration."""
    now = time.time()
    context: dict[str, Any] = {
        "routeKey": route,
        "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE"),
        "connectionId": connection_id,
        "requestId": uuid.uuid4().hex,
        "requestTimeEpoch": int(now * 1000),
        "domainName": "127.0.0.1",
        "stage": "local",
        "apiId": "local",
    }
    if sub is not None:
        context["authorizer"] = {"principalId": sub}
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if body is not None:
        event["body"] = body
    return event


class WebSocketGateway:
    """The WebSocket API and its management API, invoking ``function`` in a process pool."""

    def __init__(self, runtime: Callable[[], rt.FunctionRuntime], tokens: Callable[[str], str | None], mp_context: Any) -> None:
        """``runtime`` is called once the ports are known (the function's environment names them)."""
        self.runtime = runtime
        self.tokens = tokens
        self.mp_context = mp_context
        self.connections: dict[str, ServerConnection] = {}
        self.lock = threading.Lock()
        self.pool: ProcessPoolExecutor | None = None
        self.server: Server | None = None
        self.management: ThreadingHTTPServer | None = None
        self.threads: list[threading.Thread] = []

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.server = serve(self._session, "127.0.0.1", 0, process_request=self._authorize)
        self.management = ThreadingHTTPServer(("127.0.0.1", 0), self._management_handler())
        self.management.daemon_threads = True
        self.pool = ProcessPoolExecutor(
            max_workers=2, mp_context=self.mp_context, initializer=rt.api_worker_init, initargs=(self.runtime(),)
        )
        management = functools.partial(self.management.serve_forever, poll_interval=SERVER_POLL_SECONDS)
        for target, name in ((self.server.serve_forever, "retouch-ws"), (management, "retouch-ws-mgmt")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
        if self.management is not None:
            self.management.shutdown()
            self.management.server_close()
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"

    @property
    def management_url(self) -> str:
        assert self.management is not None
        return f"http://127.0.0.1:{self.management.server_address[1]}"

    # --- the WebSocket API --------------------------------------------------------------------
    def _authorize(self, connection: ServerConnection, request: Request) -> Response | None:
        token = (parse_qs(urlsplit(request.path).query).get("token") or [""])[0]
        sub = self.tokens(token)
        if sub is None:
            return connection.respond(401, "Unauthorized\n")
        connection.retouch_sub = sub  # type: ignore[attr-defined]
        return None

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.pool is not None
        try:
            result = self.pool.submit(rt.api_worker_invoke, event).result(timeout=60)
            return result if isinstance(result, dict) else {"statusCode": 200}
        except Exception:  # noqa: BLE001 - like API Gateway, a failing integration is a 500
            logger.exception("WebSocket function failed", extra={"route": event["requestContext"]["routeKey"]})
            return {"statusCode": 500}

    def _session(self, connection: ServerConnection) -> None:
        connection_id = uuid.uuid4().hex
        sub = getattr(connection, "retouch_sub", None)
        with self.lock:
            self.connections[connection_id] = connection
        try:
            answer = self._invoke(websocket_event("$connect", connection_id, sub=sub))
            if int(answer.get("statusCode", 500)) != 200:
                connection.close(1008, "connection refused")
                return
            for message in connection:
                if not isinstance(message, str):
                    continue
                try:
                    action = json.loads(message).get("action")
                except (ValueError, AttributeError):
                    action = None
                route = action if action == "subscribe" else "$default"
                self._invoke(websocket_event(route, connection_id, body=message))
        except ConnectionClosed:
            pass
        finally:
            with self.lock:
                self.connections.pop(connection_id, None)
            self._invoke(websocket_event("$disconnect", connection_id))

    # --- the management API -------------------------------------------------------------------
    def _post(self, connection_id: str, data: bytes) -> bool:
        with self.lock:
            connection = self.connections.get(connection_id)
        if connection is None:
            return False
        try:
            connection.send(data.decode())
            return True
        except ConnectionClosed:
            return False

    def _close(self, connection_id: str) -> bool:
        with self.lock:
            connection = self.connections.get(connection_id)
        if connection is None:
            return False
        connection.close()
        return True

    def _management_handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # (headers and body are two writes: no 40 ms delayed-ACK wait)

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, ok: bool) -> None:
                body = b"" if ok else b'{"message":"the connection is gone"}'
                self.send_response(200 if ok else 410)
                if not ok:
                    self.send_header("x-amzn-ErrorType", "GoneException")
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _connection_id(self) -> str | None:
                path = urlsplit(self.path).path
                return path.split("/@connections/", 1)[1] if "/@connections/" in path else None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length > 0 else b""
                cid = self._connection_id()
                self._answer(cid is not None and gateway._post(cid, data))

            def do_DELETE(self) -> None:
                cid = self._connection_id()
                self._answer(cid is not None and gateway._close(cid))

        return Handler
