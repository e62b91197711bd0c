"""The embedded stack's DynamoDB emulator (:mod:`retouch.local.moto_main`): a transaction costs
what it touches, not what the table holds, and still rolls back; a Query on the table's key
reads its partition only; and the moto internals these patches rely on are still where they were
(issue 28)."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import tracemalloc
from collections.abc import Iterator
from typing import Any

import boto3
import moto.dynamodb.models
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.serialize import SERIALIZERS, BaseJSONSerializer, JSONSerializer
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import UpdateExpressionValidator, Validator
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends

from retouch.local import moto_main

TABLE = "jobs"
ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`moto_main.install` for this test only (everything it replaces is put back)."""
    for name in (*moto_main.SERIALISED, "transact_write_items"):
        monkeypatch.setattr(DynamoDBBackend, name, getattr(DynamoDBBackend, name))
    monkeypatch.setattr(Table, "query", Table.query)
    monkeypatch.setattr(Queue, "messages", Queue.messages)
    monkeypatch.setattr(moto.dynamodb.models, "copy", moto.dynamodb.models.copy)
    monkeypatch.setattr(JSONSerializer, "_serialize_type_structure", JSONSerializer._serialize_type_structure)
    monkeypatch.setattr(Item, "__new__", Item.__new__)
    for name in ("is_message_valid_based_on_retention_period",):
        monkeypatch.setattr(SQSBackend, name, getattr(SQSBackend, name))
    monkeypatch.setattr(Message, "visible", Message.visible)
    monkeypatch.setattr(Message, "delayed", Message.delayed)
    monkeypatch.setattr(Queue, "delete_message", Queue.delete_message)
    monkeypatch.setattr(UpdateExpressionParser, "make", vars(UpdateExpressionParser)["make"])
    for name in ("process", "nodes_to_be_processed"):
        monkeypatch.setattr(DepthFirstTraverser, name, getattr(DepthFirstTraverser, name))
    moto_main.install()


@pytest.fixture
def ddb(installed: None) -> Iterator[Any]:
    """A client of an in-process moto with a table keyed like the jobs table (pk + sk)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def table() -> Table:
    return dynamodb_backends[ACCOUNT][REGION].tables[TABLE]


def fill(jobs: int, images: int) -> None:
    """``jobs`` jobs of ``images`` images each, written straight into moto's table (fast)."""
    t = table()
    for j in range(jobs):
        t.put_item({"pk": {"S": f"JOB#{j}"}, "sk": {"S": "JOB"}, "remaining": {"N": str(images)}, "seq": {"N": "0"}})
        for i in range(images):
            attrs = {"status": {"S": "queued"}, "name": {"S": f"photo-{i:04d}.jpg"}, "key": {"S": f"uploads/j{j}/i{i:04d}"}}
            t.put_item({"pk": {"S": f"JOB#{j}"}, "sk": {"S": f"IMG#{i:04d}"}, **attrs})


def get(ddb: Any, pk: str, sk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
    return item


def counting(job: str, image: str, seq: int) -> list[dict[str, Any]]:
    """A transaction shaped like notify's: the image moves to a terminal state, the job's counters
    and event number move on (conditions on both), and an event is stored."""
    return [
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": job}, "sk": {"S": image}},
                "UpdateExpression": "SET #s = :done",
                "ConditionExpression": "#s = :queued",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":done": {"S": "succeeded"}, ":queued": {"S": "queued"}},
            }
        },
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": job}, "sk": {"S": "JOB"}},
                "UpdateExpression": "SET seq = :next ADD remaining :minus",
                "ConditionExpression": "seq = :seq",
                "ExpressionAttributeValues": {":next": {"N": str(seq + 1)}, ":seq": {"N": str(seq)}, ":minus": {"N": "-1"}},
            }
        },
        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": job}, "sk": {"S": f"EVT#{seq + 1:06d}"}, "type": {"S": "image"}}}},
    ]


