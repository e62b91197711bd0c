"""The jobs table (DynamoDB): how a job, its images, its events and its users' settings are stored.

One table; a job's items share its TTL (``expires_at``, ``JOB_RETENTION_DAYS`` after it is
created, none when that is 0):

* ``pk=JOB#<id>, sk=JOB`` - the job: owner, operations, output, counters
  (``total``, ``succeeded``, ``failed``, ``remaining``), status, timestamps, callback, and
  ``seq``, its last event number. ``owner``/``created_at`` feed the ``by-owner`` index.
* ``pk=JOB#<id>, sk=IMG#<image id>`` - one image: name, upload key, status, result, and the
  ``event_seq`` of its result event.
* ``pk=EVENTS#<id>, sk=<seq, 9 digits>`` - one event (:mod:`retouch.events`), in order.
* ``pk=SUBS#<id>, sk=<connection id>`` / ``pk=CONN#<connection id>`` - WebSocket subscriptions
  and connections (:mod:`retouch.adapters.connections`).
* ``pk=DLV#<id>, sk=<seq>#<attempt>`` - the webhook delivery log.
* ``pk=USER#<sub>, sk=WEBHOOK`` - a user's webhook signing secret (and the previous one).

Recording results is one transaction per job (:meth:`JobRepository.count_results`, for the
results of a batch that belong to one job): each image moves to a terminal state only if it is
not terminal yet, the job's counters move with them, the job completes in the same write when
nothing remains, and the events are stored with their ``seq``.
A duplicate or late result fails the condition and changes nothing, so counts stay exact under
at-least-once delivery, and there is no moment at which a job has nothing left but is not
complete.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from retouch import events
from retouch.adapters.aws import aws_errors, error_code
from retouch.backoff import backoff_seconds
from retouch.errors import TransientError
from retouch.keys import download_name
from retouch.models import (
    RESULT_FIELDS,
    ImageRecord,
    ImageResult,
    ImageStatus,
    Job,
    JobStatus,
    OperationSpec,
    OutputSpec,
    ProcessResult,
    now_iso,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, WriteRequestOutputTypeDef, WriteRequestTypeDef


@cache
def _codecs() -> tuple[Any, Any]:
    """boto3's DynamoDB (de)serializers, imported on first use: ``import boto3`` costs about 0.5 s
    before botocore is loaded (a client is made first) and 0.04 s after."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


JOB_SK = "JOB"
IMAGE_PREFIX = "IMG#"
JOB_TTL_DAYS = 30
"""The default of ``JOB_RETENTION_DAYS`` (the template sets it to ``OutputRetentionDays``)."""


def expiry(retention_days: int) -> int | None:
    """The ``expires_at`` (DynamoDB TTL) of a job's items made now; None keeps them (0 days)."""
    return int(time.time()) + retention_days * 86400 if retention_days > 0 else None


def _pk(job_id: str) -> str:
    return f"JOB#{job_id}"


def user_pk(owner: str) -> str:
    """The partition of a user's own items (quotas, webhook secret, idempotency records)."""
    return f"USER#{owner}"


