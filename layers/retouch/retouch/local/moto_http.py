"""What each request costs the embedded stack's moto servers beyond the work it asks for (issue 28).

``bench/moto_cpu.py`` measured 1.5-2.5 ms of server CPU per small request (a DynamoDB
``GetItem``, an S3 ``HeadObject``), most of it outside the call itself. Four costs are cut:

* **Connections.** werkzeug's development server, which moto's server runs, answers every
  request with ``Connection: close``: each AWS call of the stack paid a TCP connection, a new
  server thread and a new handler, and each SDK client a reconnection (``bench.moto_cpu`` counted
  one connection per request). werkzeug closes because ``http.server`` cannot find the next
  request line if the application left part of a body unread. :class:`KeepAliveHandler` reads
  what the application left (or closes when it cannot know how much that is: a chunked body, or
  more than :data:`MAX_DRAIN` bytes) and frames every answer with a ``Content-Length``, so a
  client sends its next request on the same connection, as it does with AWS. The rest is
  werkzeug's and moto's: the environ (``make_environ``), the application, ``Expect:
  100-continue`` (``http.server`` answers it), a client's ``Connection: close`` and HTTP/1.0.
* **Finding the service.** moto's dispatcher calls ``get_backend_for_host`` on every request,
  which lists moto's package directory and stats each of its ~180 entries (the host is not one
  of them for S3 and SQS), then tries each service's URL patterns: about 1 ms per S3 or SQS
  request. The answer depends on the host only (moto's modules and patterns are fixed once
  imported), so it is kept per host (:func:`_cached_backends`; hosts are few: the credential
  scope's service and region).
* **Finding the action.** Every SQS and DynamoDB request lists its response class's methods
  with ``inspect.getmembers`` (``method_names_from_class``) to check that the action is one of
  them. A class's methods do not change, so the list is made once per class.
* **The access log.** werkzeug logs every request (through :mod:`logging`, into ``moto.log``);
  only failed ones (4xx, 5xx) are logged now.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

MAX_DRAIN = 16 * 1024 * 1024
"""An unread request body up to this size is read (and dropped) to keep the connection; a larger
one closes it."""


class _Body(io.RawIOBase):
    """A request's body: at most ``length`` bytes of ``stream``, counting what was read."""

    def __init__(self, stream: Any, length: int) -> None:
        self.stream, self.left = stream, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        if n <= 0:
            return 0
        data = self.stream.read(n)
        buffer[: len(data)] = data
        self.left -= len(data)
        if not data:
            self.left = 0  # the client went away: nothing more will come
        return len(data)


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler; the connection stays open after an answer (see the module)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """An answer goes out in one write (below); a client's next request needs no ACK of it."""

    def run_wsgi(self) -> None:
        environ = self.environ = self.make_environ()
        body: _Body | None = None
        if not environ.get("wsgi.input_terminated"):  # (a chunked body: werkzeug's dechunker)
            body = _Body(self.rfile, int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = body
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return self._no_write

        try:
            chunks = self.server.app(environ, start_response)
            try:
                data = b"".join(bytes(c) for c in chunks)  # moto answers from memory
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except Exception:  # noqa: BLE001 - as werkzeug: a 500 and the traceback in the log
            self._fail()
            return
        if body is None or body.left > MAX_DRAIN:
            self.close_connection = True  # where the next request starts is unknown
        else:
            while body.left and body.read(body.left):
                pass
        self._answer(answer[0], answer[1], data)

    @staticmethod
    def _no_write(data: bytes) -> None:
        raise NotImplementedError("write() of WSGI 1.0: moto's applications return their body")

    def _answer(self, status: str, headers: Iterable[tuple[str, str]], data: bytes) -> None:
        code, _, reason = status.partition(" ")
        no_body = self.command == "HEAD" or code in ("204", "304") or code.startswith("1")
        self.send_response(int(code), reason)
        sized = False
        for name, value in headers:
            if name.lower() == "connection" and value.lower() != "close":
                continue
            sized = sized or name.lower() == "content-length"
            self.send_header(name, value)
        if not (sized or no_body):
            self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # status, headers and body in one write: in two, the body would wait for the client to
        # acknowledge the headers (Nagle), which it delays by up to 40 ms on a kept connection
        self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        if not no_body:
            self._headers_buffer.append(data)  # type: ignore[attr-defined]
        self.flush_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not str(code).isdigit() or int(code) >= 400:  # (see the module: failed answers only)
            super().log_request(code, size)

    def _fail(self) -> None:
        import traceback

        self.close_connection = True
        self.log_error("Error on request:\n%s", traceback.format_exc())
        self._answer("500 Internal Server Error", [("Content-Type", "text/plain")], b"Internal Server Error")


_backends: dict[str | None, Any] = {}


def _cached_backends(moto_lookup: Callable[[Any, str | None], Any]) -> Callable[[Any, str | None], Any]:
    """``DomainDispatcherApplication.get_backend_for_host``, each host's answer kept."""

    @functools.wraps(moto_lookup)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in _backends:  # (its caller holds the dispatcher's lock)
            backend = moto_lookup(self, host)
            if len(_backends) >= 256:
                return backend
            _backends[host] = backend
        return _backends[host]

    return get_backend_for_host


def install() -> None:
    """moto's server (``moto.server.main``) serves with :class:`KeepAliveHandler`, finds each
    host's service once and each response class's methods once (see the module). Once."""
    import moto.core.responses
    import moto.server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    lookup = DomainDispatcherApplication.get_backend_for_host
    if getattr(lookup, "__wrapped__", None) is not None:
        return
    moto.server.MotoRequestHandler = KeepAliveHandler  # type: ignore[misc]
    DomainDispatcherApplication.get_backend_for_host = _cached_backends(lookup)  # type: ignore[method-assign,assignment]
    method_names = moto.core.responses.method_names_from_class
    moto.core.responses.method_names_from_class = functools.cache(method_names)
