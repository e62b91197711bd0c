"""Push on the embedded stack: the WebSocket (in seq order, resumable) and webhooks (signed,
retried, on their own path), as a client and a receiver on loopback see them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from retouch.adapters.webhooks import verify
from retouch.cli.client import RetouchClient
from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from tests.helpers import run_cli, wait_until

OPS = [{"op": "thumbnail", "params": {"width": 48}}]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    with EmbeddedStack(workdir=tmp_path_factory.mktemp("push"), allow_private_callbacks=True) as s:
        yield s


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_samples(tmp_path_factory.mktemp("photos"), 20)


def submit(client: RetouchClient, photos: list[Path], **fields: object) -> dict:
    images = [{"name": p.name, "content_type": "image/jpeg", "size": p.stat().st_size} for p in photos]
    job = client.create_job(images, OPS, {"format": "jpeg"}, **fields)
    for upload, path in zip(job["uploads"], photos, strict=True):
        client.upload(upload, path, "image/jpeg")
    return job


def test_websocket_delivers_every_event_in_order_and_resumes_after_a_drop(stack: EmbeddedStack, photos: list[Path]) -> None:
    client = RetouchClient(stack.api_url, stack.token)
    images = [{"name": p.name, "content_type": "image/jpeg", "size": p.stat().st_size} for p in photos]
    job = client.create_job(images, OPS, {"format": "jpeg"})
    assert job["websocket_url"] == stack.websocket_url and job["websocket_url"].startswith("ws://127.0.0.1:")
    url = f"{job['websocket_url']}?token={stack.token}"
    first: list[dict] = []
    with connect(url, open_timeout=60) as ws:
        ws.send(json.dumps({"action": "subscribe", "job_id": job["job_id"], "after": 0}))
        for upload, path in zip(job["uploads"], photos, strict=True):
            client.upload(upload, path, "image/jpeg")
        while len(first) < 5:
            first.append(json.loads(ws.recv(timeout=300)))
    # dropped midway; reconnect and ask for what came after the last one seen
    assert [e["seq"] for e in first] == [1, 2, 3, 4, 5]
    rest: list[dict] = []
    with connect(url, open_timeout=60) as ws:
        ws.send(json.dumps({"action": "subscribe", "job_id": job["job_id"], "after": 5}))
        while not rest or rest[-1]["type"] != "job":
            rest.append(json.loads(ws.recv(timeout=300)))
    events = first + rest
    assert [e["seq"] for e in events] == list(range(1, 22))  # exactly the missing ones, in order
    assert [e["type"] for e in events] == ["image"] * 20 + ["job"]
    assert sorted(e["name"] for e in events[:20]) == sorted(p.name for p in photos)
    assert all(e["status"] == "succeeded" and e["width"] == 48 and e["job_id"] == job["job_id"] for e in events[:20])
    assert events[-1]["status"] == "complete" and (events[-1]["succeeded"], events[-1]["failed"]) == (20, 0)
    unlinked = lambda found: [{k: v for k, v in e.items() if not k.startswith("download_url")} for e in found]  # noqa: E731
    assert unlinked(client.events(job["job_id"])) == unlinked(events)  # the same events, from the store (fresh links)
    assert all(e["download_url"] and e["output_name"] == e["name"].rsplit(".", 1)[0] + ".jpg" for e in events[:20])


def test_an_image_events_link_downloads_the_output_under_its_announced_name(stack: EmbeddedStack, photos: list[Path]) -> None:
    client = RetouchClient(stack.api_url, stack.token)
    job = submit(client, photos[:1])
    url = f"{job['websocket_url']}?token={stack.token}"
    with connect(url, open_timeout=60) as ws:
        ws.send(json.dumps({"action": "subscribe", "job_id": job["job_id"], "after": 0}))
        event = json.loads(ws.recv(timeout=300))
    assert event["type"] == "image" and event["status"] == "succeeded", event
    assert event["output_name"] == photos[0].stem + ".jpg" and event["download_url_expires_in"] == 900
    got = requests.get(event["download_url"], timeout=60)
    assert got.status_code == 200 and got.content[:3] == b"\xff\xd8\xff"
    assert f'filename="{event["output_name"]}"' in got.headers["Content-Disposition"]
    [image] = client.job(job["job_id"])["images"]
    assert image["output_name"] == event["output_name"]


def test_websocket_refuses_a_wrong_token_and_hides_other_users_jobs(stack: EmbeddedStack, photos: list[Path]) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{stack.websocket_url}?token=not-a-token", open_timeout=60)
    assert refused.value.response.status_code == 401
    client = RetouchClient(stack.api_url, stack.token)
    job = client.create_job([{"name": "a.jpg", "content_type": "image/jpeg", "size": 10}], OPS, {"format": "jpeg"})
    other = "local-" + "x" * 20
    stack.tokens[other] = "somebody-else"
    answers = []
    for token, job_id in ((other, job["job_id"]), (stack.token, "j-" + "0" * 32)):
        with connect(f"{stack.websocket_url}?token={token}", open_timeout=60) as ws:
            ws.send(json.dumps({"action": "subscribe", "job_id": job_id, "after": 0}))
            answers.append(json.loads(ws.recv(timeout=120)))
    assert [a["type"] for a in answers] == ["error", "error"]
    assert answers[0]["message"] == f"job {job['job_id']} not found"  # like a missing one
    assert answers[1]["message"] == f"job {'j-' + '0' * 32} not found"


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on loopback: refuses each event's first attempt, then accepts."""

    daemon_threads = True

    def __init__(self, *, fail_first: bool = False, trickle: bool = False) -> None:
        self.received: list[tuple[dict, str, str, bytes]] = []
        self.attempts: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                delivery = self.headers["Retouch-Delivery"]
                receiver.attempts[delivery] = receiver.attempts.get(delivery, 0) + 1
                if trickle:  # one byte every 3 seconds, forever
                    for byte in b"HTTP/1.1 200 OK\r\n" * 10:
                        try:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(3)
                    return
                if fail_first and receiver.attempts[delivery] == 1:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                receiver.received.append((json.loads(body), self.headers["Retouch-Signature"], delivery, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


def test_webhooks_are_signed_retried_and_logged(stack: EmbeddedStack, photos: list[Path]) -> None:
    client = RetouchClient(stack.api_url, stack.token)
    secret = client.webhook_secret()["secret"]
    receiver = Receiver(fail_first=True)
    try:
        job = submit(client, photos, callback_url=receiver.url, callback_events=["image", "job"])
        wait_until(
            lambda: len({d for _, _, d, _ in receiver.received}) >= 21, 600, "21 deliveries", lambda: len(receiver.received)
        )
        only_jobs = Receiver()
        try:
            second = submit(client, photos[:3], callback_url=only_jobs.url)  # the default: the job event only
            wait_until(lambda: client.job(second["job_id"])["status"] == "complete", 600, "the second job")
            wait_until(lambda: only_jobs.received, 300, "the second job's webhook")
            assert [(p["type"], p["seq"]) for p, _, _, _ in only_jobs.received] == [("job", 4)]
        finally:
            only_jobs.shutdown()
    finally:
        receiver.shutdown()
    deliveries = {d: (payload, signature, body) for payload, signature, d, body in receiver.received}
    assert sorted(deliveries) == sorted(f"{job['job_id']}.{n}" for n in range(1, 22))
    assert sorted(p["type"] for p, _, _ in deliveries.values()) == ["image"] * 20 + ["job"]
    for payload, signature, body in deliveries.values():
        assert verify(signature, body, secret), payload
    assert all(count == 2 for count in receiver.attempts.values())  # refused once, accepted on the retry
    log = client.deliveries(job["job_id"])
    assert sorted((d["seq"], d["attempt"], d["status"], d["delivered"]) for d in log) == sorted(
        [(n, 1, 503, False) for n in range(1, 22)] + [(n, 2, 200, True) for n in range(1, 22)]
    )


def test_a_receiver_that_trickles_does_not_hold_up_anyone_s_results(stack: EmbeddedStack, photos: list[Path]) -> None:
    client = RetouchClient(stack.api_url, stack.token)
    slow = Receiver(trickle=True)
    try:
        stalled = submit(client, photos[:10], callback_url=slow.url, callback_events=["image", "job"])
        other = submit(client, photos[10:])
        # both jobs' results are recorded while the slow receiver holds its deliveries open
        wait_until(lambda: client.job(other["job_id"])["status"] == "complete", 600, "the other job")
        wait_until(lambda: client.job(stalled["job_id"])["status"] == "complete", 600, "the stalled job's results")
        wait_until(lambda: len(client.deliveries(stalled["job_id"])) >= 1, 300, "a delivery attempt")
        log = client.deliveries(stalled["job_id"])
        assert all(not d["delivered"] and d["error"] == "no answer within the time limit" for d in log), log
    finally:
        slow.shutdown()


def test_retouch_run_follows_the_websocket(stack: EmbeddedStack, photos: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli(
        "run", *map(str, photos[:6]), "--op", "thumbnail:width=40", "--out", str(out), "--api", stack.api_url,
        "--token", stack.token,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "live updates unavailable" not in done.stderr
    manifest = json.loads((out / "job.json").read_text())
    assert (manifest["state"], manifest["succeeded"]) == ("complete", 6)
    # the run subscribed to its job over the WebSocket (the function logs each subscription)
    log = (stack.logs / "WebSocketFunction.log").read_text()
    assert any('"subscribed"' in line and manifest["jobs"][0] in line for line in log.splitlines())
