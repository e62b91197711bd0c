"""The embedded stack's API listens before the template's resources exist (its URL is known
early); a request that arrives in that window waits for them instead of failing."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from retouch.cli.client import RetouchClient
from retouch.local import stack as stack_module
from retouch.local.stack import EmbeddedStack
from tests.helpers import wait_until

IMAGE = {"name": "a.jpg", "content_type": "image/jpeg", "size": 1000}
OPS = [{"op": "thumbnail", "params": {"width": 64}}]


def handling_a_request() -> bool:
    return any("process_request_thread" in t.name for t in threading.enumerate())


def test_a_job_created_while_the_stack_starts_waits_for_its_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = EmbeddedStack(workdir=tmp_path)
    answer: Future[Any] = Future()
    real_create_resources = stack_module.create_resources

    def create_resources_after_a_request_arrived(*args: Any, **kwargs: Any) -> None:
        client = RetouchClient(stack.api_url, stack.token)

        def create() -> None:
            try:
                answer.set_result(client.create_job([IMAGE], OPS, {"format": "jpeg"}))
            except Exception as exc:
                answer.set_exception(exc)

        threading.Thread(target=create, daemon=True).start()
        wait_until(lambda: handling_a_request() or answer.done(), 60, "the API to take the request")
        assert not answer.done(), f"answered before the stack's resources existed: {answer.exception() or answer.result()}"
        real_create_resources(*args, **kwargs)

    monkeypatch.setattr(stack_module, "create_resources", create_resources_after_a_request_arrived)
    with stack:
        job = answer.result(timeout=120)
        assert job["job_id"].startswith("j-") and job["total"] == 1
