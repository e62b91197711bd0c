"""The local Lambda runtime's SQS poller (batching window) and a function process's CPU share."""

from __future__ import annotations

from typing import Any

from retouch.local import lambda_runtime as rt


class FakeSqs:
    """Answers each receive with the next list of messages (then none), recording the calls."""

    def __init__(self, *answers: int) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []
        self.sent = 0

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        n = min(self.answers.pop(0) if self.answers else 0, kwargs["MaxNumberOfMessages"])
        messages = [{"MessageId": str(self.sent + i)} for i in range(n)]
        self.sent += n
        return {"Messages": messages}


def poller(batch_size: int, window: float) -> rt.SqsPoller:
    return rt.SqsPoller(queue_url="q", queue_arn="arn", batch_size=batch_size, window_seconds=window, report_failures=True)


def test_a_full_batch_goes_at_once() -> None:
    sqs = FakeSqs(4)
    assert len(rt.receive_batch(sqs, poller(4, 1))) == 4
    assert len(sqs.calls) == 1


def test_a_partial_batch_waits_out_its_window_and_takes_what_came_meanwhile() -> None:
    sqs = FakeSqs(1, 2)  # one message, then two more arrive within the window
    batch = rt.receive_batch(sqs, poller(10, 1))
    assert len(batch) == 3
    assert [c["WaitTimeSeconds"] for c in sqs.calls] == [rt.IDLE_WAIT_SECONDS, 0]  # (the window's fraction is slept)
    assert sqs.calls[1]["MaxNumberOfMessages"] == 9


def test_without_a_window_a_batch_is_what_the_first_receive_got() -> None:
    sqs = FakeSqs(2, 5)
    assert len(rt.receive_batch(sqs, poller(10, 0))) == 2
    assert len(sqs.calls) == 1


def test_an_empty_queue_gives_an_empty_batch_after_one_long_poll() -> None:
    sqs = FakeSqs()
    assert rt.receive_batch(sqs, poller(4, 1)) == []
    assert [c["WaitTimeSeconds"] for c in sqs.calls] == [rt.IDLE_WAIT_SECONDS]


def test_cpu_share_is_lambdas_vcpus_at_most_the_cores_per_concurrent_process() -> None:
    assert rt.cpu_share(3008, cores=2, concurrent=2) == 1.0  # two workers on two cores: one each
    assert rt.cpu_share(3008, cores=16, concurrent=2) == 3008 / rt.LAMBDA_MB_PER_VCPU  # Lambda's 1.7 vCPUs
    assert rt.cpu_share(512, cores=16, concurrent=1) == 1.0  # at least one thread
