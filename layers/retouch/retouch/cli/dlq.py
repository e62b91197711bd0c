"""``retouch dlq list|redrive``: inspect and replay dead-lettered messages.

Queue names come from ``template.yaml`` for the given stack name, so this works against a
deployed stack (default credentials) and against the embedded stack (``--endpoint``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
from rich.console import Console
from rich.table import Table

from retouch.adapters.queue import MessageQueue
from retouch.local.template import build_model, find_template

console = Console(stderr=True)
ALIASES = {"requests": "RequestQueue", "responses": "ResponseQueue", "upload-events": "UploadEventsQueue"}


def dead_letter_pairs(args: argparse.Namespace) -> list[tuple[str, MessageQueue, MessageQueue]]:
    """(name, source queue, its DLQ) for the queues selected by ``--queue``."""
    model = build_model(find_template(), stack=args.stack_name, region=args.region, endpoint=args.endpoint or "https://sqs")
    local = bool(args.endpoint) and urlsplit(args.endpoint).hostname in ("127.0.0.1", "localhost", "::1")
    # the embedded stack's emulator takes any credentials; a deployed stack uses the caller's own
    emulator = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"} if local else {}
    sqs = boto3.client("sqs", region_name=args.region, endpoint_url=args.endpoint, **emulator)  # type: ignore[call-overload]
    pairs = []
    for alias, logical in ALIASES.items():
        if args.queue not in ("all", alias):
            continue
        spec = model.queues[logical]
        assert spec.dead_letter is not None
        url = sqs.get_queue_url(QueueName=spec.name)["QueueUrl"]
        dlq_url = sqs.get_queue_url(QueueName=model.queues[spec.dead_letter].name)["QueueUrl"]
        pairs.append((alias, MessageQueue(sqs, url), MessageQueue(sqs, dlq_url)))
    return pairs


def summarise(body: str) -> str:
    try:
        raw: Any = json.loads(body)
    except ValueError:
        return body[:80]
    if isinstance(raw, dict) and "job_id" in raw:
        return f"job {raw.get('job_id')} image {raw.get('image_id')} {raw.get('name', raw.get('status', ''))}"
    return body[:80]


def cmd_dlq(args: argparse.Namespace) -> int:
    pairs = dead_letter_pairs(args)
    if args.action == "list":
        table = Table("queue", "message id", "sent", "receives", "content")
        rows: list[tuple[str, ...]] = []
        total = 0
        for alias, _, dlq in pairs:
            # peek: VisibilityTimeout=0 leaves every message visible for others
            seen: set[str] = set()
            for _ in range(max(1, args.max // 10)):
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
    moved = 0
    for alias, source, dlq in pairs:
        while moved < args.max:
            batch = dlq.receive(10, visibility_timeout=60)
            if not batch:
                break
            for m in batch:
                source.send(m["Body"])
                dlq.delete(m["ReceiptHandle"])
                moved += 1
        console.print(f"{alias}: redrove messages back to {source.url}")
    console.print(f"{moved} message(s) redriven")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("dlq", help="list or redrive dead-lettered messages")
    p.add_argument("action", choices=["list", "redrive"])
    p.add_argument("--queue", choices=["all", *ALIASES], default="all")
    p.add_argument("--stack-name", default="retouch-local")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--endpoint", help="AWS endpoint (the embedded stack's moto server); default: AWS")
    p.add_argument("--max", type=int, default=1000, help="most messages to list or move")
    p.set_defaults(func=cmd_dlq)
