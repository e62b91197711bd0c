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

Two of moto's DynamoDB costs grow with the table, and :func:`install` bounds both (issue 28):

* ``TransactWriteItems`` deep-copied every table it touched, to roll back on failure (on a
  table of ~950 items, 300 transactions took 83 ms each and added 440 MB; an ``UpdateItem``
  5.8 ms). A transaction now snapshots only the items it writes (:func:`transact_write_items`):
  a counting transaction on 5,005 items allocates 0.09 MB at its peak instead of 16.8 MB.
* A ``Query`` on the table's key went through a sorted list of every item in the table, to keep
  those of one partition. It now reads that partition only (:func:`query`).

One grows with everything the server ever answered: moto keeps every model instance it
creates in a class-level list (``instances_tracked``, for its reset and its data page), Items
included, and a Query deep-copies the items it answers, so every answer stayed in memory
(a 1,000-image job's status: about 1 MB per read; and each transaction's whole-table copy
before). DynamoDB items are no longer tracked (:func:`_untracked_new`).

On the S3 + SQS side, a receive checked each message's retention by computing all the queue's
attributes (three scans of every message in the queue, each through a ``datetime`` clock), so
a receive cost grew with the queue's depth: about 4 s with 3,000 messages waiting. The check
now reads the queue's retention period, and a message's visibility reads ``time.time()``.
And a delete no longer loses messages: moto's ``Queue.delete_message`` rebuilds the queue's
list of messages without the lock ``add_message`` appends under, so a message sent by another
thread meanwhile was dropped (one request of 5,000 was lost that way in ``bench.scale``). It now
holds that lock (:func:`_delete_message`).

And one cost grows with the answer: moto's response serializer walks every attribute value
through the service model (each of the ten members of ``AttributeValue`` looked up by name),
about 2 ms per item of 13 attributes: 2 s for the 1,000 images of a job. Values that are
already in DynamoDB's JSON form are now written as they are (:func:`_wire_attribute_value`).

Both keep moto's own code for everything else; ``tests/unit/test_moto_main.py`` fails if the
moto internals they rely on move.

``--fork-port PORT`` starts a second, independent server on PORT, forked once moto is imported
and warm (:func:`warm`): the embedded stack runs DynamoDB apart from S3 and SQS (two GILs), and
one import for both saves about 1.3 s of CPU while everything starts.
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import moto.dynamodb.models
from moto.core.serialize import BaseJSONSerializer, JSONSerializer
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.sqs.models import Message, Queue, SQSBackend

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


