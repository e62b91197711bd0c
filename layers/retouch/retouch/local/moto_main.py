"""``python -m retouch.local.moto_main``: moto's server, with DynamoDB operations serialised.

Real DynamoDB makes each write and each transaction atomic and isolated; moto's threaded
server does not - two concurrent ``TransactWriteItems`` can both pass their conditions
(measured: 200 concurrent duplicate results for 20 images counted 29 successes). Retouch's
exactly-once counting relies on those conditions, so the local stack runs moto with one lock
around DynamoDB operations, which gives the isolation AWS guarantees. S3 and SQS stay
concurrent (long polls must not block each other).

It also gives standard queues the *fair queue* behaviour SQS has had since 2025: when messages
carry a ``MessageGroupId`` (a tenant), a receive serves the groups with the fewest messages in
flight first, round-robin, instead of strictly oldest first - so a user's small job submitted
behind another user's large backlog is not stuck behind it. moto has no notion of it; without
this the embedded stack would show the unfair order that AWS no longer has.

``--fork-port PORT`` starts a second, independent server on PORT, forked once moto is imported
and warm (:func:`warm`): the embedded stack runs DynamoDB apart from S3 and SQS (two GILs), and
one import for both saves about 1.3 s of CPU while everything starts.
"""

from __future__ import annotations

import argparse
import functools
import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.sqs.models import Message, Queue

_LOCK = threading.RLock()
SERIALISED = ("put_item", "get_item", "query", "scan", "update_item", "delete_item", "transact_write_items")


def _serialised(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return fn(*args, **kwargs)

    return wrapper


def fair_order(visible: list[Message], in_flight: Counter[str | None]) -> list[Message]:
    """Visible messages in the order a fair queue serves them: each group's messages take turns,
    a group's turn coming later the more of its messages are already in flight; messages without
    a group, and messages within a group, keep their order."""
    seen: Counter[str | None] = Counter()
    ranked = []
    for position, message in enumerate(visible):
        group = message.group_id
        rank = 0 if group is None else in_flight[group] + seen[group]
        seen[group] += 1
        ranked.append((rank, position, message))
    return [message for _, _, message in sorted(ranked, key=lambda r: (r[0], r[1]))]


_plain_messages = Queue.messages


def _fair_messages(self: Queue) -> list[Message]:
    visible: list[Message] = _plain_messages.fget(self)  # type: ignore[attr-defined]
    if self.fifo_queue or not any(m.group_id for m in visible):
        return visible
    in_flight: Counter[str | None] = Counter(m.group_id for m in self._messages if m.group_id and not m.visible)
    return fair_order(visible, in_flight)


def install() -> None:
    for name in SERIALISED:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    Queue.messages = property(_fair_messages)  # type: ignore[method-assign,assignment]


WARM_UP = (
    ("sqs", "POST", "AmazonSQS.ListQueues"),
    ("dynamodb", "POST", "DynamoDB_20120810.ListTables"),
    ("s3", "GET", None),
)
"""One harmless request per service the stack uses (list queues, tables, buckets)."""


def warm() -> None:
    """Serve :data:`WARM_UP` through moto's application, in this process, before it serves
    anything: moto builds each service's application on its first request (0.1-0.3 s each,
    which the stack's first requests waited for). The applications are kept for the server
    (``create_backend_app`` cached), so a forked twin starts with them built too."""
    import moto.server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    moto.server.create_backend_app = functools.cache(create_backend_app)
    client = Client(DomainDispatcherApplication(moto.server.create_backend_app))
    for service, method, target in WARM_UP:
        scope = f"Credential=testing/20260101/us-east-1/{service}/aws4_request"
        headers = {"Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"}
        if target:
            headers |= {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"}
        client.open("/", method=method, headers=headers, data="{}" if target else None)


def serve(argv: list[str], instrument: Callable[[], None] | None = None) -> None:
    """moto's server with :func:`install`'s changes, and its twin on ``--fork-port`` if given.
    ``instrument`` runs once the server is warm, before it serves (the benchmarks' request log)."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--fork-port", type=int)
    known, rest = ap.parse_known_args(argv)
    install()
    warm()
    if instrument is not None:
        instrument()
    from moto.server import main

    from retouch.local.processes import die_with_parent

    if known.fork_port and os.fork() == 0:
        die_with_parent()  # the twin ends with the server the stack started
        rest = [*rest, "-p", str(known.fork_port)]  # (the last -p is the one moto uses)
    main(rest)


if __name__ == "__main__":
    import sys

    serve(sys.argv[1:])
