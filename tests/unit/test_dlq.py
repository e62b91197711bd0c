"""``retouch dlq`` against a deployed stack: queue URLs from the CloudFormation stack's outputs
(a real stack in moto's in-process mock, made of template.yaml's own queues) and redrive through
SQS message-move tasks.

moto 5 does not implement ``StartMessageMoveTask``/``ListMessageMoveTasks``, so the redrive tests
put a small stand-in for those two calls over moto's queues; the real API is exercised against
LocalStack in ``tests/integration/test_localstack.py``, and the embedded stack's path (moto, by
hand) in ``tests/integration/test_dlq_embedded.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from retouch.cli import dlq
from retouch.cli.errors import RunError
from retouch.cli.main import build_parser
from retouch.local.template import build_model, load_template
from tests.conftest import REGION, TEMPLATE

STACK = "retouch-prod"
QUEUE_IDS = [logical for pair in dlq.QUEUES.values() for logical in pair]


def stack_template(queues: list[str], outputs: list[str]) -> str:
    """template.yaml's own queue resources (names left to CloudFormation, so only the outputs can
    lead to them) and the parameters they use, with ``<logical id>Url`` outputs for ``outputs``."""
    template = load_template(TEMPLATE)
    resources = {}
    for logical in queues:
        resource = copy.deepcopy(template["Resources"][logical])
        resource["Properties"].pop("QueueName")
        resources[logical] = resource
    used = json.dumps(resources)
    parameters = {k: v for k, v in template["Parameters"].items() if f'"Ref": "{k}"' in used}
    body = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": {dlq.output_key(logical): {"Value": {"Ref": logical}} for logical in outputs},
    }
    return json.dumps(body)


@pytest.fixture
def cloud() -> Iterator[dict[str, Any]]:
    """moto's in-process AWS with the dead-letter queues' stack deployed (every output present)."""
    from moto import mock_aws

    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName=STACK, TemplateBody=stack_template(QUEUE_IDS, QUEUE_IDS))
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]}
        yield {"sqs": boto3.client("sqs", region_name=REGION), "outputs": outputs}


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["dlq", *argv])


def url(cloud: dict[str, Any], logical: str) -> str:
    return str(cloud["outputs"][dlq.output_key(logical)])


def dead_letter(cloud: dict[str, Any], alias: str, job_id: str) -> str:
    body = json.dumps({"job_id": job_id, "image_id": "i0001", "operations": []})
    cloud["sqs"].send_message(QueueUrl=url(cloud, dlq.QUEUES[alias][1]), MessageBody=body)
    return body


def depth(cloud: dict[str, Any], logical: str) -> int:
    attrs = cloud["sqs"].get_queue_attributes(QueueUrl=url(cloud, logical), AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


class MoveTasks:
    """moto's SQS client plus SQS's message-move task, which moto lacks: a task moves its
    messages when started, is listed RUNNING once, then with its final ``status``."""

    def __init__(self, sqs: Any, status: str = "COMPLETED", failure: str = "") -> None:
        self._sqs, self.status, self.failure = sqs, status, failure
        self.started: list[dict[str, str]] = []
        self.tasks: dict[str, list[dict[str, Any]]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def _url(self, arn: str) -> str:
        return str(self._sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"])

    def start_message_move_task(self, *, SourceArn: str, DestinationArn: str) -> dict[str, str]:
        self.started.append({"SourceArn": SourceArn, "DestinationArn": DestinationArn})
        moved = 0
        while self.status == "COMPLETED":
            batch = self._sqs.receive_message(QueueUrl=self._url(SourceArn), MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for m in batch:
                self._sqs.send_message(QueueUrl=self._url(DestinationArn), MessageBody=m["Body"])
                self._sqs.delete_message(QueueUrl=self._url(SourceArn), ReceiptHandle=m["ReceiptHandle"])
                moved += 1
        common = {"SourceArn": SourceArn, "DestinationArn": DestinationArn, "StartedTimestamp": len(self.started)}
        final = {
            **common,
            "Status": self.status,
            "ApproximateNumberOfMessagesMoved": moved,
            "ApproximateNumberOfMessagesToMove": moved,
        }
        if self.failure:
            final["FailureReason"] = self.failure
        self.tasks[SourceArn] = [{**common, "Status": "RUNNING", "TaskHandle": f"h{len(self.started)}"}, final]
        return {"TaskHandle": f"h{len(self.started)}"}

    def list_message_move_tasks(self, *, SourceArn: str, MaxResults: int = 1) -> dict[str, Any]:
        states = self.tasks.get(SourceArn)
        if not states:
            return {"Results": []}
        return {"Results": [states.pop(0) if len(states) > 1 else states[0]]}


@pytest.fixture
def move_tasks(cloud: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> MoveTasks:
    fake = MoveTasks(cloud["sqs"])
    real = dlq.aws_client
    monkeypatch.setattr(dlq, "aws_client", lambda service, a: fake if service == "sqs" else real(service, a))
    monkeypatch.setattr(dlq.time, "sleep", lambda _: None)
    return fake


# --- where the queues are ---------------------------------------------------------------------
def test_dlq_queue_pairs_are_the_template_dead_letter_targets() -> None:
    model = build_model(TEMPLATE, stack=STACK, region=REGION, endpoint="http://127.0.0.1:5000")
    for source, dead in dlq.QUEUES.values():
        assert model.queues[source].dead_letter == dead


def test_dlq_template_outputs_every_queue_url_the_cli_reads() -> None:
    outputs = load_template(TEMPLATE)["Outputs"]
    for logical in QUEUE_IDS:
        assert outputs.get(dlq.output_key(logical), {}).get("Value") == {"Ref": logical}, dlq.output_key(logical)


@pytest.mark.parametrize(
    ("endpoint", "embedded"),
    [
        (None, False),
        ("http://127.0.0.1:8000", True),
        ("http://localhost:4566", True),
        ("https://sqs.eu-west-1.amazonaws.com", False),
    ],
)
def test_dlq_is_embedded_only_for_an_endpoint_on_this_machine(endpoint: str | None, embedded: bool) -> None:
    assert dlq.is_embedded(endpoint) is embedded


def test_dlq_list_finds_queues_through_the_stack_outputs(cloud: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    dead_letter(cloud, "requests", "j-1")
    dead_letter(cloud, "upload-events", "j-2")
    assert dlq.cmd_dlq(args("list", "--stack-name", STACK, "--region", REGION)) == 0
    out, err = capsys.readouterr()
    rows = [line.split("\t") for line in out.splitlines()]
    assert sorted((r[0], r[4]) for r in rows) == [("requests", "job j-1 image i0001 "), ("upload-events", "job j-2 image i0001 ")]
    assert "2 dead-lettered message(s)" in err
    assert depth(cloud, "RequestDLQ") == depth(cloud, "UploadEventsDLQ") == 1  # a peek takes nothing


def test_dlq_unknown_stack_is_a_usage_error(cloud: dict[str, Any]) -> None:
    with pytest.raises(RunError) as caught:
        dlq.cmd_dlq(args("list", "--stack-name", "not-deployed", "--region", REGION))
    assert caught.value.code == 2 and "not-deployed" in caught.value.message


def test_dlq_stack_without_some_outputs_skips_them_or_refuses_them_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    from moto import mock_aws

    with mock_aws():
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK, TemplateBody=stack_template(QUEUE_IDS, ["RequestQueue", "RequestDLQ", "ResponseQueue"])
        )
        assert dlq.cmd_dlq(args("list", "--stack-name", STACK)) == 0
        err = capsys.readouterr().err
        assert "responses: skipped, stack 'retouch-prod' lacks the output ResponseDLQUrl: redeploy" in err
        assert "upload-events: skipped, stack 'retouch-prod' lacks the outputs UploadEventsQueueUrl, UploadEventsDLQUrl" in err
        with pytest.raises(RunError) as caught:
            dlq.cmd_dlq(args("redrive", "--stack-name", STACK, "--queue", "responses"))
        assert caught.value.code == 2 and "ResponseDLQUrl" in caught.value.message


# --- redrive: SQS message-move tasks ---------------------------------------------------------
def test_dlq_redrive_moves_dead_letters_back_with_one_move_task_per_queue(
    cloud: dict[str, Any], move_tasks: MoveTasks, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = {dead_letter(cloud, "requests", f"j-{n}") for n in range(3)}
    response = dead_letter(cloud, "responses", "j-9")
    assert dlq.cmd_dlq(args("redrive", "--stack-name", STACK)) == 0
    arn = {
        logical: cloud["sqs"].get_queue_attributes(QueueUrl=url(cloud, logical), AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for logical in QUEUE_IDS
    }
    assert move_tasks.started == [
        {"SourceArn": arn["RequestDLQ"], "DestinationArn": arn["RequestQueue"]},
        {"SourceArn": arn["ResponseDLQ"], "DestinationArn": arn["ResponseQueue"]},
    ]  # the empty upload-events DLQ gets no task
    err = capsys.readouterr().err
    assert "upload-events: nothing to redrive" in err and "4 message(s) redriven" in err
    assert depth(cloud, "RequestDLQ") == depth(cloud, "ResponseDLQ") == 0
    got = cloud["sqs"].receive_message(QueueUrl=url(cloud, "RequestQueue"), MaxNumberOfMessages=10)["Messages"]
    assert {m["Body"] for m in got} == bodies
    (back,) = cloud["sqs"].receive_message(QueueUrl=url(cloud, "ResponseQueue"), MaxNumberOfMessages=10)["Messages"]
    assert back["Body"] == response


def test_dlq_redrive_follows_a_running_move_task_instead_of_starting_another(
    cloud: dict[str, Any], move_tasks: MoveTasks
) -> None:
    dead_letter(cloud, "requests", "j-1")
    pairs = dlq.stack_pairs(
        args("redrive", "--stack-name", STACK, "--queue", "requests"), cloud["sqs"], boto3.client("cloudformation")
    )
    source = _arn(cloud, "RequestDLQ")
    running = {"SourceArn": source, "StartedTimestamp": 7, "Status": "RUNNING", "TaskHandle": "theirs"}
    move_tasks.tasks[source] = [running, {**running, "Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 1}]
    moved, tasks = dlq.redrive_with_move_tasks(move_tasks, pairs, poll_seconds=0)
    assert move_tasks.started == [] and [(t.status, t.moved) for t in tasks] == [("COMPLETED", 1)] and moved == 1


def test_dlq_redrive_waits_for_its_own_task_while_an_older_one_is_listed(cloud: dict[str, Any], move_tasks: MoveTasks) -> None:
    """SQS lists a task once it is selected to start: until then the latest listed is the last one."""
    dead_letter(cloud, "requests", "j-1")
    pairs = dlq.stack_pairs(
        args("redrive", "--stack-name", STACK, "--queue", "requests"), cloud["sqs"], boto3.client("cloudformation")
    )
    source = _arn(cloud, "RequestDLQ")
    older = {"SourceArn": source, "StartedTimestamp": 0, "Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 5}
    real_start = move_tasks.start_message_move_task

    def start_late(**kwargs: str) -> dict[str, str]:
        handle = real_start(**kwargs)
        move_tasks.tasks[source] = [older, older, *move_tasks.tasks[source]]  # listed only from the third poll
        return handle

    move_tasks.tasks[source] = [older]
    move_tasks.start_message_move_task = start_late  # type: ignore[method-assign]
    moved, tasks = dlq.redrive_with_move_tasks(move_tasks, pairs, poll_seconds=0)
    assert [(t.status, t.moved) for t in tasks] == [("COMPLETED", 1)] and moved == 1  # not the older task's 5


def _arn(cloud: dict[str, Any], logical: str) -> str:
    attrs = cloud["sqs"].get_queue_attributes(QueueUrl=url(cloud, logical), AttributeNames=["QueueArn"])["Attributes"]
    return str(attrs["QueueArn"])


def test_dlq_redrive_failed_move_task_is_reported_with_exit_code_3(
    cloud: dict[str, Any], move_tasks: MoveTasks, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letter(cloud, "requests", "j-1")
    move_tasks.status, move_tasks.failure = "FAILED", "the destination queue is gone"
    assert dlq.cmd_dlq(args("redrive", "--stack-name", STACK, "--queue", "requests")) == 3
    err = capsys.readouterr().err
    assert "requests: the move task ended failed after 0 message(s): the destination queue is gone" in err
    assert depth(cloud, "RequestDLQ") == 1
