"""The embedded stack's HTTP API gateway (:mod:`retouch.local.gateway`) over real sockets, with
the template's routes and a stand-in for the functions: the event each route hands its function,
the answers API Gateway gives without one (404, 405 with ``Allow``, 401, 413, CORS), the web
page and its headers, connections kept open, and requests waiting for the stack to be ready."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from retouch.local.gateway import HttpGateway, body_length, page_security_policy
from retouch.local.template import StackModel, build_model, find_template
from tests.helpers import wait_until

TOKEN, KEY = "local-token", "rk_not_a_real_key"
TIMEOUT = 60  # generous: a loaded machine is slow


@pytest.fixture(scope="module")
def model() -> StackModel:
    return build_model(find_template(), stack="retouch-local", region="us-east-1", endpoint="http://127.0.0.1:1")


class Functions:
    """The functions' stand-in: records the events, answers what it is told to."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.answer: Any = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        self.events.append((function, event))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def authenticate(token: str) -> tuple[str, str] | None:
    return {TOKEN: ("user-1", "user"), KEY: ("user-2", "key")}.get(token)


@pytest.fixture
def functions() -> Functions:
    return Functions()


@pytest.fixture
def gateway(model: StackModel, functions: Functions) -> Iterator[HttpGateway]:
    ready = threading.Event()
    ready.set()
    policy = page_security_policy("http://127.0.0.1:1", "ws://127.0.0.1:2")
    g = HttpGateway(model, invoke=functions.invoke, authenticate=authenticate, ready=ready, page_policy=policy)
    thread = g.start()
    yield g
    g.stop()
    thread.join(TIMEOUT)


def connect(gateway: HttpGateway) -> http.client.HTTPConnection:
    assert gateway.server is not None
    return http.client.HTTPConnection("127.0.0.1", gateway.server.server_address[1], timeout=TIMEOUT)