# --- DynamoDB: costs bounded by what a call touches -------------------------------------------
class _TableCopyIsTheTable:
    """``moto.dynamodb.models``' ``copy``: a deep copy of a :class:`Table` is the table itself,
    and so is an :class:`Item`'s within :func:`update_item` on a table without a stream;
    anything else is copied by :mod:`copy`. That module deep-copies tables in one place only,
    ``transact_write_items``' rollback snapshot, which :func:`transact_write_items` replaces with
    snapshots of the items the transaction writes (moto's rollback then puts each table back
    in its own place, which changes nothing), and items in one other, ``update_item``'s old
    state for the table's stream."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(x, Table) or (isinstance(x, Item) and getattr(_no_item_copy, "on", False)):
            return x
        return copy.deepcopy(x, memo)


_no_item_copy = threading.local()
_moto_update_item = DynamoDBBackend.update_item


def update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
    """moto's ``update_item``, without its deep copy of the item's old state on a table without
    a stream: that copy feeds the table's stream and nothing else. (Deep copies of items were
    20 % of the DynamoDB emulator's samples in a portrait run; the other one, the response's
    copy for ``ReturnValues``, stays.) Its caller holds :data:`_LOCK`."""
    table = self.tables.get(table_name)
    _no_item_copy.on = table is not None and table.stream_shard is None
    try:
        return _moto_update_item(self, table_name, *args, **kwargs)
    finally:
        _no_item_copy.on = False


# Every update parsed its UpdateExpression twice (the response's check of the placeholders, then
# the backend) and validated it through ten traversals of its syntax tree, each of which built
# its map of node classes to handlers twice per node: 0.24 ms to parse a result's update, and
# 1.2 ms to validate it, 0.3 ms of that in building those maps (issue 28).
_moto_make_update_expression = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=512)
def _parsed_update_expression(text: str) -> Any:
    return _moto_make_update_expression(UpdateExpressionParser, text)


def _make_update_expression(cls: type, text: str) -> Any:
    """moto's parse of an ``UpdateExpression``, once per text (syntax errors are not kept and
    raise again). The tree is shared: moto reads it (``find_clauses``) or deep-copies it before
    rewriting it (``Validator.__init__``)."""
    return _parsed_update_expression(text) if cls is UpdateExpressionParser else _moto_make_update_expression(cls, text)


_moto_process = DepthFirstTraverser.process
_moto_nodes_to_be_processed = DepthFirstTraverser.nodes_to_be_processed


def _processing_map(self: DepthFirstTraverser) -> dict[type, Callable[[Any], Any]]:
    """The traverser's map of node classes to handlers, built once per traverser (moto builds
    it twice per node it visits); every map of moto's is its class's constants and bound methods."""
    cached: dict[type, Callable[[Any], Any]] | None = self.__dict__.get("_map")
    if cached is None:
        cached = self.__dict__["_map"] = self._processing_map()
    return cached


def _nodes_to_be_processed(self: DepthFirstTraverser) -> tuple[type, ...]:
    types: tuple[type, ...] | None = self.__dict__.get("_types")
    if types is None:
        types = self.__dict__["_types"] = tuple(_processing_map(self))
    return types


def _process(self: DepthFirstTraverser, node: Any) -> Any:
    for class_key, processor in _processing_map(self).items():
        if isinstance(node, class_key):
            return processor(node)
    return None


_moto_transact_write_items = DynamoDBBackend.transact_write_items

Snapshot = tuple[Table, DynamoType, DynamoType | None, Item | None]
"""A table, an item's hash and range key, and a deep copy of the item (None: there was none)."""


def _snapshot(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Snapshot]:
    """The items ``transact_items`` may write, as they are: Put's by its item's key, Update's
    and Delete's by their key. Malformed operations are skipped (moto rejects them before
    writing anything under their key)."""
    out: list[Snapshot] = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName", "")) if isinstance(op, dict) else None
            key = op.get("Item" if op_type == "Put" else "Key") if table is not None else None
            if op_type == "ConditionCheck" or table is None or not isinstance(key, dict):
                continue
            try:
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                old = table.get_item(hash_key, range_key)
            except Exception:  # noqa: BLE001, S112 - no valid key: nothing moto writes under it
                continue
            out.append((table, hash_key, range_key, copy.deepcopy(old)))
    return out