# --- rollback ------------------------------------------------------------------------------------
def test_a_counting_transaction_commits_all_its_writes(ddb: Any) -> None:
    fill(1, 2)
    ddb.transact_write_items(TransactItems=counting("JOB#0", "IMG#0000", 0))
    assert get(ddb, "JOB#0", "IMG#0000")["status"] == {"S": "succeeded"}  # type: ignore[index]
    assert get(ddb, "JOB#0", "JOB")["remaining"] == {"N": "1"}  # type: ignore[index]
    assert get(ddb, "JOB#0", "EVT#000001") is not None


def test_a_failed_second_condition_leaves_the_first_item_and_adds_no_new_one(ddb: Any) -> None:
    fill(1, 2)
    before = {sk: get(ddb, "JOB#0", sk) for sk in ("IMG#0000", "JOB")}
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=counting("JOB#0", "IMG#0000", seq=7))  # seq is 0: fails
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "None, ConditionalCheckFailed, None" in cancelled.value.response["Error"]["Message"]
    assert {sk: get(ddb, "JOB#0", sk) for sk in before} == before  # the first Update was undone
    assert get(ddb, "JOB#0", "EVT#000008") is None  # the Put of a new item was undone
    assert len(table().items[DynamoType({"S": "JOB#0"})]) == 3  # the job and its two images


def test_a_rolled_back_put_in_a_new_partition_leaves_no_trace(ddb: Any) -> None:
    fill(1, 1)
    with pytest.raises(ClientError):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "JOB#new"}, "sk": {"S": "JOB"}, "n": {"N": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "JOB#0"}, "sk": {"S": "JOB"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert DynamoType({"S": "JOB#new"}) not in table().items  # (before a GetItem: moto's adds one)
    assert get(ddb, "JOB#new", "JOB") is None
    assert ddb.scan(TableName=TABLE)["Count"] == 2


def test_a_transaction_rejected_as_invalid_leaves_the_items_it_wrote_first(ddb: Any) -> None:
    """moto raises (rather than cancels) on two operations on one item, after the first ran."""
    fill(1, 1)
    before = get(ddb, "JOB#0", "IMG#0000")
    twice = counting("JOB#0", "IMG#0000", 0)[:1] * 2
    with pytest.raises(ClientError) as rejected:
        ddb.transact_write_items(TransactItems=twice)
    assert rejected.value.response["Error"]["Code"] == "ValidationException"
    assert get(ddb, "JOB#0", "IMG#0000") == before


# --- query on the table's key ----------------------------------------------------------------------
def test_a_query_on_the_key_reads_its_partition_only_and_answers_as_moto(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(3, 30)
    queries: list[dict[str, Any]] = [
        {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "JOB#1"}}},
        {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :img)",
            "ExpressionAttributeValues": {":pk": {"S": "JOB#1"}, ":img": {"S": "IMG#"}},
            "Limit": 7,
            "ExclusiveStartKey": {"pk": {"S": "JOB#1"}, "sk": {"S": "IMG#0010"}},
        },
        {
            "KeyConditionExpression": "pk = :pk AND sk > :after",
            "ExpressionAttributeValues": {":pk": {"S": "JOB#2"}, ":after": {"S": "IMG#0025"}},
            "ScanIndexForward": False,
        },
        {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "JOB#none"}}},
    ]
    expected = []
    monkeypatch.setattr(Table, "query", moto_main._moto_query)
    for q in queries:
        expected.append(ddb.query(TableName=TABLE, **q))
    monkeypatch.setattr(Table, "query", moto_main.query)

    def whole_table(self: Table) -> list[Item]:
        raise AssertionError("a query on the table's key listed the whole table")

    monkeypatch.setattr(Table, "all_items", whole_table)
    for q, want in zip(queries, expected, strict=True):
        got = ddb.query(TableName=TABLE, **q)
        assert (got["Items"], got.get("LastEvaluatedKey"), got["Count"]) == (
            want["Items"],
            want.get("LastEvaluatedKey"),
            want["Count"],
        )
    assert DynamoType({"S": "JOB#none"}) not in table().items
    assert "all_items" not in vars(table())