def ask(
    gateway: HttpGateway, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection: status, lower-cased headers, body."""
    conn = connect(gateway)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def bearer(token: str = TOKEN, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def test_the_routes_match_what_the_templates_patterns_match(gateway: HttpGateway, model: StackModel) -> None:
    paths = ["/jobs", "/jobs/", "/jobs/j-1", "/jobs/j-1/", "/jobs/j-1/cancel", "/jobs//cancel", "/jobs/a%2Fb"]
    paths += ["/jobs/a%2Fb/events", "/api-keys/k1", "/api-keys", "/", "/x", "/docs", "/JOBS", "/jobs/j-1/events/x"]
    for path in paths:
        for method in ("GET", "POST", "DELETE", "PUT", "HEAD", "PATCH", "PROPFIND"):
            expected, allowed = None, set()
            for fn in model.functions.values():
                for r in fn.routes:
                    found = r.pattern.match(path)
                    allowed |= {r.method} if found else set()
                    if found and r.method == method:
                        expected = (fn.logical_id, r.path, found.groupdict())
            rule, params, methods = gateway.match(path, method)
            assert ((rule.endpoint, rule.route.path, params) if rule else None) == expected, (method, path)
            assert rule is not None or methods == allowed, (method, path)


def test_a_route_hands_its_function_an_http_api_event(gateway: HttpGateway, functions: Functions) -> None:
    body = b'{"images": []}'
    headers = bearer(**{"Content-Type": "application/json", "X-Custom": "Yes"})
    status, answer_headers, answer = ask(gateway, "POST", "/jobs?a=1&a=2&b=", body, headers)
    assert (status, answer, answer_headers["content-type"]) == (200, b'{"ok": true}', "application/json")
    function, event = functions.events[-1]
    assert function == "UploadUrlFunction"
    assert event["version"] == "2.0" and event["routeKey"] == "POST /jobs" and event["rawPath"] == "/jobs"
    assert event["rawQueryString"] == "a=1&a=2&b=" and event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["headers"]["x-custom"] == "Yes" and event["headers"]["content-type"] == "application/json"
    assert event["body"] == body.decode() and event["isBase64Encoded"] is False and event["pathParameters"] is None
    context = event["requestContext"]
    assert context["authorizer"] == {"lambda": {"sub": "user-1", "auth": "user"}}
    assert context["http"]["method"] == "POST" and context["http"]["sourceIp"] == "127.0.0.1"

    ask(gateway, "GET", "/jobs/j-1/events", headers=bearer(KEY))
    _, event = functions.events[-1]
    assert event["routeKey"] == "GET /jobs/{job_id}/events" and event["pathParameters"] == {"job_id": "j-1"}
    assert event["requestContext"]["authorizer"] == {"lambda": {"sub": "user-2", "auth": "key"}}
    assert event["body"] is None and event["queryStringParameters"] is None


def test_a_binary_body_arrives_base64_encoded_and_a_binary_answer_is_decoded(gateway: HttpGateway, functions: Functions) -> None:
    data = bytes(range(256))
    functions.answer = {
        "statusCode": 201,
        "headers": {"X-A": 1},
        "body": base64.b64encode(data).decode(),
        "isBase64Encoded": True,
    }
    status, headers, answer = ask(gateway, "POST", "/preview", data, bearer(**{"Content-Type": "image/png"}))
    assert (status, answer, headers["x-a"]) == (201, data, "1") and "content-type" not in headers
    _, event = functions.events[-1]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == data


def test_unknown_paths_and_methods_answer_as_api_gateway(gateway: HttpGateway, functions: Functions) -> None:
    status, headers, body = ask(gateway, "PUT", "/jobs", headers=bearer())
    assert (status, headers["allow"], json.loads(body)) == (405, "GET, POST", {"message": "Method Not Allowed"})
    status, headers, _ = ask(gateway, "HEAD", "/jobs/j-1")  # no HEAD added to GET routes
    assert (status, headers["allow"]) == (405, "DELETE, GET")
    status, headers, body = ask(gateway, "GET", "/nowhere")
    assert (status, json.loads(body), headers["content-type"]) == (404, {"message": "Not Found"}, "application/json")
    status, headers, body = ask(gateway, "GET", "/jobs")
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"}) and "connection" not in headers
    status, headers, body = ask(gateway, "POST", "/jobs", b"x" * 20, {"Content-Type": "application/json"})
    assert (status, headers["connection"]) == (401, "close")  # the body is left unread
    assert functions.events == []


def test_a_repeated_equal_content_length_frames_the_body(gateway: HttpGateway, functions: Functions) -> None:
    conn = connect(gateway)
    try:
        conn.request("POST", "/jobs", body=b"{}", headers=bearer(**{"Content-Length": "2, 2"}))
        assert conn.getresponse().read() == b'{"ok": true}'
        conn.request("GET", "/jobs", headers=bearer())  # the next request on the connection is read as one
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert [event["body"] for _, event in functions.events] == ["{}", None]


def test_a_function_that_fails_is_a_500_and_a_dead_process_a_502(gateway: HttpGateway, functions: Functions) -> None:
    functions.answer = RuntimeError("boom")
    status, _, body = ask(gateway, "GET", "/jobs", headers=bearer())
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')
    functions.answer = BrokenProcessPool("gone")
    assert ask(gateway, "GET", "/jobs", headers=bearer())[0] == 502


def test_cors_answers_from_the_templates_configuration(gateway: HttpGateway, model: StackModel) -> None:
    status, headers, body = ask(gateway, "OPTIONS", "/jobs", headers={"Origin": "https://example.com"})
    allowed = model.api_cors.get("AllowOrigins", [])
    assert status == 204 and body == b""
    if "*" in allowed or "https://example.com" in allowed:
        assert headers["access-control-allow-origin"] in ("*", "https://example.com")
        assert headers["access-control-allow-methods"] == ",".join(model.api_cors.get("AllowMethods", []))
        assert headers["vary"] == "Origin"
        status, headers, _ = ask(gateway, "PUT", "/jobs", headers={"Origin": "https://example.com"})
        assert status == 405 and "access-control-allow-origin" in headers
    assert "access-control-allow-origin" not in ask(gateway, "OPTIONS", "/jobs")[1]


def test_the_page_is_served_with_its_security_headers(gateway: HttpGateway) -> None:
    status, headers, body = ask(gateway, "GET", f"/?token={TOKEN}")
    assert status == 200 and body.lstrip().lower().startswith(b"<!doctype html")
    assert headers["content-type"] == "text/html; charset=utf-8" and headers["cache-control"] == "no-cache"
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == page_security_policy("http://127.0.0.1:1", "ws://127.0.0.1:2")
    status, headers, body = ask(gateway, "GET", "/app.js")
    assert status == 200 and headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "content-security-policy" not in headers and int(headers["content-length"]) == len(body) > 0
    status, headers, body = ask(gateway, "HEAD", "/style.css")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    status, headers, body = ask(gateway, "GET", "/config.json")
    assert status == 200 and json.loads(body) == {"api_url": "", "auth": {"mode": "token"}}
    assert headers["content-type"] == "application/json"
    for path in ("/vendor/client-zip/README.md", "/../local/stack.py", "/%2e%2e/local/gateway.py", "/vendor", "/app.js/x"):
        assert ask(gateway, "GET", path)[0] == 404, path
    assert ask(gateway, "POST", "/app.js")[0] == 404


def test_a_connection_stays_open_between_answers_unless_a_body_is_left_unread(gateway: HttpGateway) -> None:
    conn = connect(gateway)
    try:
        for _ in range(3):
            conn.request("GET", "/jobs", headers=bearer())
            response = conn.getresponse()
            assert response.status == 200 and response.getheader("Connection") is None
            response.read()
        first = conn.sock
        conn.request("GET", "/config.json")
        conn.getresponse().read()
        assert conn.sock is first  # the same connection all along
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (0, None)),
        ({"Content-Length": ["12"]}, (12, None)),
        ({"Content-Length": ["12", "12"]}, (12, None)),
        ({"Content-Length": ["12, 12"]}, (12, None)),
        ({"Content-Length": ["12", "13"]}, (0, "malformed Content-Length header")),
        ({"Content-Length": ["-1"]}, (0, "malformed Content-Length header")),
        ({"Content-Length": ["1e3"]}, (0, "malformed Content-Length header")),
        ({"Content-Length": ["５"]}, (0, "malformed Content-Length header")),
        ({"Content-Length": ["9" * 19]}, (0, "malformed Content-Length header")),
        ({"Transfer-Encoding": ["chunked"]}, (0, "Transfer-Encoding is not supported: send the body with a Content-Length")),
    ],
)
def test_body_length(headers: dict[str, list[str]], expected: tuple[int, str | None]) -> None:
    from email.message import Message

    message = Message()
    for name, values in headers.items():
        for value in values:
            message[name] = value
    assert body_length(message) == expected


def test_a_request_waits_for_the_stack_to_be_ready(model: StackModel, functions: Functions) -> None:
    ready = threading.Event()
    g = HttpGateway(model, invoke=functions.invoke, authenticate=authenticate, ready=ready, page_policy="")
    thread = g.start()
    answer: Future[int] = Future()

    def request() -> None:
        try:
            answer.set_result(ask(g, "GET", "/jobs", headers=bearer())[0])
        except Exception as exc:
            answer.set_exception(exc)

    try:
        threading.Thread(target=request, daemon=True).start()
        wait_until(lambda: any("process_request_thread" in t.name for t in threading.enumerate()), TIMEOUT, "the request")
        assert not answer.done() and functions.events == []
        ready.set()
        assert answer.result(timeout=TIMEOUT) == 200 and len(functions.events) == 1
    finally:
        g.stop()
        thread.join(TIMEOUT)
