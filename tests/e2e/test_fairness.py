"""Fairness between users on the embedded stack: one user's large backlog does not hold back
another user's small job submitted after it.

Each request message carries its owner's tenant group (``MessageGroupId`` on the standard
request queue: an SQS fair queue); the embedded stack's moto serves groups as AWS's fair queues
do. Processing is held while both jobs are queued, so the order is decided by the queue alone,
not by how fast this machine happens to upload or process.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from retouch.cli.client import RetouchClient
from retouch.cli.files import content_type
from retouch.cli.samples import write_samples
from retouch.local.moto_main import fair_order
from retouch.local.stack import EmbeddedStack
from tests.helpers import wait_until

BIG, SMALL = 40, 4
OPS = [{"op": "thumbnail", "params": {"width": 256}}]


def submit(client: RetouchClient, paths: list[Path]) -> str:
    job = client.create_job(
        [{"name": p.name, "content_type": content_type(p), "size": p.stat().st_size} for p in paths], OPS, {"format": "jpeg"}
    )
    for upload, path in zip(job["uploads"], paths, strict=True):
        client.upload(upload, path, content_type(path))
    return str(job["job_id"])


def test_a_small_job_submitted_after_a_large_one_finishes_long_before_it(tmp_path: Path) -> None:
    photos = write_samples(tmp_path / "photos", BIG + SMALL)
    tokens = {"token-big": "user-with-a-backlog", "token-small": "user-with-ten"}
    with EmbeddedStack(workdir=tmp_path / "stack", paused={"ProcessFunction"}, tokens=tokens) as stack:
        big, small = RetouchClient(stack.api_url, "token-big"), RetouchClient(stack.api_url, "token-small")
        waiting = lambda: stack.queue_depths()["RequestQueue"][0]  # noqa: E731
        big_job = submit(big, photos[:BIG])
        wait_until(lambda: waiting() == BIG, 120, f"{BIG} requests of the large job queued", waiting)
        small_job = submit(small, photos[BIG:])
        wait_until(lambda: waiting() == BIG + SMALL, 120, "the small job's requests queued behind them", waiting)

        stack.resume("ProcessFunction")
        wait_until(lambda: big.job(big_job)["status"] == "complete", 600, "the large job to complete", lambda: big.job(big_job))
        wait_until(lambda: small.job(small_job)["status"] == "complete", 300, "the small job to complete")

        [small_done] = [e for e in small.events(small_job) if e["type"] == "job"]
        [big_done] = [e for e in big.events(big_job) if e["type"] == "job"]
        assert small_done["succeeded"] == SMALL and big_done["succeeded"] == BIG
        # The order the images were rendered in, which the queue decides (notify records results
        # in batches gathered over its batching window, so the events' times are coarser).
        order = rendered_jobs(stack)
        last_small = max(n for n, job in enumerate(order) if job == small_job)
        big_before = order[:last_small].count(big_job)
        # served in the first receives, beside the batches already in flight: strictly FIFO, all
        # 40 of the large job's images would have been rendered first
        assert big_before <= BIG // 2, f"{big_before} of the large job's images were rendered before the small job's last"


def rendered_jobs(stack: EmbeddedStack) -> list[str]:
    """The job of every image rendered, in the order the renders finished (their log lines' times)."""
    done = []
    for line in (stack.logs / "ProcessFunction.log").read_text().splitlines():
        if '"image processed"' in line:
            entry = json.loads(line[line.index("{") :])
            done.append((datetime.strptime(entry["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z"), entry["job_id"]))
    return [job for _, job in sorted(done)]


class _Message:
    def __init__(self, group: str | None, n: int) -> None:
        self.group_id, self.n = group, n


@pytest.mark.parametrize(("in_flight", "first"), [({}, ["a0", "b0", "a1", "b1"]), ({"a": 3}, ["b0", "b1", "b2", "a0"])])
def test_fair_order_serves_the_group_with_least_in_flight_first(in_flight: dict[str, int], first: list[str]) -> None:
    visible = [_Message("a", n) for n in range(6)] + [_Message("b", n) for n in range(3)]
    order = [f"{m.group_id}{m.n}" for m in fair_order(visible, Counter(in_flight))]  # type: ignore[arg-type]
    assert order[:4] == first
    assert [o for o in order if o[0] == "a"] == [f"a{n}" for n in range(6)]  # a group's own order is kept
