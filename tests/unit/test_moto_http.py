"""The moto servers' kept connections (:mod:`retouch.local.moto_http`): successive requests on
one connection each get their own answer, whatever the application read of their bodies; a
connection is closed when where the next request starts is unknown; and the werkzeug, moto and
``http.server`` internals the handler relies on are still there (issue 28)."""

from __future__ import annotations

import http.client
import inspect
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from retouch.local import kept_open, moto_http, moto_main


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Echoes the request; ``/ignore`` leaves the body unread, ``/boom`` fails, ``/empty`` is a
    204, ``/unsized`` gives no Content-Length."""
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    body = b"" if path == "/ignore" else environ["wsgi.input"].read()
    out = f"{environ['REQUEST_METHOD']} {path} {len(body)} {body[:20]!r} port={environ['REMOTE_PORT']}".encode()
    headers = [("Content-Type", "text/plain")] + ([] if path == "/unsized" else [("Content-Length", str(len(out)))])
    start_response("200 OK", headers)
    return [out[:10], out[10:]]


@pytest.fixture
def server() -> Iterator[BaseWSGIServer]:
    srv = make_server("127.0.0.1", 0, app, threaded=True, request_handler=moto_http.KeepAliveHandler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    thread.join(5)


def ask(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None) -> tuple[int, str, Any]:
    conn.request(method, path, body=body)
    response = conn.getresponse()
    return response.status, response.read().decode(), response


def test_successive_requests_share_one_connection_whatever_was_read(server: BaseWSGIServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    answers = [
        ask(conn, "POST", "/a", b"x" * 100_000),
        ask(conn, "POST", "/ignore", b"y" * 70_000),  # left unread by the application
        ask(conn, "GET", "/unsized"),
        ask(conn, "HEAD", "/b"),
        ask(conn, "DELETE", "/empty"),
        ask(conn, "PUT", "/c", b"z" * 10),
    ]
    assert [(status, text.split(" port=")[0]) for status, text, _ in answers] == [
        (200, "POST /a 100000 b'xxxxxxxxxxxxxxxxxxxx'"),
        (200, "POST /ignore 0 b''"),
        (200, "GET /unsized 0 b''"),
        (200, ""),
        (204, ""),
        (200, "PUT /c 10 b'zzzzzzzzzz'"),
    ]
    ports = {text.split(" port=")[1] for _, text, _ in answers if "port=" in text}
    assert len(ports) == 1  # one connection for all six
    assert answers[2][2].getheader("Content-Length") == str(len(answers[2][1]))
    assert answers[3][2].getheader("Content-Length") is not None  # a HEAD keeps the GET's length
    assert all(response.getheader("Connection") is None for _, _, response in answers)
    conn.close()


def raw(port: int, request: bytes) -> bytes:
    """``request`` sent on a new connection; everything the server sends until it closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_chunked_body_is_read_and_the_connection_closed_after(server: BaseWSGIServer) -> None:
    request = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    answer = raw(server.server_port, request)  # returns: the server closed the connection
    assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" in answer and b"POST /a 5 b'hello'" in answer


def test_a_failing_application_gets_a_500_and_the_connection_closed(server: BaseWSGIServer) -> None:
    answer = raw(server.server_port, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 500") and b"Connection: close" in answer


def test_expect_100_continue_and_a_clients_connection_close(server: BaseWSGIServer) -> None:
    request = b"PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    answer = raw(server.server_port, request)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200") and b"PUT /a 3 b'abc'" in answer
    assert answer.count(b"HTTP/1.1 100") == 1


def test_a_body_larger_than_is_drained_closes_the_connection(server: BaseWSGIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kept_open, "MAX_DRAIN", 1000)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    status, _, response = ask(conn, "POST", "/ignore", b"y" * 5000)
    assert status == 200 and response.getheader("Connection") == "close"
    conn.close()


def test_the_internals_the_handler_relies_on_are_still_there() -> None:
    """moto's server runs werkzeug with ``request_handler=MotoRequestHandler`` (the name
    :func:`moto_http.install` replaces); werkzeug marks a chunked body with
    ``wsgi.input_terminated``, dispatches every method to ``run_wsgi`` and closes every
    connection itself; ``http.server`` buffers the status and headers in ``_headers_buffer``,
    which ``flush_headers`` writes, and answers ``Expect: 100-continue`` itself."""
    from http.server import BaseHTTPRequestHandler
    from socketserver import StreamRequestHandler

    import moto.server
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import WSGIRequestHandler

    assert "request_handler=MotoRequestHandler" in inspect.getsource(moto.server.main)
    assert issubclass(moto_http.KeepAliveHandler, MotoRequestHandler)
    assert 'environ["wsgi.input_terminated"] = True' in inspect.getsource(WSGIRequestHandler.make_environ)
    assert 'if name.startswith("do_"):' in inspect.getsource(WSGIRequestHandler.__getattr__)
    assert 'self.send_header("Connection", "close")' in inspect.getsource(WSGIRequestHandler.run_wsgi)
    flush = inspect.getsource(BaseHTTPRequestHandler.flush_headers)
    assert 'self.wfile.write(b"".join(self._headers_buffer))' in flush
    assert "self._headers_buffer.append" in inspect.getsource(BaseHTTPRequestHandler.send_header)
    assert "self.handle_expect_100()" in inspect.getsource(BaseHTTPRequestHandler.parse_request)
    assert "disable_nagle_algorithm" in inspect.getsource(StreamRequestHandler.setup)