def _restore(snapshots: list[Snapshot]) -> None:
    """Put each snapshotted item back as it was (in reverse, so an item listed twice ends as
    first seen): the old item where there was one, none where there was none."""
    for table, hash_key, range_key, old in reversed(snapshots):
        if range_key is None:
            if old is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = old  # type: ignore[assignment]  # (typed for range keys only)
        elif old is None:
            partition = table.items.get(hash_key)
            if partition is not None:
                partition.pop(range_key, None)
                if not partition:
                    del table.items[hash_key]
        else:
            table.items[hash_key][range_key] = old


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``TransactWriteItems`` (conditions, errors, cancellation reasons unchanged), rolled
    back on failure by restoring the items it writes instead of whole deep-copied tables: its
    cost no longer grows with the tables."""
    snapshots = _snapshot(self, transact_items)
    try:
        _moto_transact_write_items(self, transact_items)
    except BaseException:
        _restore(snapshots)
        raise


_moto_query = Table.query
_moto_all_items = Table.all_items


def query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    """moto's ``Table.query``; on the table's own key, its candidates are the hash key's
    partition instead of every item of the table (``all_items`` is read for that call only).
    Its caller holds :data:`_LOCK`, so nothing else reads ``all_items`` meanwhile."""
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name or hash_key is None:
        return _moto_query(self, hash_key, *args, **kwargs)
    partition = self.items.get(hash_key)
    found: list[Item] = [] if partition is None else list(partition.values()) if self.range_key_attr else [partition]  # type: ignore[list-item]
    self.all_items = lambda: found  # type: ignore[method-assign]
    try:
        return _moto_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


_WIRE_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}


def _wire_attribute_value(value: Any) -> Any:
    """``value`` as moto's JSON serializer would write it for an ``AttributeValue``, if it is a
    plain value in DynamoDB's JSON form (S, N, BOOL, NULL, SS, NS, and M and L of those); None
    for anything else (binary, moto's own types), which is left to moto's serializer."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    if kind in _WIRE_SCALARS:
        return value if type(inner) is _WIRE_SCALARS[kind] else None
    if kind in ("SS", "NS"):
        return value if type(inner) is list and all(type(x) is str for x in inner) else None
    if kind == "M" and type(inner) is dict:
        members = {k: _wire_attribute_value(v) for k, v in inner.items()}
        return None if any(v is None for v in members.values()) else {"M": members}
    if kind == "L" and type(inner) is list:
        elements = [_wire_attribute_value(v) for v in inner]
        return None if any(v is None for v in elements) else {"L": elements}
    return None


_moto_serialize_structure = BaseJSONSerializer._serialize_type_structure


def _serialize_structure(self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
    """moto's JSON serializer for a structure, with DynamoDB's attribute values in JSON form
    written as they are."""
    if key and shape.name == "AttributeValue":
        wire = _wire_attribute_value(value)
        if wire is not None:
            self._default_serialize(serialized, wire, shape, key)
            return
    _moto_serialize_structure(self, serialized, value, shape, key)


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``Item.__new__`` without moto's ``BaseModel`` tracking: the item is kept by its table and
    freed with it, not also by a list of every item moto ever made."""
    return object.__new__(cls)


# --- SQS: costs bounded by the messages a receive returns -----------------------------------------
def _retained(self: SQSBackend, queue_name: str, message: Message) -> bool:
    """moto's retention check (``is_message_valid_based_on_retention_period``), reading the
    queue's period instead of computing all its attributes for every message received."""
    period = float(getattr(self.get_queue(queue_name), "message_retention_period"))  # noqa: B009 - untyped in moto
    return period + message.sent_timestamp / 1000 > time.time()  # type: ignore[operator]


def _visible(self: Message) -> bool:
    return time.time() * 1000 > self.visible_at


def _delayed(self: Message) -> bool:
    return time.time() * 1000 < self.delayed_until


_moto_delete_message = Queue.delete_message


def _delete_message(self: Queue, receipt_handle: str) -> None:
    """moto's ``Queue.delete_message`` under the lock ``add_message`` appends under: it replaces
    the list of messages with a filtered copy, which lost any message appended meanwhile."""
    with self._messages_lock:
        _moto_delete_message(self, receipt_handle)


def install() -> None:
    """Serialise DynamoDB, bound its transactions and queries (above), make queues fair. Once."""
    if DynamoDBBackend.transact_write_items is not _moto_transact_write_items:
        return
    moto.dynamodb.models.copy = _TableCopyIsTheTable()  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    UpdateExpressionParser.make = classmethod(_make_update_expression)
    DepthFirstTraverser.nodes_to_be_processed = _nodes_to_be_processed
    DepthFirstTraverser.process = _process
    Table.query = query  # type: ignore[method-assign]
    JSONSerializer._serialize_type_structure = _serialize_structure  # type: ignore[method-assign,assignment]
    Item.__new__ = staticmethod(_untracked_new)  # type: ignore[method-assign,assignment]
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    Message.visible = property(_visible)  # type: ignore[method-assign,assignment]
    Message.delayed = property(_delayed)  # type: ignore[method-assign,assignment]
    Queue.delete_message = _delete_message  # type: ignore[method-assign]
    for name in SERIALISED:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    Queue.messages = property(_fair_messages)  # type: ignore[method-assign,assignment]


# --- the server: costs paid on every request ------------------------------------------------------
def install_server() -> None:
    """What only the server needs (not moto in-process): :mod:`retouch.local.moto_http`'s kept
    connections and cheaper requests."""
    from retouch.local import moto_http

    moto_http.install()


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
    install_server()
    warm()
    if instrument is not None:
        instrument()
    from moto.server import main

    from retouch.local.processes import die_with_parent_at_once

    if known.fork_port and os.fork() == 0:
        die_with_parent_at_once()  # the twin ends with the server the stack started
        rest = [*rest, "-p", str(known.fork_port)]  # (the last -p is the one moto uses)
    main(rest)


if __name__ == "__main__":
    import sys

    serve(sys.argv[1:])
