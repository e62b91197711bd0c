"""How long after an output is written does a client hear of it? WebSocket and webhooks.

One job of N photos (thumbnails) on the embedded stack, with a WebSocket subscriber and a
webhook receiver (``callback_events: ["image", "job"]``) on loopback. The moment each output is
written is taken from the object store itself: a watcher lists ``outputs/`` every 20 ms and notes
when each key first appears (so the figures include up to 20 ms of that sampling). For every
image: (WebSocket event received) - (output first seen), and the same for its webhook.

    .venv/bin/python -m bench.push_latency --images 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from retouch.cli.client import RetouchClient
from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--width", type=int, default=256)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="push-latency-"))
    photos = write_samples(work / "photos", args.images)
    heard_ws: dict[str, float] = {}
    heard_hook: dict[str, float] = {}
    written: dict[str, float] = {}

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, format: str, *a: Any) -> None:
            return

        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if event["type"] == "image":
                heard_hook.setdefault(event["image_id"], time.time())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()

    with EmbeddedStack(workdir=work / "stack", allow_private_callbacks=True) as stack:
        client = RetouchClient(stack.api_url, stack.token)
        images = [{"name": p.name, "content_type": "image/jpeg", "size": p.stat().st_size} for p in photos]
        job = client.create_job(
            images,
            [{"op": "thumbnail", "params": {"width": args.width}}],
            {"format": "jpeg"},
            callback_url=f"http://127.0.0.1:{receiver.server_address[1]}/hook",
            callback_events=["image", "job"],
        )
        ids = {u["image_id"] for u in job["uploads"]}
        s3 = stack.client("s3")
        bucket = stack.model.buckets["ImagesBucket"]["BucketName"]  # type: ignore[union-attr]
        stop = threading.Event()

        def watch_outputs() -> None:
            while not stop.is_set():
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="outputs/"):
                    now = time.time()
                    for obj in page.get("Contents", []):
                        image_id = obj["Key"].rsplit("/", 1)[-1].split(".", 1)[0].split("-", 1)[0]
                        written.setdefault(image_id, now)
                time.sleep(0.02)

        def follow() -> None:
            for event in client.follow(job["websocket_url"], job["job_id"], timeout=None, stop=stop):
                if event["type"] == "image":
                    heard_ws.setdefault(event["image_id"], time.time())

        threads = [threading.Thread(target=watch_outputs, daemon=True), threading.Thread(target=follow, daemon=True)]
        for t in threads:
            t.start()
        started = time.time()
        for upload, path in zip(job["uploads"], photos, strict=True):
            client.upload(upload, path, "image/jpeg")
        deadline = time.time() + 1800
        while time.time() < deadline and not (ids <= set(heard_ws) and ids <= set(heard_hook)):
            time.sleep(0.2)
        stop.set()
        elapsed = time.time() - started
    receiver.shutdown()

    print(f"{args.images} images, thumbnail {args.width} px, embedded stack; job done in {elapsed:.1f} s")
    print("| path | images heard | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, heard in (("WebSocket", heard_ws), ("webhook", heard_hook)):
        delays = [(heard[i] - written[i]) * 1000 for i in ids if i in heard and i in written]
        if not delays:
            print(f"| {name} | 0 | - | - | - |")
            continue
        print(
            f"| {name} | {len(delays)} | {statistics.median(delays):.0f} | {percentile(delays, 0.95):.0f} | {max(delays):.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
