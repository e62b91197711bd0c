"""The embedded stack's supervisor adds pollers to an SQS event source as Lambda's scaling does,
and asks the emulator for a queue's depth only when it may need one: when the function has no
poller, or when its pollers received a whole batch since the last look (issue 28)."""

from __future__ import annotations

import inspect
import multiprocessing
from typing import Any

from retouch.local import lambda_runtime as rt
from retouch.local.sources import EventSources, Wiring
from retouch.local.template import SqsSource


class FakeProcess:
    def __init__(self, target: Any, args: tuple[Any, ...], name: str, daemon: bool) -> None:
        self.args = args
        self.alive = False

    def start(self) -> None:
        self.alive = True

    def is_alive(self) -> bool:
        return self.alive

    def join(self, timeout: float | None = None) -> None:
        pass


class FakeContext:
    """A multiprocessing context whose processes are not started; shared values are real."""

    Process = FakeProcess

    @staticmethod
    def RawValue(kind: str, value: int) -> Any:
        return multiprocessing.get_context("fork").RawValue(kind, value)


class FakeSqs:
    def __init__(self, depth: int) -> None:
        self.depth, self.asked = depth, 0

    def get_queue_attributes(self, **kwargs: Any) -> dict[str, Any]:
        self.asked += 1
        return {"Attributes": {"ApproximateNumberOfMessages": str(self.depth)}}


class FakeRuntime:
    def __init__(self) -> None:
        self.environment: dict[str, str] = {}


def sources(max_workers: int = 2) -> EventSources:
    wiring = Wiring(
        runtime=lambda name: FakeRuntime(),  # type: ignore[arg-type,return-value]
        queue_url=lambda queue: f"url/{queue}",
        queue_arn=lambda queue: f"arn/{queue}",
        sqs=lambda: None,
        max_workers=max_workers,
    )
    return EventSources(model=None, wiring=wiring, mp_context=FakeContext())  # type: ignore[arg-type]


SOURCE = SqsSource(queue="Q", batch_size=4, window_seconds=1, max_concurrency=10, report_failures=True)


def test_the_first_poller_starts_and_more_follow_a_whole_batch_only() -> None:
    es, sqs = sources(), FakeSqs(depth=100)
    es.scale("F", SOURCE, sqs)
    assert len(es.workers["F"]) == 2 and sqs.asked == 1  # no poller yet: the depth says two

    es, sqs = sources(), FakeSqs(depth=0)
    es.scale("F", SOURCE, sqs)
    assert len(es.workers["F"]) == 1 and sqs.asked == 1
    for _ in range(5):  # its poller keeps up: no more questions to the emulator
        es.scale("F", SOURCE, sqs)
    assert len(es.workers["F"]) == 1 and sqs.asked == 1
    backlog = es.workers["F"][0].args[3]  # type: ignore[attr-defined]
    backlog.value = 1  # (what sqs_worker does when a receive filled a batch)
    es.scale("F", SOURCE, sqs)
    assert sqs.asked == 2 and len(es.workers["F"]) == 1 and backlog.value == 0  # the queue was empty by then
    sqs.depth, backlog.value = 9, 1
    es.scale("F", SOURCE, sqs)
    assert sqs.asked == 3 and len(es.workers["F"]) == 2
    backlog.value = 1
    es.scale("F", SOURCE, sqs)  # at its limit: nothing to ask
    assert sqs.asked == 3


def test_the_worker_is_given_the_flag_it_sets_on_a_whole_batch() -> None:
    """(``sqs_worker`` runs a function's handler in its own process; its one line is read here.)"""
    source = inspect.getsource(rt.sqs_worker)
    assert "if backlog is not None and len(batch) >= poller.batch_size:\n            backlog.value = 1" in source
    assert list(inspect.signature(rt.sqs_worker).parameters) == ["runtime", "poller", "keep_alive", "backlog"]
