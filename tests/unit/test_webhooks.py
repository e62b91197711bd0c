"""Webhooks: where they may go, how they are signed, how they are retried."""

from __future__ import annotations

import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retouch.adapters.webhooks import UnsafeCallback, WebhookSender, check_callback, signature_header, verify
from retouch.events import Delivery
from retouch.logic import deps
from retouch.logic.deliver import MAX_BACKOFF_SECONDS, backoff, deliver
from tests.conftest import Aws
from tests.helpers import call_api
from tests.unit.test_handlers import IMAGE, THUMB

REFUSED = [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://127.1/hook", "loopback"),
    ("https://0x7f000001/hook", "loopback"),
    ("https://2130706433/hook", "loopback"),
    ("https://0177.0.0.1/hook", "loopback"),
    ("https://localhost/hook", "loopback"),
    ("https://[::1]/hook", "loopback"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ("https://[::ffff:169.254.169.254]/hook", "link-local"),
    ("https://10.0.0.1/hook", "private"),
    ("https://172.16.5.4/hook", "private"),
    ("https://192.168.1.1/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://100.64.0.1/hook", "private"),
    ("https://[fd00::1]/hook", "private"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://0.0.0.0/hook", "not publicly routable"),
    ("https://224.0.0.1/hook", "not publicly routable"),
    ("http://93.184.215.14/hook", "https"),
    ("https://93.184.215.14:8443/hook", "port"),
    ("https://user:pw@93.184.215.14/hook", "user name"),
    ("ftp://93.184.215.14/hook", "https"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_check_callback_refuses_internal_and_odd_targets(url: str, reason: str) -> None:
    with pytest.raises(UnsafeCallback, match=reason):
        check_callback(url)


def test_check_callback_accepts_a_public_https_address_and_pins_it() -> None:
    target = check_callback("https://93.184.215.14/hooks/retouch?x=1")
    assert (target.scheme, target.port, target.path, target.address) == ("https", 443, "/hooks/retouch?x=1", "93.184.215.14")


def test_check_callback_allows_loopback_http_only_when_private_callbacks_are_allowed() -> None:
    assert check_callback("http://127.0.0.1:8080/x", allow_private=True).address == "127.0.0.1"
    with pytest.raises(UnsafeCallback, match="private"):
        check_callback("http://10.0.0.1:8080/x", allow_private=True)
    with pytest.raises(UnsafeCallback, match="link-local"):
        check_callback("http://169.254.169.254/x", allow_private=True)


def test_signature_verifies_with_the_secret_and_a_fresh_timestamp_only() -> None:
    body = b'{"type":"job","seq":3}'
    now = int(time.time())
    header = signature_header(["whsec_new", "whsec_old"], now, body)
    assert header.startswith(f"t={now},v1=") and header.count("v1=") == 2
    assert verify(header, body, "whsec_new") and verify(header, body, "whsec_old")  # during a rotation
    assert not verify(header, body, "whsec_other")
    assert not verify(header, body + b" ", "whsec_new")
    assert not verify(header, body, "whsec_new", now=now + 301)  # replayed after the tolerance
    assert not verify(header.replace(f"t={now}", f"t={now + 1}"), body, "whsec_new")


def test_backoff_doubles_with_jitter_up_to_an_hour() -> None:
    rng = random.Random(1)
    delays = [backoff(n, rng) for n in range(1, 16)]
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 20 <= delays[2] <= 40
    assert all(MAX_BACKOFF_SECONDS / 2 <= d <= MAX_BACKOFF_SECONDS for d in delays[10:])
    # at least 24 hours of retries before giving up: the attempts a day allows
    assert sum(delays) < 24 * 3600 < sum(backoff(n, rng) for n in range(1, 60))


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _serve(handler: type[BaseHTTPRequestHandler]) -> _Server:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_sender_does_not_follow_redirects_to_private_addresses() -> None:
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = _serve(Redirect)
    try:
        got = WebhookSender(allow_private=True).deliver(f"http://127.0.0.1:{server.server_address[1]}/h", b"{}", {})
    finally:
        server.shutdown()
    assert got.status == 307 and not got.delivered and "redirect" in (got.error or "")


def test_sender_bounds_an_attempt_against_a_receiver_that_trickles() -> None:
    class Trickle(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(40):
                try:
                    self.wfile.write(b"X-Slow: 1\r\n")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.5)

        def log_message(self, *args: object) -> None:
            return

    server = _serve(Trickle)
    started = time.monotonic()
    try:
        got = WebhookSender(allow_private=True, attempt_seconds=2).deliver(
            f"http://127.0.0.1:{server.server_address[1]}/h", b"{}", {}
        )
    finally:
        server.shutdown()
    assert not got.delivered and got.error == "no answer within the time limit"
    assert time.monotonic() - started < 15  # bounded by the attempt limit, not by the receiver


def test_sender_refuses_at_delivery_what_would_be_refused_at_creation() -> None:
    got = WebhookSender().deliver("https://127.0.0.1/x", b"{}", {})
    assert got.status is None and "loopback" in (got.error or "")


def test_sender_reports_a_refused_connection() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = WebhookSender(allow_private=True).deliver(f"http://127.0.0.1:{port}/x", b"{}", {})
    assert got.status is None and "connection failed" in (got.error or "")


@pytest.mark.parametrize("url", ["http://93.184.215.14/hook", "https://93.184.215.14:8443/hook", "http://10.0.0.1/hook"])
def test_private_callbacks_allow_plain_http_and_other_ports_to_this_machine_only(url: str) -> None:
    with pytest.raises(UnsafeCallback, match=r"this machine|private"):
        check_callback(url, allow_private=True)
    assert check_callback("https://127.0.0.1:8443/x", allow_private=True).port == 8443


def _job_with_callback(monkeypatch: pytest.MonkeyPatch, resolves_to: list[object]) -> tuple[dict, deps.WebhookDeps]:
    """A job whose callback's name resolves to ``resolves_to[0]`` (an address, or an error raised)."""

    def getaddrinfo(*args: object, **kwargs: object) -> list[tuple]:
        if isinstance(resolves_to[0], Exception):
            raise resolves_to[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (resolves_to[0], 443))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    body = {"images": [IMAGE], "operations": THUMB, "callback_url": "https://hooks.example.com/retouch"}
    status, job = call_api("POST", "/jobs", body=body)
    assert status == 201, job
    d = deps.webhook_deps()
    monkeypatch.setattr(d.jobs, "event", lambda job_id, seq: {"type": "job", "job_id": job_id, "seq": seq})
    return job, d


def test_a_callback_that_resolves_to_a_private_address_at_delivery_is_not_retried(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS that points a public name at an internal address by the time of delivery: the attempt
    is refused, logged, and not retried for 24 hours (it is not the receiver being down)."""
    resolves_to: list[object] = ["93.184.215.14"]
    job, d = _job_with_callback(monkeypatch, resolves_to)
    resolves_to[0] = "10.0.0.5"  # rebound
    assert deliver(Delivery(job["job_id"], 1, 1, time.time()).to_json(), d) is False
    attrs = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url("WebhookQueue"), AttributeNames=["All"])["Attributes"]
    assert int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesDelayed"]) == 0  # no retry
    path, route = f"/jobs/{job['job_id']}/deliveries", "/jobs/{job_id}/deliveries"
    _, log = call_api("GET", path, route=route, params={"job_id": job["job_id"]})
    [attempt] = log["deliveries"]
    assert not attempt["delivered"] and "private network address" in attempt["error"]


def test_a_name_that_does_not_resolve_at_delivery_is_retried(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    resolves_to: list[object] = ["93.184.215.14"]
    job, d = _job_with_callback(monkeypatch, resolves_to)
    resolves_to[0] = socket.gaierror("Name or service not known")
    assert deliver(Delivery(job["job_id"], 1, 1, time.time()).to_json(), d) is False
    attrs = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url("WebhookQueue"), AttributeNames=["All"])["Attributes"]
    assert int(attrs["ApproximateNumberOfMessagesDelayed"]) == 1  # the retry, after its backoff


def test_a_second_rotation_keeps_the_first_rotations_promise(aws: Aws) -> None:
    """Each rotated secret signs for 24 hours from its own rotation, whatever rotations follow."""
    secrets = deps.api_deps().secrets
    first = secrets.current("alice")
    t0 = 1_000_000.0
    second, first_until = secrets.rotate("alice", now=t0)
    third, second_until = secrets.rotate("alice", now=t0 + 3600)
    assert first_until == t0 + 86400 and second_until == t0 + 3600 + 86400
    assert secrets.signing("alice", now=t0 + 7200) == [third, first, second]
    assert secrets.signing("alice", now=t0 + 86400 + 1) == [third, second]  # the first's 24 hours are over
    assert secrets.signing("alice", now=t0 + 3600 + 86400 + 1) == [third]
