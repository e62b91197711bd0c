"""Abuse against the embedded stack's HTTP API: hostile bodies over real HTTP, and the framing
cases (malformed, negative or conflicting ``Content-Length``, a body the caller has no right to
send) over raw sockets, so nothing between the test and the server tidies the request up."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from retouch.local.stack import EmbeddedStack
from tests.unit.test_abuse import HOSTILE_BODIES, HOSTILE_IDS, PRIVATE

SOCKET_TIMEOUT = 120  # generous: a loaded machine is slow; a server that waits for a body never answers


def exchange(stack: EmbeddedStack, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` as is and read one response (status, lower-cased headers, body)."""
    url = urlsplit(stack.api_url)
    with socket.create_connection((url.hostname, url.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(raw)
        reply = sock.makefile("rb")
        status_line = reply.readline()
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        headers = {}
        while (line := reply.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = reply.read(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body


def post_jobs(stack: EmbeddedStack, headers: list[str], body: bytes = b"", token: bool = True) -> bytes:
    lines = ["POST /jobs HTTP/1.1", "Host: localhost", "Content-Type: application/json", *headers]
    if token:
        lines.append(f"Authorization: Bearer {stack.token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize(
    "header",
    [
        "CONTENT-LENGTH: :",
        "Content-Length: -5",
        "Content-Length: 1e3",
        "Content-Length: ５",
        "Content-Length: 99999999999999999999999",
    ],
    ids=["colon", "negative", "exponent", "fullwidth digit", "huge"],
)
def test_a_malformed_content_length_is_a_400_not_a_dropped_connection(stack: EmbeddedStack, header: str) -> None:
    status, headers, body = exchange(stack, post_jobs(stack, [header]))
    assert status == 400, body
    assert json.loads(body) == {"message": "malformed Content-Length header"}
    assert headers["connection"] == "close"


def test_conflicting_content_lengths_and_transfer_encoding_are_refused(stack: EmbeddedStack) -> None:
    status, _, body = exchange(stack, post_jobs(stack, ["Content-Length: 2", "Content-Length: 3"], b"{}"))
    assert status == 400 and b"malformed Content-Length" in body
    status, _, body = exchange(stack, post_jobs(stack, ["Transfer-Encoding: chunked"], b"2\r\n{}\r\n0\r\n\r\n"))
    assert status == 400 and b"Content-Length" in body


def test_the_token_is_checked_before_the_body_is_read(stack: EmbeddedStack) -> None:
    """A caller without a token who announces 1 GB gets its 401 at once: the server reads nothing
    (this test never sends the body; a server that waited for it would never answer)."""
    status, headers, body = exchange(stack, post_jobs(stack, ["Content-Length: 1000000000"], token=False))
    assert status == 401 and headers["connection"] == "close", body
    status, headers, body = exchange(stack, post_jobs(stack, ["Content-Length: 1000000000"]))
    assert status == 413 and headers["connection"] == "close", body


def test_a_well_formed_request_still_works_and_keeps_the_connection(stack: EmbeddedStack) -> None:
    body = b'{"images": [], "operations": []}'
    status, headers, reply = exchange(stack, post_jobs(stack, [f"Content-Length: {len(body)}"], body))
    assert status == 400 and headers.get("connection") != "close"
    assert "error" in json.loads(reply)


@pytest.mark.parametrize(("body", "message"), HOSTILE_BODIES, ids=HOSTILE_IDS)
def test_hostile_bodies_get_a_precise_400_over_http(stack: EmbeddedStack, body: str, message: str) -> None:
    data = body.encode()
    status, _, reply = exchange(stack, post_jobs(stack, [f"Content-Length: {len(data)}", "Connection: close"], data))
    error = json.loads(reply)["error"]
    assert status == 400 and message in error["message"], error
    assert not PRIVATE.search(error["message"]) and stack.model is not None
    assert all(b["BucketName"] not in error["message"] for b in stack.model.buckets.values())
