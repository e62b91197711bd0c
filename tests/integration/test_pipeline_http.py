"""The whole chain over real HTTP against a moto server:
presign -> upload (POST form) -> S3 event -> upload-events queue -> enqueue -> request queue
-> process -> response queue -> notify -> job status -> download."""

from __future__ import annotations

import io
import time

import requests
from PIL import Image

from functions.enqueue import app as enqueue_app
from functions.notify import app as notify_app
from functions.process import app as process_app
from tests.conftest import Aws, photo_bytes
from tests.helpers import call_api, create_job, job_status, post_upload, run_consumer


def test_pipeline_over_http_presign_to_download(aws_server: Aws) -> None:
    photos = [photo_bytes(n) for n in ("astronaut", "coffee", "chelsea")]
    images = [{"name": f"{n}.jpg", "content_type": "image/jpeg", "size": len(d)} for n, d in enumerate(photos)]
    notes = b"just some text, no image"
    images.append({"name": "notes.jpg", "content_type": "image/jpeg", "size": len(notes)})
    ops = [
        {"op": "contrast", "params": {"method": "clahe"}},
        {"op": "thumbnail", "params": {"width": 200, "height": 200, "fit": "cover"}},
    ]
    job = create_job(images, ops, output={"format": "webp", "quality": 80})
    assert job["uploads"][0]["url"].startswith(aws_server.endpoint)

    for upload, data in zip(job["uploads"], [*photos, notes], strict=True):
        assert post_upload(upload, data).status_code in (200, 201, 204)

    # moto delivers one S3 notification per upload to the queue the template names
    run_consumer(aws_server, "UploadEventsQueue", enqueue_app.lambda_handler, 4)
    run_consumer(aws_server, "RequestQueue", process_app.lambda_handler, 3)
    run_consumer(aws_server, "ResponseQueue", notify_app.lambda_handler, 3)

    status, body = job_status(job["job_id"])
    assert status == 200
    assert (body["status"], body["succeeded"], body["failed"], body["remaining"]) == ("complete", 3, 1, 0)
    failed = body["images"][3]
    assert failed["status"] == "failed" and "not a supported image" in failed["error"]
    for img in body["images"][:3]:
        got = requests.get(img["download_url"], timeout=10)
        assert got.status_code == 200
        out = Image.open(io.BytesIO(got.content))
        assert out.format == "WEBP" and out.size == (200, 200) == (img["width"], img["height"])


def test_pipeline_over_http_duplicate_delivery_counts_once(aws_server: Aws) -> None:
    data = photo_bytes("rocket")
    job = create_job(
        [{"name": "r.jpg", "content_type": "image/jpeg", "size": len(data)}], [{"op": "thumbnail", "params": {"width": 100}}]
    )
    post_upload(job["uploads"][0], data)
    run_consumer(aws_server, "UploadEventsQueue", enqueue_app.lambda_handler, 1)
    [request] = aws_server.drain("RequestQueue", 1)
    from retouch.local.events import sqs_event
    from tests.helpers import context

    event = sqs_event([request], aws_server.queue_arn("RequestQueue"))
    process_app.lambda_handler(event, context())
    process_app.lambda_handler(event, context())  # at-least-once: delivered twice
    run_consumer(aws_server, "ResponseQueue", notify_app.lambda_handler, 2)
    _, body = job_status(job["job_id"])
    assert (body["succeeded"], body["failed"], body["status"]) == (1, 0, "complete")
    listed = aws_server.s3.list_objects_v2(Bucket=aws_server.bucket, Prefix="outputs/")
    assert listed["KeyCount"] == 1


def test_pipeline_over_http_delivers_signed_webhooks_through_their_own_queue(aws_server: Aws, monkeypatch) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from functions.webhooks import app as webhooks_app
    from retouch.adapters.webhooks import verify

    received: list[tuple[dict, str, str, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((json.loads(body), self.headers["Retouch-Signature"], self.headers["Retouch-Delivery"], body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ALLOW_PRIVATE_CALLBACKS", "true")
    from retouch.logic import deps

    deps.reset()
    data = photo_bytes("coffee")
    status, job = call_api(
        "POST",
        "/jobs",
        body={
            "images": [{"name": "c.jpg", "content_type": "image/jpeg", "size": len(data)}],
            "operations": [{"op": "thumbnail", "params": {"width": 64}}],
            "callback_url": f"http://127.0.0.1:{server.server_address[1]}/done",
            "callback_events": ["image", "job"],
        },
    )
    assert status == 201 and job["callback_events"] == ["image", "job"]
    _, secret = call_api("GET", "/webhook-secret")
    post_upload(job["uploads"][0], data)
    run_consumer(aws_server, "UploadEventsQueue", enqueue_app.lambda_handler, 1)
    run_consumer(aws_server, "RequestQueue", process_app.lambda_handler, 1)
    run_consumer(aws_server, "ResponseQueue", notify_app.lambda_handler, 1)
    run_consumer(aws_server, "WebhookQueue", webhooks_app.lambda_handler, 2)
    server.shutdown()
    assert sorted((p["seq"], p["type"], d) for p, _, d, _ in received) == [
        (1, "image", f"{job['job_id']}.1"),
        (2, "job", f"{job['job_id']}.2"),
    ]
    for payload, signature, _, body in received:
        assert payload["job_id"] == job["job_id"]
        assert verify(signature, body, secret["secret"])
        assert not verify(signature, body, "whsec_wrong")
        assert not verify(signature, body, secret["secret"], now=time.time() + 3600)  # a replay, an hour later
    job_event = next(p for p, _, _, _ in received if p["type"] == "job")
    assert (job_event["status"], job_event["succeeded"], job_event["failed"], job_event["total"]) == ("complete", 1, 0, 1)
    _, log = call_api(
        "GET", f"/jobs/{job['job_id']}/deliveries", route="/jobs/{job_id}/deliveries", params={"job_id": job["job_id"]}
    )
    assert sorted((d["seq"], d["attempt"], d["status"], d["delivered"]) for d in log["deliveries"]) == [
        (1, 1, 204, True),
        (2, 1, 204, True),
    ]


def test_api_refuses_plain_http_callbacks_on_aws(aws_server: Aws) -> None:
    status, body = call_api(
        "POST",
        "/jobs",
        body={
            "images": [{"name": "c.jpg", "content_type": "image/jpeg", "size": 10}],
            "operations": [{"op": "thumbnail", "params": {"width": 64}}],
            "callback_url": "http://169.254.169.254/latest/meta-data",
        },
    )
    assert status == 400 and "callback_url must be an https URL" in body["error"]["message"]


def test_api_refuses_callbacks_to_internal_addresses(aws_server: Aws) -> None:
    for url, reason in [
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://example.com:8443/x", "port"),
    ]:
        status, body = call_api(
            "POST",
            "/jobs",
            body={
                "images": [{"name": "c.jpg", "content_type": "image/jpeg", "size": 10}],
                "operations": [{"op": "thumbnail", "params": {"width": 64}}],
                "callback_url": url,
            },
        )
        assert status == 400 and reason in body["error"]["message"], (url, body)
