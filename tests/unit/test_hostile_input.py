"""Hostile uploads: each fails (or passes) on its own, with a readable reason, fast and small."""

from __future__ import annotations

import multiprocessing
import resource
import time

import pytest

from retouch import pipeline
from retouch.errors import PermanentError
from retouch.models import OperationSpec, OutputSpec
from retouch_testkit.hostile import corpus

OPS = (OperationSpec("contrast", {"method": "auto", "low": 0.5, "high": 99.5}), OperationSpec("thumbnail", {"width": 256}))
LIMIT_SECONDS = 5
LIMIT_BYTES = 1 << 30


def _render(data: bytes, queue: multiprocessing.Queue) -> None:  # in a child process
    started = time.monotonic()
    try:
        out = pipeline.render(data, OPS, OutputSpec(), max_pixels=50_000_000, max_bytes=50 << 20)
        outcome = ("ok", f"{out.width}x{out.height}")
    except PermanentError as exc:
        outcome = ("fail", f"{type(exc).__name__}: {exc.message}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put((*outcome, time.monotonic() - started, peak))


@pytest.mark.parametrize(("name", "data", "expected"), corpus(), ids=[c[0] for c in corpus()])
def test_hostile_upload_fails_alone_with_a_reason_within_budget(name: str, data: bytes, expected: str) -> None:
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = ctx.Queue()
    proc = ctx.Process(target=_render, args=(data, queue))
    proc.start()
    proc.join(LIMIT_SECONDS * 4)
    assert proc.exitcode == 0, f"{name}: the worker died (exit code {proc.exitcode})"
    outcome, detail, seconds, peak = queue.get(timeout=1)
    assert seconds < LIMIT_SECONDS, f"{name}: took {seconds:.1f} s"
    assert peak < LIMIT_BYTES, f"{name}: peak memory {peak / 1e6:.0f} MB"
    if expected == "fail":
        assert outcome == "fail", f"{name}: expected a failure, got {detail}"
        message = detail.split(": ", 1)[1]
        assert len(message) > 20 and "Traceback" not in message, message
    if name in ("bomb.png", "bomb.gif", "bomb.jpg", "bomb.bmp", "bomb.tif"):
        assert detail.startswith("ImageTooLarge") and "limit" in detail, detail  # refused from the header