# --- finding the service and the action -----------------------------------------------------------
@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`moto_main.install_server` (:func:`moto_http.install`) for this test only."""
    import moto.core.responses
    import moto.server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host", DomainDispatcherApplication.get_backend_for_host)
    monkeypatch.setattr(moto_http, "_backends", {})
    monkeypatch.setattr(moto.server, "MotoRequestHandler", moto.server.MotoRequestHandler)
    monkeypatch.setattr(moto.core.responses, "method_names_from_class", moto.core.responses.method_names_from_class)
    moto_main.install_server()
    assert moto.server.MotoRequestHandler is moto_http.KeepAliveHandler


HOSTS = [None, "moto_api", "s3.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com", "dynamodb", "sts.amazonaws.com"]


def test_each_hosts_service_is_looked_up_once_and_answers_as_moto(installed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    app = DomainDispatcherApplication(lambda service: None)  # type: ignore[arg-type,return-value]
    moto_lookup = DomainDispatcherApplication.get_backend_for_host.__wrapped__  # type: ignore[attr-defined]
    expected = [moto_lookup(app, host) for host in HOSTS]
    assert expected[2:5] == ["s3", "sqs", "dynamodb"]
    assert [app.get_backend_for_host(host) for host in HOSTS] == expected
    scans: list[int] = []
    real = moto.backends.list_of_moto_modules

    def counted() -> Any:
        scans.append(1)
        return real()

    monkeypatch.setattr(moto.backends, "list_of_moto_modules", counted)
    assert [app.get_backend_for_host(host) for host in HOSTS * 3] == expected * 3
    assert scans == []


def test_each_classs_methods_are_listed_once_and_as_moto_lists_them(installed: None) -> None:
    import moto.core.responses
    from moto.core.utils import method_names_from_class
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    cached = moto.core.responses.method_names_from_class
    for cls in (DynamoHandler, SQSResponse):
        assert cached(cls) == method_names_from_class(cls) and "get_item" in cached(DynamoHandler)
        assert cached(cls) is cached(cls)


def test_only_failed_requests_are_logged(server: BaseWSGIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[str] = []
    monkeypatch.setattr(moto_http.KeepAliveHandler, "log", lambda self, kind, fmt, *args: logged.append(fmt % args))
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    ask(conn, "GET", "/a")
    ask(conn, "DELETE", "/empty")
    conn.close()
    raw(server.server_port, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(logged) == 2 and "Error on request" in logged[0] and "GET /boom" in logged[1] and " 500 " in logged[1]


def test_the_dispatcher_internals_the_caches_rely_on_are_still_there() -> None:
    """moto's dispatcher finds each request's application through ``get_backend_for_host(host)``,
    under its lock, and the answer depends on the host and moto's own modules and URL patterns
    only (nothing of the request or the server's state); ``call_action`` looks its action up in
    ``method_names_from_class(self.__class__)``, a name of :mod:`moto.core.responses`; werkzeug
    logs each answer through ``log_request(code, size)``."""
    import moto.core.responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from werkzeug.serving import WSGIRequestHandler

    installed = DomainDispatcherApplication.get_backend_for_host
    lookup = getattr(installed, "__wrapped__", installed)
    assert list(inspect.signature(lookup).parameters) == ["self", "host"]
    source = inspect.getsource(lookup)
    assert "backends.list_of_moto_modules()" in source and "self.backend_url_patterns" in source
    assert "environ" not in source and "self.app_instances" not in source
    application = inspect.getsource(DomainDispatcherApplication.get_application)
    assert "with self.lock:\n            backend = self.get_backend_for_host(host)" in application
    call_action = inspect.getsource(moto.core.responses.BaseResponse.call_action)
    assert "method_names = method_names_from_class(self.__class__)" in call_action
    assert "if action in method_names:" in call_action
    assert inspect.getsource(moto.core.responses).count("method_names_from_class(") == 1
    assert list(inspect.signature(WSGIRequestHandler.log_request).parameters) == ["self", "code", "size"]
