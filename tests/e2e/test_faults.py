"""The promise under faults, proved at every window rather than hoped for under random kills.

Each case arms one fault point (or, for the notify path, a pair) for its own job: the first
function process to reach that point dies on the spot (``os._exit``, like ``kill -9``), right
after a side effect and before the next. All cases run at once on one embedded stack whose
lease is short, so a crashed worker's messages return within seconds. The end state must be
exact: every image terminal, counts exact, one output per success, exactly one job event per job
(seq 2, after its image's), delivered as a webhook under one delivery id, nothing left in any
queue or dead-letter queue, and every armed point fired.

Then: SIGKILL of ``retouch local`` leaves none of its processes alive.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from retouch import faults
from retouch.cli.client import RetouchClient
from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from retouch.logic import crashes
from tests.helpers import wait_until

NOTIFY_PATH = ("record.after_count", "record.after_publish", "notify.before_delete")
REJECTION_PATH = ("record.after_count", "record.after_publish", "enqueue.before_delete")
# one-image jobs, so every crash hits the job's last result (the window that can lose completion):
# a photo goes enqueue -> process -> notify; a text file is failed by enqueue itself
CASES: list[tuple[str, tuple[str, ...]]] = (
    [("photo", (p,)) for p in faults.POINTS]
    + [("photo", pair) for pair in itertools.combinations(NOTIFY_PATH, 2)]
    + [("text", (p,)) for p in REJECTION_PATH]
    + [("text", pair) for pair in itertools.combinations(REJECTION_PATH, 2)]
)
OPS = [{"op": "thumbnail", "params": {"width": 96}}]


class Receiver(ThreadingHTTPServer):
    """Webhooks: the distinct deliveries (``Retouch-Delivery``) of job events, per job. A delivery
    may arrive more than once (at least once); receivers de-duplicate by its id, as this one does."""

    def __init__(self) -> None:
        self.deliveries: dict[str, set[str]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if body["type"] == "job":
                    receiver.deliveries.setdefault(body["job_id"], set()).add(self.headers["Retouch-Delivery"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/done"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.shutdown()


def test_every_fault_point_and_notify_pair_ends_in_the_exact_state(tmp_path: Path, receiver: Receiver) -> None:
    fault_dir = tmp_path / "faults"
    fault_dir.mkdir()
    text = tmp_path / "notes.jpg"
    text.write_text("this is a shopping list, not a photo\n")
    files = {"photo": write_samples(tmp_path / "photos", 1)[0], "text": text}
    # The queues' own visibility timeouts stay long: only the lease brings messages back. A crash
    # also costs a receive to every message in the same batch, so under this many crashes a
    # message could reach the DLQ without ever failing itself; a receive count above the number of
    # armed points rules that out (and the empty DLQs below show it).
    armed_points = sum(len(points) for _, points in CASES)
    overrides = {"VisibilityLeaseSeconds": "3", "MaxReceiveCount": str(armed_points + 2)}
    with EmbeddedStack(
        workdir=tmp_path / "stack",
        overrides=overrides,
        environment={faults.FAULT_DIR_ENV: str(fault_dir)},
        allow_private_callbacks=True,
    ) as stack:
        # redeliveries alone must settle everything (the sweeper's share is a unit test)
        stack.pause("DeadLetterSweeperFunction:schedule")
        client = RetouchClient(stack.api_url, stack.token)
        jobs: dict[str, tuple[str, tuple[str, ...]]] = {}
        for case in CASES:
            path = files[case[0]]
            job = client.create_job(
                [{"name": path.name, "content_type": "image/jpeg", "size": path.stat().st_size}],
                OPS,
                {"format": "jpeg"},
                callback_url=receiver.url,
            )
            for point in case[1]:
                faults.arm(fault_dir, point, job["job_id"])
            jobs[job["job_id"]] = case
            client.upload(job["uploads"][0], path, "image/jpeg")

        def running() -> list[tuple[str, tuple[str, ...]]]:
            return [case for job_id, case in jobs.items() if client.job(job_id)["status"] != "complete"]

        wait_until(lambda: not running(), 600, "every job to complete", running)
        wait_until(
            lambda: all(receiver.deliveries.get(j) for j in jobs),
            300,
            "every job's completion webhook",
            lambda: [c for j, c in jobs.items() if not receiver.deliveries.get(j)],
        )
        wait_until(
            lambda: not any(sum(d) for d in stack.queue_depths().values()),
            300,
            "every queue to drain (redeliveries included)",
            stack.queue_depths,
        )
        assert faults.armed(fault_dir) == [], "some fault points were never reached"

        s3 = stack.client("s3")
        bucket = stack.model.buckets["ImagesBucket"]["BucketName"]
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="outputs/")
        outputs = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        expected_outputs = []
        for job_id, case in jobs.items():
            status = client.job(job_id)
            summary = (status["status"], status["total"], status["succeeded"], status["failed"], status["remaining"])
            image = status["images"][0]
            if case[0] == "photo":
                assert summary == ("complete", 1, 1, 0, 0) and image["status"] == "succeeded", (case, status)
                expected_outputs.append(f"/{job_id}/{image['image_id']}.jpg")
            else:
                assert summary == ("complete", 1, 0, 1, 0), (case, status)
                assert image["status"] == "failed" and "looks like text" in image["error"], case
            assert receiver.deliveries[job_id] == {f"{job_id}.2"}, f"{case}: {receiver.deliveries[job_id]}"
            assert [e["type"] for e in client.events(job_id)] == ["image", "job"], case
        # one output per success, nothing else (keys: outputs/<owner>/<job>/<image>.<ext>)
        assert sorted("/" + k.split("/", 2)[2] for k in outputs) == sorted(expected_outputs)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_sigkill_of_retouch_local_leaves_no_process_behind(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "retouch.cli.main", "local", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "try: retouch run" in line:
                break
        assert any("API URL" in line for line in lines), "".join(lines)
        # the API pool starts its workers on first use; make sure they exist
        url = next(line.split()[-1] for line in lines if "API URL" in line)
        token = next(line.split()[-1] for line in lines if "bearer token" in line)
        RetouchClient(url, token).operations()
        wait_until(lambda: len(descendants(proc.pid)) >= 5, 120, "the stack's processes", lambda: descendants(proc.pid))
        family = descendants(proc.pid)
        emulators = {p for p in family if b"retouch.local.moto_main" in Path(f"/proc/{p}/cmdline").read_bytes()}
        assert len(emulators) == 2, "the S3+SQS and the DynamoDB emulators"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the emulators are killed by the kernel with their parent (they kept serving, CPU-bound, for
    # a minute or more when they were only sent SIGTERM)
    wait_until(lambda: not any(alive(p) for p in emulators), 5, "the emulators to exit", lambda: emulators)
    wait_until(
        lambda: not any(alive(p) for p in family),
        60,
        "every process of the stack to exit",
        lambda: [(p, Path(f"/proc/{p}/cmdline").read_bytes()[:120]) for p in family if alive(p)],
    )


def test_a_killed_scheduled_worker_is_restarted_by_the_supervisor(tmp_path: Path) -> None:
    name = "DeadLetterSweeperFunction:schedule"
    with EmbeddedStack(workdir=tmp_path) as stack:
        killed = stack.kill_worker(name)
        assert killed is not None

        def restarted() -> bool:
            return any(p.is_alive() and p.pid != killed for p in stack.workers.get(name, []))

        wait_until(restarted, 180, "a new sweeper process", lambda: stack.workers.get(name))


def test_an_image_that_always_crashes_its_worker_fails_alone(tmp_path: Path) -> None:
    """The last image of a 40-image job crashes the process function whenever it is rendered
    (like an out-of-memory kill): it fails with a reason, its neighbours - batched with it again
    and again at the end of the queue - all succeed, and no message is dead-lettered."""
    fault_dir = tmp_path / "faults"
    photos = write_samples(tmp_path / "photos", 40)
    overrides = {"VisibilityLeaseSeconds": "3"}  # (MaxReceiveCount stays the template's 5)
    with EmbeddedStack(
        workdir=tmp_path / "stack", overrides=overrides, environment={faults.FAULT_DIR_ENV: str(fault_dir)}
    ) as stack:
        stack.pause("DeadLetterSweeperFunction:schedule")  # the isolation alone must settle it
        client = RetouchClient(stack.api_url, stack.token)
        images = [{"name": p.name, "content_type": "image/jpeg", "size": p.stat().st_size} for p in photos]
        job = client.create_job(images, OPS, {"format": "jpeg"})
        job_id = job["job_id"]
        crasher = job["uploads"][-1]["image_id"]
        faults.arm(fault_dir, "process.before_render", f"{job_id}.{crasher}", always=True)
        for upload, path in zip(job["uploads"], photos, strict=True):
            client.upload(upload, path, "image/jpeg")
        wait_until(lambda: client.job(job_id)["status"] == "complete", 600, "the job to complete", lambda: client.job(job_id))
        status = client.job(job_id)
        failed = [i for i in status["images"] if i["status"] != "succeeded"]
        assert (status["succeeded"], status["failed"]) == (39, 1), failed
        assert [(i["image_id"], i["error"]) for i in failed] == [(crasher, crashes.CRASHED)]
        wait_until(
            lambda: not any(sum(d) for d in stack.queue_depths().values()), 300, "every queue to drain", stack.queue_depths
        )
        crashed = (stack.logs / "ProcessFunction.log").read_text().count(f"fault injected: process.before_render@{job_id}")
        assert crashed == crashes.CRASHES_ALLOWED + 1, crashed  # the first crash, then the marked ones