# --- answers written as moto writes them ----------------------------------------------------------
EVERY_TYPE: dict[str, Any] = {
    "s": {"S": "é"},
    "empty": {"S": ""},
    "n": {"N": "-1.50"},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "null": {"NULL": True},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "b": {"B": b"\x00\xff"},
    "bs": {"BS": [b"\x01"]},
    "m": {"M": {"x": {"N": "1"}, "deep": {"M": {"l": {"L": [{"S": "y"}, {"B": b"z"}, {"M": {}}]}}}, "bin": {"B": b"q"}}},
    "l": {"L": [{"N": "3"}, {"L": []}, {"SS": ["c"]}, {"NULL": True}]},
}


def test_answers_are_written_as_moto_writes_them(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "P"}, "sk": {"S": f"{i}"}, **EVERY_TYPE})
    key = {"pk": {"S": "P"}, "sk": {"S": "1"}}

    def answers() -> list[Any]:
        return [
            ddb.get_item(TableName=TABLE, Key=key)["Item"],
            ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P"}})["Items"],
            ddb.batch_get_item(RequestItems={TABLE: {"Keys": [key]}})["Responses"],
            ddb.update_item(
                TableName=TABLE,
                Key=key,
                UpdateExpression="SET n = n + :one",
                ExpressionAttributeValues={":one": {"N": "0"}},
                ReturnValues="ALL_NEW",
            )["Attributes"],
        ]

    ours = answers()
    monkeypatch.setattr(JSONSerializer, "_serialize_type_structure", moto_main._moto_serialize_structure)
    assert answers() == ours
    assert ours[0] == {"pk": {"S": "P"}, "sk": {"S": "1"}, **EVERY_TYPE}


def test_only_plain_attribute_values_take_the_short_way() -> None:
    assert moto_main._wire_attribute_value({"M": {"a": {"L": [{"N": "1"}]}}}) == {"M": {"a": {"L": [{"N": "1"}]}}}
    for value in ({"B": "AA=="}, {"M": {"a": {"B": b"x"}}}, {"L": [DynamoType({"S": "x"})]}, {"S": "a", "N": "1"}, {"N": 1}, "S"):
        assert moto_main._wire_attribute_value(value) is None


# --- cost: bounded by what a transaction touches ----------------------------------------------------
PEAK_BOUND = 2_000_000
"""Bytes one counting transaction may allocate at its peak. On a table of 5,000 items moto's
whole-table rollback copy makes it far more (measured: 16.8 MB; with the patch, 0.09 MB)."""


def peak_bytes(call: Any) -> int:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_a_counting_transactions_cost_does_not_grow_with_the_table(ddb: Any) -> None:
    fill(5, 1000)  # 5,005 items
    ddb.transact_write_items(TransactItems=counting("JOB#0", "IMG#0000", 0))  # botocore warm
    peaks = [
        peak_bytes(lambda i=i: ddb.transact_write_items(TransactItems=counting("JOB#1", f"IMG#{i:04d}", i))) for i in range(3)
    ]
    assert max(peaks) < PEAK_BOUND, f"a transaction allocated {max(peaks) / 1e6:.1f} MB at its peak"
    assert get(ddb, "JOB#1", "JOB")["remaining"] == {"N": "997"}  # type: ignore[index]


