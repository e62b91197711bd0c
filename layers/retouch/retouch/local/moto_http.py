"""The embedded stack's moto servers keep their connections open between requests (issue 28).

werkzeug's development server, which moto's server runs, answers every request with
``Connection: close``: each AWS call of the stack paid a TCP connection, a new server thread and
a new handler, and each SDK client a reconnection (``bench.moto_cpu`` counted one connection per
request). werkzeug closes because ``http.server`` cannot find the next request line if the
application left part of a request body unread; :class:`KeepAliveHandler` reads what the
application left (or closes when it cannot know how much that is: a chunked body, or more than
:data:`MAX_DRAIN` bytes), and frames every answer with a ``Content-Length``, so a client can
send its next request on the same connection, as it does with AWS.

Everything else is werkzeug's and moto's: the environ (``make_environ``), the application, the
access log, ``Expect: 100-continue`` (``http.server`` answers it), a client's
``Connection: close`` and HTTP/1.0 (``http.server`` closes then).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
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

    def _fail(self) -> None:
        import traceback

        self.close_connection = True
        self.log_error("Error on request:\n%s", traceback.format_exc())
        self._answer("500 Internal Server Error", [("Content-Type", "text/plain")], b"Internal Server Error")


def install() -> None:
    """moto's server (``moto.server.main``) serves with :class:`KeepAliveHandler`."""
    import moto.server

    moto.server.MotoRequestHandler = KeepAliveHandler  # type: ignore[misc]
