"""``retouch dlq list|redrive``: inspect and replay dead-lettered messages.

Where the queues are:

* **a deployed stack** (no ``--endpoint``, or one that is not on this machine): the queue URLs
  are the CloudFormation outputs of ``--stack-name`` (``RequestQueueUrl``, ``RequestDLQUrl`` ...:
  ``<logical id>Url``), read with the caller's own credentials;
* **the embedded stack** (``--endpoint`` on this machine: its moto server) has no CloudFormation
  stack; its queues are named from ``template.yaml`` for the stack name, exactly as the embedded
  stack names them when it creates them.

Redrive on AWS is SQS's own: one message-move task per dead-letter queue back to its source
queue (``StartMessageMoveTask``), followed with ``ListMessageMoveTasks`` until it ends. moto 5
does not implement message-move tasks, so on the embedded stack the CLI moves the messages
itself (receive, send to the source queue, delete).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from retouch.adapters.aws import error_code
from retouch.adapters.queue import MessageQueue
from retouch.cli.errors import EXIT_SERVICE, EXIT_USAGE, RunError

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeFilterType

console = Console(stderr=True, soft_wrap=True)  # never wrap a URL or a name mid-way


# alias -> (source queue, its dead-letter queue), as logical ids in template.yaml
QUEUES = {
    "requests": ("RequestQueue", "RequestDLQ"),
    "responses": ("ResponseQueue", "ResponseDLQ"),
    "upload-events": ("UploadEventsQueue", "UploadEventsDLQ"),
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MOVE_TASK_ENDED = ("COMPLETED", "FAILED", "CANCELLED")


def output_key(logical_id: str) -> str:
    """The stack output that holds a queue's URL (template.yaml's ``Outputs``)."""
    return f"{logical_id}Url"


class DeadLetterPair(NamedTuple):
    alias: str
    source: MessageQueue
    dlq: MessageQueue


def is_embedded(endpoint: str | None) -> bool:
    """An endpoint on this machine is the embedded stack's emulator (moto)."""
    return bool(endpoint) and urlsplit(endpoint).hostname in LOOPBACK


def aws_client(service: str, args: argparse.Namespace) -> Any:
    """A client for ``service``: the embedded stack's emulator takes any credentials, a deployed
    stack is read with the caller's own."""
    import boto3  # here, not at import: every `retouch` command builds this command's parser

    emulator = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"} if is_embedded(args.endpoint) else {}
    return boto3.client(service, region_name=args.region, endpoint_url=args.endpoint, **emulator)  # type: ignore[call-overload]


def selected(queue: str) -> list[str]:
    return [alias for alias in QUEUES if queue in ("all", alias)]


def embedded_pairs(args: argparse.Namespace, sqs: Any) -> list[DeadLetterPair]:
    """The embedded stack's queues, named from template.yaml for ``--stack-name``."""
    from retouch.local.template import build_model, find_template

    model = build_model(find_template(), stack=args.stack_name, region=args.region, endpoint=args.endpoint)
    pairs = []
    for alias in selected(args.queue):
        urls = [sqs.get_queue_url(QueueName=model.queues[logical].name)["QueueUrl"] for logical in QUEUES[alias]]
        pairs.append(DeadLetterPair(alias, MessageQueue(sqs, urls[0]), MessageQueue(sqs, urls[1])))
    return pairs