def test_answered_items_are_not_kept(ddb: Any) -> None:
    """moto tracked every Item it made, and a Query deep-copies what it answers: each read of a
    job stayed in memory for good."""
    fill(1, 300)
    query = {"TableName": TABLE, "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "JOB#0"}}}
    ddb.query(**query)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(20):
            assert ddb.query(**query)["Count"] >= 301  # the job, its images and the events stored
            ddb.transact_write_items(TransactItems=counting("JOB#0", f"IMG#{i:04d}", i))
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1_000_000, f"20 reads of 301 items kept {kept / 1e6:.1f} MB"  # without the patch: 6 MB


# --- SQS ----------------------------------------------------------------------------------------------
def test_receives_keep_visibility_delay_and_retention(installed: None) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        for i in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)["Messages"]
        assert [m["Body"] for m in got] == ["m0", "m1"]
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["m2"]
        assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        sqs.send_message(QueueUrl=url, MessageBody="old")
        queue = sqs_backends[ACCOUNT][REGION].queues["q"]
        old = next(m for m in queue._messages if m.body == "old")
        old.sent_timestamp -= 61_000  # type: ignore[operator,assignment]  # past the retention period
        assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)


class _LockWatchingList(list[Any]):
    """A queue's list of messages that records, at each iteration, whether its lock is held."""

    def __init__(self, items: list[Any], lock: Any, seen: list[bool]) -> None:
        super().__init__(items)
        self.lock, self.seen = lock, seen

    def __iter__(self) -> Any:
        self.seen.append(self.lock._is_owned())
        return super().__iter__()


def test_a_delete_rebuilds_the_messages_under_the_lock_sends_append_under(installed: None) -> None:
    """Otherwise a message sent by another thread while a delete rebuilds the list is lost."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        for i in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        queue = sqs_backends[ACCOUNT][REGION].queues["q"]
        seen: list[bool] = []
        queue._messages = _LockWatchingList(queue._messages, queue._messages_lock, seen)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
        seen.clear()
        sqs.delete_message(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"])
        assert seen and all(seen)
        assert len(queue._messages) == 2


# --- the moto internals the patches rely on ---------------------------------------------------------
def test_the_moto_internals_the_patches_rely_on_are_still_there() -> None:
    """If this fails, moto changed under :mod:`retouch.local.moto_main`: check its
    ``transact_write_items``, ``Table.query`` and ``Table.items`` before changing this test."""
    transact = inspect.getsource(moto_main._moto_transact_write_items)
    # the whole-table snapshot that the copy shim turns into the table itself, and its rollback
    assert "copy.deepcopy(\n                    self.tables[table_name]\n                )" in transact
    assert "self.tables[table_name] = original_table_state[table_name]" in transact
    # the shim replaces the module's ``copy``, in which the table is the only thing moto copies
    # in bulk: every other deepcopy of that module copies one item
    module = inspect.getsource(moto.dynamodb.models)
    assert module.count("copy.deepcopy(") == 2 and "orig_item = copy.deepcopy(item)" in module
    assert moto.dynamodb.models.copy.deepcopy is not None
    # items are stored as hash -> {range -> Item} (or hash -> Item without a range key)
    assert "self.items[hash_value][range_value] = item" in inspect.getsource(Table.put_item)
    assert list(inspect.signature(Table.get_item).parameters)[:3] == ["self", "hash_key", "range_key"]
    # Table.query's index_name is its 8th parameter, and on the key it filters all_items()
    params = list(inspect.signature(moto_main._moto_query).parameters)
    assert params[:2] == ["self", "hash_key"] and params[8] == "index_name"
    assert (
        "for item in self.all_items()\n                if isinstance(item, Item) and item.hash_key == hash_key"
        in inspect.getsource(moto_main._moto_query)
    )


def test_the_serializer_internals_the_short_way_relies_on_are_still_there() -> None:
    """moto writes DynamoDB's JSON answers with :class:`JSONSerializer`, whose structures go
    through ``_serialize_type_structure(serialized, value, shape, key)`` and whose plain values
    through ``_default_serialize``, as :func:`moto_main._serialize_structure` assumes."""
    assert SERIALIZERS["json"] is JSONSerializer and issubclass(JSONSerializer, BaseJSONSerializer)
    params = list(inspect.signature(moto_main._moto_serialize_structure).parameters)
    assert params == ["self", "serialized", "value", "shape", "key"]
    assert list(inspect.signature(BaseJSONSerializer._default_serialize).parameters) == params
    assert "serialized[serialization_key] = value" in inspect.getsource(BaseJSONSerializer._default_serialize)


def test_the_tracking_and_sqs_internals_the_patches_rely_on_are_still_there() -> None:
    """``BaseModel.__new__`` appends to ``instances_tracked`` (which :func:`moto_main._untracked_new`
    skips for items); SQS's retention check computes the queue's attributes and reads
    ``MessageRetentionPeriod`` (an attribute of the queue), and a message's visibility compares
    moto's millisecond clock with ``visible_at`` / ``delayed_until``."""
    from moto.core.common_models import BaseModel

    assert issubclass(Item, BaseModel) and "instances_tracked.append(instance)" in inspect.getsource(BaseModel.__new__)
    retention = inspect.getsource(moto_main.SQSBackend.is_message_valid_based_on_retention_period)
    assert '["MessageRetentionPeriod"]' in retention and "message.sent_timestamp / 1000" in retention
    assert "MessageRetentionPeriod" in Queue.BASE_ATTRIBUTES
    assert "current_time > self.visible_at" in inspect.getsource(Message.visible.fget)  # type: ignore[attr-defined]
    assert "current_time < self.delayed_until" in inspect.getsource(Message.delayed.fget)  # type: ignore[attr-defined]
    add, delete = inspect.getsource(Queue.add_message), inspect.getsource(moto_main._moto_delete_message)
    assert "with self._messages_lock:\n            self._messages.append(message)" in add
    assert "self._messages = new_messages" in delete and "_messages_lock" not in delete


