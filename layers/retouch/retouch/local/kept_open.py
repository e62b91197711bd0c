"""HTTP/1.1 connections kept open by the embedded stack's werkzeug servers (the local API and the
moto servers).

werkzeug's development server answers every request with ``Connection: close``, because
``http.server`` cannot find the next request line if the application left part of a body
unread: each call then paid a TCP connection, a server thread and a client reconnection.
:class:`KeptOpen` reads what the application left (or closes when it cannot know how much that
is: a chunked body, or more than :data:`MAX_DRAIN` bytes; or when the application answers
``Connection: close``, which the local API does when it refuses a body it did not read) and
frames every answer with a ``Content-Length``, so a client sends its next request on the same
connection. The rest is werkzeug's: the environ (``make_environ``), ``Expect: 100-continue``
(``http.server`` answers it), a client's ``Connection: close`` and HTTP/1.0.
"""

from __future__ import annotations

import io
import traceback
from collections.abc import Iterable
from typing import Any

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


def _closes(headers: Iterable[tuple[str, str]]) -> bool:
    return any(name.lower() == "connection" and value.lower() == "close" for name, value in headers)


class KeptOpen:
    """Mixed into a werkzeug ``WSGIRequestHandler`` (first in the bases): the connection stays
    open after an answer (see the module). The application's answer is read whole (the stack's
    applications answer from memory) and written in one write."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """An answer goes out in one write (below); a client's next request needs no ACK of it."""

    def body_length(self: Any) -> int | None:
        """The request body's length, or None where it is not known (a malformed or chunked
        ``Content-Length``): the connection is then closed after the answer."""
        length = self.environ.get("CONTENT_LENGTH") or "0"
        return int(length) if length.isascii() and length.isdigit() else None

    def run_wsgi(self: Any) -> None:
        environ = self.environ = self.make_environ()
        body: _Body | None = None
        length = None if environ.get("wsgi.input_terminated") else self.body_length()  # (chunked: werkzeug's)
        if length is not None:
            body = _Body(self.rfile, length)
            environ["wsgi.input"] = body
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return self._no_write

        try:
            chunks = self.server.app(environ, start_response)
            try:
                data = b"".join(bytes(c) for c in chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except Exception:  # noqa: BLE001 - as werkzeug: a 500 and the traceback in the log
            self._fail()
            return
        if body is None or body.left > MAX_DRAIN or _closes(answer[1]):
            self.close_connection = True  # where the next request starts is unknown, or not wanted
        else:
            while body.left and body.read(body.left):
                pass
        self._answer(answer[0], answer[1], data)

    @staticmethod
    def _no_write(data: bytes) -> None:
        raise NotImplementedError("write() of WSGI 1.0: the stack's applications return their body")

    def _answer(self: Any, status: str, headers: Iterable[tuple[str, str]], data: bytes) -> None:
        code = status.partition(" ")[0]
        no_body = self.command == "HEAD" or code in ("204", "304") or code.startswith("1")
        self.send_response(int(code))  # (the standard reason phrase: werkzeug's are upper case)
        sized = False
        for name, value in headers:
            if name.lower() == "connection" and value.lower() != "close":
                continue
            sized = sized or name.lower() == "content-length"
            self.send_header(name, value)
        if not (sized or no_body):
            self.send_header("Content-Length", str(len(data)))
        if self.close_connection and not _closes(headers):
            self.send_header("Connection", "close")
        # status, headers and body in one write: in two, the body would wait for the client to
        # acknowledge the headers (Nagle), which it delays by up to 40 ms on a kept connection
        self._headers_buffer.append(b"\r\n")
        if not no_body:
            self._headers_buffer.append(data)
        self.flush_headers()

    def _fail(self: Any) -> None:
        self.close_connection = True
        self.log_error("Error on request:\n%s", traceback.format_exc())
        self._answer("500 Internal Server Error", [("Content-Type", "text/plain")], b"Internal Server Error")