def stack_outputs(cloudformation: Any, stack_name: str, region: str) -> dict[str, str]:
    """The outputs of a deployed stack, by output key."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":  # CloudFormation's answer for a stack that does not exist
            raise RunError(
                f"no stack {stack_name!r} in {region}: give the deployed stack's --stack-name and --region", EXIT_USAGE
            ) from exc
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def stack_pairs(args: argparse.Namespace, sqs: Any, cloudformation: Any) -> list[DeadLetterPair]:
    """A deployed stack's queues, from its CloudFormation outputs.

    With ``--queue all``, a queue whose outputs the stack lacks (deployed from an older template)
    is skipped with a warning; a queue asked for by name must be there."""
    outputs = stack_outputs(cloudformation, args.stack_name, args.region)
    pairs, missing = [], []
    for alias in selected(args.queue):
        keys = [output_key(logical) for logical in QUEUES[alias]]
        absent = [k for k in keys if k not in outputs]
        if absent:
            missing.append((alias, absent))
            continue
        pairs.append(DeadLetterPair(alias, MessageQueue(sqs, outputs[keys[0]]), MessageQueue(sqs, outputs[keys[1]])))
    for alias, absent in missing:
        outputs_named = f"output{'s' if len(absent) > 1 else ''} {', '.join(absent)}"
        message = f"stack {args.stack_name!r} lacks the {outputs_named}: redeploy it from the current template.yaml"
        if args.queue != "all" or not pairs:
            raise RunError(f"{alias}: {message}", EXIT_USAGE)
        console.print(f"{alias}: skipped, {message}", highlight=False, markup=False)
    return pairs


def summarise(body: str) -> str:
    try:
        raw: Any = json.loads(body)
    except ValueError:
        return body[:80]
    if isinstance(raw, dict) and "job_id" in raw:
        return f"job {raw.get('job_id')} image {raw.get('image_id')} {raw.get('name', raw.get('status', ''))}"
    return body[:80]


def list_dead_letters(pairs: list[DeadLetterPair], most: int) -> int:
    """Show up to about ``most`` dead letters per queue without taking them (a peek)."""
    table = Table("queue", "message id", "sent", "receives", "content")
    rows: list[tuple[str, ...]] = []
    total = 0
    for alias, _, dlq in pairs:
        # peek: VisibilityTimeout=0 leaves every message visible for others
        seen: set[str] = set()
        for _ in range(max(1, most // 10)):
            batch = dlq.receive(10, visibility_timeout=0)
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for m in fresh:
                seen.add(m["MessageId"])
                attrs = m.get("Attributes", {})
                sent = datetime.fromtimestamp(int(attrs.get("SentTimestamp", 0)) / 1000, UTC).isoformat(timespec="seconds")
                row = (alias, m["MessageId"], sent, attrs.get("ApproximateReceiveCount", "?"), summarise(m["Body"]))
                table.add_row(*row)
                rows.append(row)
        total += len(seen)
    if sys.stdout.isatty():
        Console().print(table)
    else:  # one tab-separated line per message for scripts
        sys.stdout.write("".join("\t".join(r) + "\n" for r in rows))
    console.print(f"{total} dead-lettered message(s)")
    return 0


def redrive_by_hand(pairs: list[DeadLetterPair], most: int) -> int:
    """Move up to ``most`` messages back to their source queues by receiving, sending and
    deleting them: for emulators without message-move tasks (moto). Returns how many moved."""
    moved = 0
    for alias, source, dlq in pairs:
        while moved < most:
            batch = dlq.receive(10, visibility_timeout=60)
            if not batch:
                break
            for m in batch:
                source.send(m["Body"])
                dlq.delete(m["ReceiptHandle"])
                moved += 1
        console.print(f"{alias}: redrove messages back to {source.url}", highlight=False)
    return moved


@dataclass
class MoveTask:
    """One SQS message-move task from a dead-letter queue back to its source queue."""

    alias: str
    dlq_arn: str
    to_move: int
    previous: int | None = None
    """``StartedTimestamp`` of the queue's latest task before this one: until this task is listed
    (SQS lists a task once it is selected to start), the latest task is that older one."""
    status: str = "RUNNING"
    moved: int = 0
    failure: str = ""

    def update(self, result: dict[str, Any]) -> None:
        """Take the state ``ListMessageMoveTasks`` reports for the queue's latest task, if it is
        this one."""
        if self.previous is not None and result.get("StartedTimestamp") == self.previous:
            return
        self.status = str(result.get("Status", self.status))
        self.moved = int(result.get("ApproximateNumberOfMessagesMoved", self.moved))
        self.to_move = int(result.get("ApproximateNumberOfMessagesToMove", self.to_move))
        self.failure = str(result.get("FailureReason", ""))


def _queue_attributes(queue: MessageQueue, *names: QueueAttributeFilterType) -> dict[str, str]:
    attributes = queue.sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=list(names))["Attributes"]
    return {str(k): v for k, v in attributes.items()}


def _latest_move_task(sqs: Any, dlq_arn: str) -> dict[str, Any] | None:
    """The most recent move task out of a queue (only one can run at a time per queue)."""
    results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
    return results[0] if results else None


def start_move_tasks(sqs: Any, pairs: list[DeadLetterPair]) -> list[MoveTask]:
    """Start one message-move task per dead-letter queue that holds messages, back to its source
    queue; a task already running out of a queue is followed instead of starting another."""
    tasks = []
    for alias, source, dlq in pairs:
        attrs = _queue_attributes(dlq, "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        waiting = int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        latest = _latest_move_task(sqs, attrs["QueueArn"])
        if latest is not None and latest.get("Status") == "RUNNING":
            console.print(f"{alias}: a move task back to its source queue is already running; following it", highlight=False)
            tasks.append(MoveTask(alias, attrs["QueueArn"], waiting))
        elif waiting == 0:
            console.print(f"{alias}: nothing to redrive", highlight=False)
        else:
            source_arn = _queue_attributes(source, "QueueArn")["QueueArn"]
            sqs.start_message_move_task(SourceArn=attrs["QueueArn"], DestinationArn=source_arn)
            console.print(f"{alias}: moving {waiting} message(s) back to {source.url} (SQS message-move task)", highlight=False)
            tasks.append(MoveTask(alias, attrs["QueueArn"], waiting, previous=(latest or {}).get("StartedTimestamp")))
    return tasks


def follow_move_tasks(sqs: Any, tasks: list[MoveTask], poll_seconds: float = 2.0) -> None:
    """Poll ``ListMessageMoveTasks`` until every task has ended, with a progress bar each.

    The tasks run in SQS: interrupting this only stops watching them."""
    if not tasks:
        return
    columns = (TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bars = {task.alias: progress.add_task(task.alias, total=task.to_move) for task in tasks}
        while True:
            for task in tasks:
                if task.status in MOVE_TASK_ENDED:
                    continue
                latest = _latest_move_task(sqs, task.dlq_arn)
                if latest is not None:
                    task.update(latest)
                progress.update(bars[task.alias], completed=task.moved, total=max(task.to_move, task.moved))
            if all(task.status in MOVE_TASK_ENDED for task in tasks):
                return
            time.sleep(poll_seconds)


def redrive_with_move_tasks(sqs: Any, pairs: list[DeadLetterPair], poll_seconds: float = 2.0) -> tuple[int, list[MoveTask]]:
    """Redrive through SQS message-move tasks (AWS); returns how many moved, and the tasks."""
    tasks = start_move_tasks(sqs, pairs)
    if tasks:
        console.print("the move tasks run in SQS; stopping this command only stops watching them")
    follow_move_tasks(sqs, tasks, poll_seconds)
    for task in tasks:
        if task.status != "COMPLETED":
            reason = f": {task.failure}" if task.failure else ""
            console.print(
                f"{task.alias}: the move task ended {task.status.lower()} after {task.moved} message(s){reason}", highlight=False
            )
    return sum(task.moved for task in tasks), tasks


def cmd_dlq(args: argparse.Namespace) -> int:
    sqs = aws_client("sqs", args)
    embedded = is_embedded(args.endpoint)
    pairs = embedded_pairs(args, sqs) if embedded else stack_pairs(args, sqs, aws_client("cloudformation", args))
    if args.action == "list":
        return list_dead_letters(pairs, args.max)
    if embedded:  # moto has no message-move tasks
        moved, ended = redrive_by_hand(pairs, args.max), True
    else:
        moved, tasks = redrive_with_move_tasks(sqs, pairs)
        ended = all(task.status == "COMPLETED" for task in tasks)
    console.print(f"{moved} message(s) redriven")
    return 0 if ended else EXIT_SERVICE


def add_parser(sub: Any) -> None:
    p = sub.add_parser("dlq", help="list or redrive dead-lettered messages")
    p.add_argument("action", choices=["list", "redrive"])
    p.add_argument("--queue", choices=["all", *QUEUES], default="all")
    p.add_argument("--stack-name", default="retouch-local", help="the stack (its CloudFormation outputs name the queues)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--endpoint", help="AWS endpoint (the embedded stack's moto server); default: AWS")
    p.add_argument(
        "--max",
        type=int,
        default=1000,
        help="most messages to list, or to move on the embedded stack (on AWS a move task redrives them all)",
    )
    p.set_defaults(func=cmd_dlq)