def test_install_replaces_the_tables_rollback_copy_by_the_table(installed: None) -> None:
    t = Table(  # type: ignore[abstract]
        TABLE, ACCOUNT, REGION, [{"AttributeName": "pk", "KeyType": "HASH"}], [{"AttributeName": "pk", "AttributeType": "S"}]
    )
    shim = moto.dynamodb.models.copy
    assert shim.deepcopy(t) is t
    item = {"a": [1, 2]}
    assert shim.deepcopy(item) == item and shim.deepcopy(item) is not item
    assert shim.copy is __import__("copy").copy


def parameters(fn: Any) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_every_attribute_the_patches_replace_or_read_still_has_the_shape_they_expect() -> None:
    """Each thing :func:`moto_main.install` replaces exists, is the kind of thing the patch
    replaces (a function taking the same arguments, a property, a module), and the attributes
    the replacements read are still set on moto's objects; :func:`moto_main.warm` and
    :func:`moto_main.serve` still find moto's application and its server's entry point."""
    import moto.moto_server.werkzeug_app as werkzeug_app
    import moto.server
    from moto.core.common_models import BaseModel

    # DynamoDB: the serialised operations, the transaction, the query and the tables' copy
    for name in moto_main.SERIALISED:
        assert inspect.isfunction(getattr(DynamoDBBackend, name)), name
    assert parameters(moto_main._moto_transact_write_items) == ["self", "transact_items"]
    assert parameters(moto_main.transact_write_items) == ["self", "transact_items"]
    assert parameters(moto_main._moto_all_items) == ["self"]
    assert moto_main._moto_all_items is Table.all_items
    module_copy = moto.dynamodb.models.copy  # the copy module, or the shim once installed
    assert module_copy is __import__("copy") or isinstance(module_copy, moto_main._TableCopyIsTheTable)
    t = Table(  # type: ignore[abstract]
        TABLE,
        ACCOUNT,
        REGION,
        [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )
    assert (t.hash_key_attr, t.range_key_attr, dict(t.items)) == ("pk", "sk", {})
    # items are made by BaseModel.__new__, which the untracked one replaces on Item
    assert issubclass(Item, BaseModel) and "__new__" in vars(BaseModel)
    assert parameters(BaseModel.__new__) == ["cls", "args", "kwargs"]
    # SQS: retention, visibility, deletes, fair order
    assert parameters(SQSBackend.is_message_valid_based_on_retention_period) == ["self", "queue_name", "message"]
    assert parameters(moto_main._retained) == ["self", "queue_name", "message"]
    assert parameters(SQSBackend.get_queue) == ["self", "queue_name"]
    assert parameters(moto_main._moto_delete_message) == ["self", "receipt_handle"]
    assert isinstance(moto_main._plain_messages, property) and moto_main._plain_messages.fget is not None
    for name in ("visible", "delayed"):
        assert isinstance(vars(Message)[name], property), name
    queue = Queue("q", REGION, ACCOUNT)
    assert float(queue.message_retention_period) > 0 and queue.fifo_queue is False  # type: ignore[attr-defined]
    assert isinstance(queue._messages, list) and hasattr(queue._messages_lock, "__enter__")
    message = Message("id", "body")
    assert message.group_id is None and message.visible_at == 0.0 and message.delayed_until == 0.0
    assert hasattr(message, "sent_timestamp")
    # warm() and serve(): moto's application and server
    assert parameters(werkzeug_app.create_backend_app) == ["service"]
    assert parameters(werkzeug_app.DomainDispatcherApplication)[:1] == ["create_app"]
    assert moto.server.create_backend_app is not None and parameters(moto.server.main) == ["argv"]


def test_an_update_copies_the_old_item_only_for_a_stream(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto deep-copied every updated item for the table's stream; without a stream only the
    response's own copy is made, and with one the stream still gets the old image."""
    copies: list[Item] = []
    moto_deepcopy = Item.__deepcopy__

    def counted(self: Item, memo: dict[int, Any]) -> Item:
        copies.append(self)
        return moto_deepcopy(self, memo)

    monkeypatch.setattr(Item, "__deepcopy__", counted)
    key = {"pk": {"S": "JOB#1"}, "sk": {"S": "JOB"}}
    ddb.put_item(TableName=TABLE, Item={**key, "n": {"N": "1"}})
    got = ddb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_OLD",
    )
    assert got["Attributes"] == {"n": {"N": "1"}} and get(ddb, "JOB#1", "JOB") == {**key, "n": {"N": "2"}}
    assert len(copies) == 1  # the response's (moto made two)

    ddb.create_table(
        TableName="streamed",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    ddb.put_item(TableName="streamed", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    ddb.update_item(
        TableName="streamed",
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET n = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    record = dynamodb_backends[ACCOUNT][REGION].tables["streamed"].stream_shard.items[-1].record  # type: ignore[union-attr]
    assert record["dynamodb"]["OldImage"]["n"] == {"N": "1"} and record["dynamodb"]["NewImage"]["n"] == {"N": "2"}


def test_the_update_internals_the_copy_shim_relies_on_are_still_there() -> None:
    """``update_item``'s deep copy of the item (through the module's ``copy``) is read by the
    stream only, and ``Table.stream_shard`` is None on a table without a stream."""
    source = inspect.getsource(moto_main._moto_update_item)
    assert "orig_item = copy.deepcopy(item)" in source and source.count("orig_item") == 2
    assert "if table.stream_shard is not None:\n            table.stream_shard.add(orig_item, item)" in source
    assert parameters(moto_main._moto_update_item)[:3] == ["self", "table_name", "key"]
    t = Table(  # type: ignore[abstract]
        TABLE, ACCOUNT, REGION, [{"AttributeName": "pk", "KeyType": "HASH"}], [{"AttributeName": "pk", "AttributeType": "S"}]
    )
    assert t.stream_shard is None


# --- update expressions: parsed once, validated without rebuilding maps --------------------------
def shape(node: Any) -> Any:
    """A syntax tree as nested tuples of node classes and leaf values (its identity left out)."""
    if isinstance(node, Node):
        return (type(node).__name__, tuple(shape(c) for c in node.children or ()))
    return node


def test_an_update_expression_is_parsed_once_per_text_and_the_shared_tree_is_left_as_parsed(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The response's placeholder check and the backend share one parse per text; moto
    rewrites only its validator's copy, so the kept tree stays as parsed and every update
    (plain or in a transaction) gets the same result as before."""
    parsed: list[str] = []
    moto_make = moto_main._moto_make_update_expression

    def counted(cls: type, text: str) -> Any:
        parsed.append(text)
        return moto_make(cls, text)

    monkeypatch.setattr(moto_main, "_moto_make_update_expression", counted)
    moto_main._parsed_update_expression.cache_clear()
    text = "SET #s = :s ADD n :one"
    tree = shape(moto_make(UpdateExpressionParser, text))
    key = {"pk": {"S": "JOB#1"}, "sk": {"S": "JOB"}}
    values = {":s": {"S": "running"}, ":one": {"N": "1"}}
    for _ in range(2):
        ddb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression=text,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )
    update = {"TableName": TABLE, "Key": key, "UpdateExpression": text, "ExpressionAttributeNames": {"#s": "status"}}
    ddb.transact_write_items(TransactItems=[{"Update": {**update, "ExpressionAttributeValues": values}}])
    assert get(ddb, "JOB#1", "JOB") == {**key, "status": {"S": "running"}, "n": {"N": "3"}}
    assert parsed == [text]
    shared = UpdateExpressionParser.make(text)
    assert shared is UpdateExpressionParser.make(text) and shape(shared) == tree
    # (the validator's copy is the one rewritten: its placeholders became values)
    item = table().get_item(DynamoType({"S": "JOB#1"}), DynamoType({"S": "JOB"}))
    validated = UpdateExpressionValidator(shared, {"#s": "status"}, values, item, table()).validate()  # type: ignore[arg-type]
    assert shape(validated) != tree and shape(shared) == tree
    # a syntax error is not kept: it is raised every time
    for _ in range(2):
        with pytest.raises(ClientError, match="ValidationException"):
            ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET = :s", ExpressionAttributeValues=values)


def test_the_update_expression_internals_the_shared_parse_and_maps_rely_on_are_still_there() -> None:
    """moto deep-copies the tree before validating it and only reads it otherwise; its
    traversers' maps are their class's node types and bound methods, read only by ``process``
    and ``nodes_to_be_processed``, which no traverser overrides."""
    assert "self.node_to_validate = deepcopy(expression)" in inspect.getsource(Validator.__init__)
    backend = inspect.getsource(moto_main._moto_update_item)
    assert backend.count("update_expression_ast") == 3 and backend.count("update_expression_ast,\n") == 2
    handler = inspect.getsource(DynamoHandler.update_item) + inspect.getsource(DynamoHandler.transact_write_items)
    uses = re.findall(r"update_expression_ast\.?(\w*)", handler)
    assert set(uses) == {"", "find_clauses"} and uses.count("") == 2
    assert "self._processing_map().keys()" in inspect.getsource(moto_main._moto_nodes_to_be_processed)
    assert "self._processing_map().items()" in inspect.getsource(moto_main._moto_process)
    traversers = [
        c
        for c in vars(validators).values()
        if isinstance(c, type) and issubclass(c, DepthFirstTraverser) and c is not DepthFirstTraverser
    ]
    assert len(traversers) > 5
    for cls in traversers:
        assert "process" not in vars(cls) and "nodes_to_be_processed" not in vars(cls), cls
        body = ast.parse(textwrap.dedent(inspect.getsource(cls._processing_map))).body[0].body  # type: ignore[attr-defined]
        ret = body[-1]
        assert isinstance(ret, ast.Return) and isinstance(ret.value, ast.Dict), cls
        for value in ret.value.values:
            assert isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "self", cls
            assert callable(getattr(cls, value.attr)), cls