def _item(values: dict[str, Any]) -> dict[str, Any]:
    ser = _codecs()[0]
    return {k: ser.serialize(v) for k, v in values.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    de = _codecs()[1]
    return {k: de.deserialize(v) for k, v in item.items()}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _events_pk(job_id: str) -> str:
    return f"EVENTS#{job_id}"


def _seq_sk(seq: int) -> str:
    return f"{seq:09d}"


_SEQ_ATTEMPTS = 60
MAX_COUNTED_TOGETHER = 40
"""Results counted in one transaction: 2 items each (image, event) plus 3 (job, its event, the
owner's slot) stay within TransactWriteItems' 100 items."""
"""Recordings of one job serialise on its ``seq``; a loser reads again, at most this often."""


@dataclass(frozen=True)
class JobCursor:
    """Where a page of a user's jobs ends: the last job's creation time and id."""

    created_at: str
    job_id: str


@dataclass(frozen=True)
class QueuedMark:
    """What :meth:`JobRepository.mark_queued` found: the image (``None``: no such image) and
    whether its request is this upload event's to send."""

    image: ImageRecord | None
    ours: bool


@dataclass(frozen=True)
class Counted:
    """What counting a result did: ``counted`` it (False for a duplicate), whether that
    ``completed`` the job, the ``events`` it stored, and for a duplicate the ``republish``
    sequence numbers of the events its first recording stored."""

    counted: bool
    completed: bool = False
    stored: list[tuple[int, str]] = field(default_factory=list)
    """``(seq, type)`` of the events this result stands for: stored now, or by the first
    recording of a duplicate (to be pushed again)."""
    webhook_types: tuple[str, ...] = ()
    """The event types the job's webhook receives (none without a callback URL)."""

    def __bool__(self) -> bool:
        return self.counted


def _stored(head: dict[str, Any], image: dict[str, Any]) -> list[tuple[int, str]]:
    out = [(int(image["event_seq"]), "image")] if image.get("event_seq") is not None else []
    if head.get("completed_seq") is not None:
        out.append((int(head["completed_seq"]), "job"))
    return out


def _webhook_types(head: dict[str, Any]) -> tuple[str, ...]:
    return tuple(head.get("callback_events") or ("job",)) if head.get("callback_url") else ()


_code = error_code


@dataclass
class JobRepository:
    """Jobs and images in one DynamoDB table, through an injected client."""

    ddb: DynamoDBClient
    table: str
    retention_days: int = JOB_TTL_DAYS
    """A job's records expire this long after it is created, with its outputs; 0 keeps them
    until the owner deletes the job."""

    def _write_all(self, requests: Sequence[WriteRequestTypeDef | WriteRequestOutputTypeDef]) -> None:
        """One BatchWriteItem of at most 25 requests, its unprocessed items written again."""
        for attempt in range(8):
            response = self.ddb.batch_write_item(RequestItems={self.table: requests})
            requests = response.get("UnprocessedItems", {}).get(self.table, [])
            if not requests:
                return
            time.sleep(backoff_seconds(attempt + 1, 0.05, 10.0))
        raise TransientError("DynamoDB did not accept every write of a batch")

    # --- creating -------------------------------------------------------------------------
    def create(self, job: Job) -> None:
        """Write the images, then the job item (so a half-written job is never visible)."""
        images = [self._image_item(job.job_id, img) for img in job.images]
        with aws_errors("DynamoDB create job"):
            for start in range(0, len(images), 25):
                self._write_all([{"PutRequest": {"Item": item}} for item in images[start : start + 25]])
            self.ddb.put_item(
                TableName=self.table,
                Item=self._job_item(job),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def _job_item(self, job: Job) -> dict[str, Any]:
        return _item(
            {
                "pk": _pk(job.job_id),
                "sk": JOB_SK,
                "job_id": job.job_id,
                "owner": job.owner,
                "operations": json.dumps([o.to_dict() for o in job.operations]),
                "output_format": job.output.format,
                "output_quality": job.output.quality,
                "total": job.total,
                "succeeded": 0,
                "failed": 0,
                "remaining": job.total,
                "status": JobStatus.RUNNING.value,
                "created_at": job.created_at,
                "expires_at": expiry(self.retention_days),
                "callback_url": job.callback_url,
                "callback_events": list(job.callback_events) if job.callback_url else None,
                "seq": 0,
            }
        )

    def _image_item(self, job_id: str, img: ImageRecord) -> dict[str, Any]:
        return _item(
            {
                "pk": _pk(job_id),
                "sk": IMAGE_PREFIX + img.image_id,
                "image_id": img.image_id,
                "name": img.name,
                "upload_key": img.upload_key,
                "content_type": img.content_type,
                "size": img.size,
                "status": img.status.value,
                "expires_at": expiry(self.retention_days),
            }
        )

    # --- reading --------------------------------------------------------------------------
    def get(self, job_id: str, *, with_images: bool = True) -> Job | None:
        with aws_errors("DynamoDB get job"):
            if not with_images:
                got = self.ddb.get_item(TableName=self.table, Key=_item({"pk": _pk(job_id), "sk": JOB_SK}), ConsistentRead=True)
                return self._job(_plain(got["Item"]), []) if "Item" in got else None
            items = list(self._query(job_id))
        head = next((i for i in items if i["sk"] == JOB_SK), None)
        if head is None:
            return None
        images = [self._image(i) for i in items if i["sk"].startswith(IMAGE_PREFIX)]
        return self._job(head, images)

    def get_image(self, job_id: str, image_id: str) -> ImageRecord | None:
        with aws_errors("DynamoDB get image"):
            got = self.ddb.get_item(
                TableName=self.table, Key=_item({"pk": _pk(job_id), "sk": IMAGE_PREFIX + image_id}), ConsistentRead=True
            )
        return self._image(_plain(got["Item"])) if "Item" in got else None

    def list_for_owner(self, owner: str, limit: int = 50, after: JobCursor | None = None) -> tuple[list[Job], JobCursor | None]:
        """The owner's jobs, newest first, ``limit`` at a time: the page after ``after`` and where
        the next one starts (``None``: this was the last)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "by-owner",
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": _item({":o": owner}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after is not None:  # (the owner is the caller's: a cursor cannot reach another user's jobs)
            kwargs["ExclusiveStartKey"] = _item(
                {"owner": owner, "created_at": after.created_at, "pk": _pk(after.job_id), "sk": JOB_SK}
            )
        with aws_errors("DynamoDB list jobs"):
            got = self.ddb.query(**kwargs)
        jobs = [self._job(_plain(i), []) for i in got.get("Items", [])]
        last = got.get("LastEvaluatedKey")
        return jobs, (JobCursor(jobs[-1].created_at, jobs[-1].job_id) if last and jobs else None)

    def _query(self, job_id: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": _item({":pk": _pk(job_id)}),
            "ConsistentRead": True,
        }
        while True:
            page = self.ddb.query(**kwargs)
            for item in page.get("Items", []):
                yield _plain(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _job(item: dict[str, Any], images: list[ImageRecord]) -> Job:
        return Job(
            job_id=item["job_id"],
            owner=item["owner"],
            operations=tuple(OperationSpec.from_dict(o) for o in json.loads(item["operations"])),
            output=OutputSpec(format=item["output_format"], quality=int(item["output_quality"])),
            total=int(item["total"]),
            created_at=item["created_at"],
            status=JobStatus(item["status"]),
            succeeded=int(item["succeeded"]),
            failed=int(item["failed"]),
            completed_at=item.get("completed_at"),
            images=sorted(images, key=lambda i: i.image_id),
            callback_url=item.get("callback_url"),
            callback_events=tuple(item.get("callback_events") or ("job",)),
            seq=int(item.get("seq", 0)),
            cancelled_at=item.get("cancelled_at"),
        )

    @staticmethod
    def _image(item: dict[str, Any]) -> ImageRecord:
        return ImageRecord(
            item["image_id"],
            item["name"],
            item["upload_key"],
            status=ImageStatus(item["status"]),
            content_type=item.get("content_type", ""),
            size=int(item.get("size", 0)),
            **ImageResult.read_fields(item),
        )

    # --- updating -------------------------------------------------------------------------
    def mark_queued(self, job_id: str, image_id: str, upload_key: str, upload_event: str) -> QueuedMark:
        """pending -> queued, for the image whose upload is ``upload_key``, in one request,
        remembering ``upload_event`` (the id of the notification that queued it).

        The image is this event's to send when this call queued it, or when the same event
        queued it before (a redelivery: its send may have been lost). Any other event for the
        same key - the presigned POST replayed, S3 notifying twice - finds the image queued by
        someone else and is ignored, so one upload is rendered once. ``image`` is ``None`` when
        the job has no such image.
        """
        values = {
            ":queued": ImageStatus.QUEUED.value,
            ":pending": ImageStatus.PENDING.value,
            ":now": now_iso(),
            ":key": upload_key,
            ":event": upload_event,
        }
        try:
            got = self.ddb.update_item(
                TableName=self.table,
                Key=_item({"pk": _pk(job_id), "sk": IMAGE_PREFIX + image_id}),
                UpdateExpression="SET #s = :queued, queued_at = :now, queued_by = :event",
                ConditionExpression="#s = :pending AND upload_key = :key",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_item(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                with aws_errors("DynamoDB mark queued"):
                    raise
            item = exc.response.get("Item")
            if not isinstance(item, dict):
                return QueuedMark(None, False)
            old = _plain(item)
            image = self._image(old)
            ours = image.status is ImageStatus.QUEUED and old.get("queued_by") == upload_event
            return QueuedMark(image, ours)
        except BotoCoreError:
            with aws_errors("DynamoDB mark queued"):
                raise
        return QueuedMark(self._image(_plain(got["Attributes"])), True)

    # --- cancelling and deleting --------------------------------------------------------------
    def mark_cancelled(self, job_id: str) -> None:
        """Note that the owner cancelled the running job (its completion then says so)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=_item({"pk": _pk(job_id), "sk": JOB_SK}),
                UpdateExpression="SET cancelled_at = if_not_exists(cancelled_at, :now)",
                ConditionExpression="#s = :running",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_item({":now": now_iso(), ":running": JobStatus.RUNNING.value}),
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":  # (complete already: nothing to cancel)
                with aws_errors("DynamoDB cancel job"):
                    raise

    def delete_job(self, job_id: str) -> int:
        """Remove every item of the job for good - the job, its images, events, webhook delivery
        log and WebSocket subscriptions; returns how many. A result that arrives later finds no
        job and counts nothing."""
        deleted = 0
        for pk in (_pk(job_id), _events_pk(job_id), f"DLV#{job_id}", f"SUBS#{job_id}"):
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": _item({":pk": pk}),
                "ProjectionExpression": "pk, sk",
            }
            while True:
                with aws_errors("DynamoDB delete job"):
                    got = self.ddb.query(**kwargs)
                    keys: list[WriteRequestTypeDef] = [
                        {"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}} for i in got.get("Items", [])
                    ]
                    for start in range(0, len(keys), 25):
                        self._write_all(keys[start : start + 25])
                deleted += len(keys)
                if "LastEvaluatedKey" not in got:
                    break
                kwargs["ExclusiveStartKey"] = got["LastEvaluatedKey"]
        return deleted

    # --- crash marks (a redelivered process batch renders one image at a time, marked) ----------
    def unfinished_renders(self, job_id: str, image_id: str) -> int:
        """How many marked renders of the image never finished: crashes of the worker rendering it."""
        with aws_errors("DynamoDB get image"):
            got = self.ddb.get_item(
                TableName=self.table,
                Key=_item({"pk": _pk(job_id), "sk": IMAGE_PREFIX + image_id}),
                ProjectionExpression="renders_unfinished",
                ConsistentRead=True,
            )
        return int(_plain(got.get("Item", {})).get("renders_unfinished", 0))

    def mark_render(self, job_id: str, image_id: str, step: int) -> None:
        """Count a render of the image starting (``step`` 1) or ending, however it ended (-1)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=_item({"pk": _pk(job_id), "sk": IMAGE_PREFIX + image_id}),
                UpdateExpression="ADD renders_unfinished :step",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=_item({":step": step}),
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":  # (a deleted job: nothing to mark)
                with aws_errors("DynamoDB mark render"):
                    raise
        except BotoCoreError:
            with aws_errors("DynamoDB mark render"):
                raise

    def count_result(self, result: ProcessResult) -> Counted:
        """Count one terminal result once: :meth:`count_results` of one."""
        return self.count_results([result])[0]

    def count_results(self, results: Sequence[ProcessResult]) -> list[Counted]:
        """Count terminal results of ONE job once each, in one transaction, and store their
        events (and the job's, when they complete it) in it. A duplicate changes nothing
        (``counted`` False) and returns the events the first recording stored, so they can be
        pushed again. The images must be distinct (a batch's repeats are counted after it).

        The one allowed change of a terminal state: an image that was given up (dead-lettered)
        and then succeeded after a redrive moves from failed to succeeded.

        ``seq`` is the job's event counter: the transaction's condition on it makes two
        recordings of the same job serialise (the loser re-reads and tries again), so event
        numbers have no gaps and no duplicates. One transaction for a batch's results of a job,
        instead of one per result, is what keeps concurrent recordings from conflicting.
        """
        if not results:
            return []
        job_id = results[0].job_id
        ids = [r.image_id for r in results]
        if any(r.job_id != job_id for r in results) or len(set(ids)) != len(ids):
            raise ValueError("count_results takes results of one job, one per image")
        if len(results) > MAX_COUNTED_TOGETHER:
            return [
                c
                for i in range(0, len(results), MAX_COUNTED_TOGETHER)
                for c in self.count_results(results[i : i + MAX_COUNTED_TOGETHER])
            ]
        for attempt in range(_SEQ_ATTEMPTS):
            head, images = self._job_and_images(job_id, ids)
            outcomes: list[Counted | None] = []
            todo: list[tuple[ProcessResult, dict[str, Any], dict[str, int]]] = []
            for result in results:
                image = images.get(result.image_id)
                if head is None or image is None:
                    outcomes.append(Counted(False))  # for an unknown job or image: nothing to count
                    continue
                status = ImageStatus(image["status"])
                if not status.terminal:
                    counters = {"succeeded" if result.status is ImageStatus.SUCCEEDED else "failed": 1, "remaining": -1}
                elif status is ImageStatus.FAILED and image.get("gave_up") and result.status is ImageStatus.SUCCEEDED:
                    counters = {"succeeded": 1, "failed": -1}
                else:
                    outcomes.append(Counted(False, stored=_stored(head, image), webhook_types=_webhook_types(head)))
                    continue
                outcomes.append(None)
                todo.append((result, image, counters))
            if not todo:
                return [o for o in outcomes if o is not None]
            assert head is not None
            recorded = self._record(job_id, head, todo)
            if recorded is not None:
                it = iter(recorded)
                return [o if o is not None else next(it) for o in outcomes]
            time.sleep(min(0.2, 0.005 * 2**attempt) * random.random())
        raise TransientError("the job's results are being recorded too fast; retry")

    def stored_events(self, job_id: str, image_id: str) -> tuple[list[tuple[int, str]], tuple[str, ...]]:
        """``(seq, type)`` of the events recorded for a finished image (and the job's completion),
        with the job's webhook event types."""
        head, images = self._job_and_images(job_id, [image_id])
        image = images.get(image_id)
        if head is None or image is None:
            return [], ()
        return _stored(head, image), _webhook_types(head)

    def _job_and_images(self, job_id: str, image_ids: Sequence[str]) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        """The job's head item and the named image items (by image id), in one consistent read."""
        keys = [_item({"pk": _pk(job_id), "sk": JOB_SK})] + [
            _item({"pk": _pk(job_id), "sk": IMAGE_PREFIX + i}) for i in image_ids
        ]
        with aws_errors("DynamoDB read job and images"):
            got = self.ddb.batch_get_item(RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}})
        if got.get("UnprocessedKeys"):
            raise TransientError("DynamoDB read job and images: throttled")
        items = [_plain(i) for i in got.get("Responses", {}).get(self.table, [])]
        head = next((i for i in items if i["sk"] == JOB_SK), None)
        images = {i["sk"].removeprefix(IMAGE_PREFIX): i for i in items if i["sk"] != JOB_SK}
        return head, images

    def _record(
        self, job_id: str, head: dict[str, Any], todo: list[tuple[ProcessResult, dict[str, Any], dict[str, int]]]
    ) -> list[Counted] | None:
        """One transaction: each image's new state and event, the job's counters and ``seq``,
        and the job's event when they complete it (reported with the last image). None when
        ``seq`` or an image changed since they were read (try again)."""
        prev = int(head.get("seq", 0))
        now = now_iso()
        expires = head.get("expires_at")
        transact: list[dict[str, Any]] = []
        image_events: list[dict[str, Any]] = []
        totals = {"succeeded": 0, "failed": 0, "remaining": 0}
        for result, image, counters in todo:
            seq = prev + len(image_events) + 1
            transact.append(self._image_update(result, image, seq, now, image_events))
            for k, v in counters.items():
                totals[k] += v
        succeeded = int(head["succeeded"]) + totals["succeeded"]
        failed = int(head["failed"]) + totals["failed"]
        completes = int(head["remaining"]) + totals["remaining"] == 0 and head["status"] == JobStatus.RUNNING.value
        stored = list(image_events)
        if completes:
            stored.append(
                events.job_event(
                    job_id,
                    prev + len(stored) + 1,
                    now,
                    total=int(head["total"]),
                    succeeded=succeeded,
                    failed=failed,
                    cancelled=bool(head.get("cancelled_at")),
                )
            )
        seq = prev + len(stored)

        counters = {k: v for k, v in totals.items() if v}
        job_names = {f"#c{n}": k for n, k in enumerate(counters)} | {"#seq": "seq"}
        job_values: dict[str, Any] = {f":c{n}": v for n, v in enumerate(counters.values())} | {":seq": seq, ":prev": prev}
        job_sets = ["#seq = :seq"]
        if completes:
            job_names |= {"#s": "status"}
            job_values |= {":complete": JobStatus.COMPLETE.value, ":now": now, ":cseq": seq}
            job_sets += ["#s = :complete", "completed_at = :now", "completed_seq = :cseq"]
        adds = ", ".join(f"#c{n} :c{n}" for n in range(len(counters)))
        job_expression = f"SET {', '.join(job_sets)}" + (f" ADD {adds}" if adds else "")
        transact.append(
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _item({"pk": _pk(job_id), "sk": JOB_SK}),
                    "UpdateExpression": job_expression,
                    "ConditionExpression": "attribute_exists(pk) AND "
                    + ("#seq = :prev" if "seq" in head else "(attribute_not_exists(#seq) OR #seq = :prev)"),
                    "ExpressionAttributeNames": job_names,
                    "ExpressionAttributeValues": _item(job_values),
                }
            }
        )
        if completes:  # the owner's job slot is free again (see retouch.adapters.quotas)
            transact.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _item({"pk": f"USER#{head['owner']}", "sk": "INFLIGHT"}),
                        "UpdateExpression": "ADD jobs :minus",
                        "ExpressionAttributeValues": _item({":minus": -1}),
                    }
                }
            )
        transact += [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": _item(
                        {"pk": _events_pk(job_id), "sk": _seq_sk(e["seq"]), "event": events.encode(e), "expires_at": expires}
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for e in stored
        ]
        try:
            self.ddb.transact_write_items(TransactItems=cast("list[TransactWriteItemTypeDef]", transact))
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    return None  # another recording of this job (or of these images) won: read again
            with aws_errors("DynamoDB record result"):
                raise
        except BotoCoreError:
            with aws_errors("DynamoDB record result"):
                raise
        webhook_types = _webhook_types(head)
        counted = [Counted(True, stored=[(e["seq"], e["type"])], webhook_types=webhook_types) for e in image_events]
        if completes:
            counted[-1] = Counted(True, completed=True, stored=[*counted[-1].stored, (seq, "job")], webhook_types=webhook_types)
        return counted

    def _image_update(
        self, result: ProcessResult, image: dict[str, Any], seq: int, now: str, image_events: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The transaction item that moves one image to its result, conditional on the state it
        was read in; its event (number ``seq``) is appended to ``image_events``."""
        present = result.result_fields()
        image_events.append(
            events.image_event(
                result.job_id,
                seq,
                now,
                image_id=result.image_id,
                name=image.get("name"),
                status=result.status.value,
                output_name=download_name(str(image.get("name", "")), result.output_key.rsplit(".", 1)[-1])
                if result.output_key
                else None,
                **present,
            )
        )
        # every field goes through a name placeholder: several (error, bytes) are reserved words
        sets = ["#s = :status", "finished_at = :now", "gave_up = :gave_up", "event_seq = :eseq"]
        sets += [f"#{k} = :{k}" for k in present]
        removes = [f"#{k}" for k in RESULT_FIELDS if k not in present]
        names = {"#s": "status", **{f"#{k}": k for k in RESULT_FIELDS}}
        values: dict[str, Any] = {
            ":status": result.status.value,
            ":now": now,
            ":gave_up": result.gave_up,
            ":eseq": seq,
            ":old": image["status"],
            **{f":{k}": v for k, v in present.items()},
        }
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "Update": {
                "TableName": self.table,
                "Key": _item({"pk": _pk(result.job_id), "sk": IMAGE_PREFIX + result.image_id}),
                "UpdateExpression": expression,
                "ConditionExpression": "#s = :old",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": _item(values),
            }
        }

    def events_after(self, job_id: str, after: int, limit: int = 1000) -> list[dict[str, Any]]:
        """The job's events with ``seq > after``, in order (at most ``limit``)."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk > :after",
            "ExpressionAttributeValues": _item({":pk": _events_pk(job_id), ":after": _seq_sk(after)}),
            "ConsistentRead": True,
        }
        with aws_errors("DynamoDB read events"):
            while len(out) < limit:
                page = self.ddb.query(**kwargs, Limit=limit - len(out))
                out += [json.loads(_plain(i)["event"]) for i in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    def event(self, job_id: str, seq: int) -> dict[str, Any] | None:
        with aws_errors("DynamoDB read event"):
            got = self.ddb.get_item(TableName=self.table, Key=_item({"pk": _events_pk(job_id), "sk": _seq_sk(seq)}))
        return json.loads(_plain(got["Item"])["event"]) if "Item" in got else None
