"""Jobs, their images and events in the table (layout and codec: :mod:`retouch.adapters.table`).

Recording results is one transaction per job, planned by :mod:`retouch.logic.recording` and
written by :meth:`JobRepository.apply`: each image moves to its result only from the state it
was read in, the job's counters and ``seq`` move with them, the job completes in the same write
when nothing remains, and the events are stored with their numbers. A recording that lost a race
changes nothing, so counts stay exact under at-least-once delivery, and there is no moment at
which a job has nothing left but is not complete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from retouch import events
from retouch.adapters import table as t
from retouch.adapters.aws import aws_errors, error_code
from retouch.adapters.quotas import release_job_slot
from retouch.backoff import backoff_seconds
from retouch.errors import TransientError
from retouch.models import (
    RESULT_FIELDS,
    ImageChange,
    ImageRecord,
    ImageResult,
    ImageStatus,
    Job,
    JobStatus,
    OperationSpec,
    OutputSpec,
    Recording,
    now_iso,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, WriteRequestOutputTypeDef, WriteRequestTypeDef


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


_code = error_code


@dataclass
class JobRepository:
    """Jobs and images in one DynamoDB table, through an injected client."""

    ddb: DynamoDBClient
    table: str
    retention_days: int = t.JOB_TTL_DAYS
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
        return t.item(
            {
                "pk": t.job_pk(job.job_id),
                "sk": t.JOB_SK,
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
                "expires_at": t.expiry(self.retention_days),
                "callback_url": job.callback_url,
                "callback_events": list(job.callback_events) if job.callback_url else None,
                "seq": 0,
            }
        )

    def _image_item(self, job_id: str, img: ImageRecord) -> dict[str, Any]:
        return t.item(
            {
                "pk": t.job_pk(job_id),
                "sk": t.IMAGE_PREFIX + img.image_id,
                "image_id": img.image_id,
                "name": img.name,
                "upload_key": img.upload_key,
                "content_type": img.content_type,
                "size": img.size,
                "status": img.status.value,
                "expires_at": t.expiry(self.retention_days),
            }
        )

    # --- reading --------------------------------------------------------------------------
    def get(self, job_id: str, *, with_images: bool = True) -> Job | None:
        with aws_errors("DynamoDB get job"):
            if not with_images:
                got = self.ddb.get_item(
                    TableName=self.table, Key=t.item({"pk": t.job_pk(job_id), "sk": t.JOB_SK}), ConsistentRead=True
                )
                return self._job(t.plain(got["Item"]), []) if "Item" in got else None
            items = list(self._query(job_id))
        head = next((i for i in items if i["sk"] == t.JOB_SK), None)
        if head is None:
            return None
        images = [self._image(i) for i in items if i["sk"].startswith(t.IMAGE_PREFIX)]
        return self._job(head, images)

    def images_page(self, job_id: str, after: str | None, limit: int) -> tuple[list[ImageRecord], str | None]:
        """Up to ``limit`` of the job's images in id order, after image ``after`` (from the first
        when None), and the id to continue after when more may follow (None: this was the last).
        Reads only the page (``GET /jobs/{id}`` of a 1,000-image job reads what it returns)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :img)",
            "ExpressionAttributeValues": t.item({":pk": t.job_pk(job_id), ":img": t.IMAGE_PREFIX}),
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = t.item({"pk": t.job_pk(job_id), "sk": t.image_sk(after)})
        with aws_errors("DynamoDB page of images"):
            got = self.ddb.query(**kwargs)
        images = [self._image(t.plain(i)) for i in got.get("Items", [])]
        more = "LastEvaluatedKey" in got and len(images) == limit
        return images, (images[-1].image_id if more and images else None)

    def get_image(self, job_id: str, image_id: str) -> ImageRecord | None:
        with aws_errors("DynamoDB get image"):
            got = self.ddb.get_item(
                TableName=self.table, Key=t.item({"pk": t.job_pk(job_id), "sk": t.IMAGE_PREFIX + image_id}), ConsistentRead=True
            )
        return self._image(t.plain(got["Item"])) if "Item" in got else None

    def list_for_owner(self, owner: str, limit: int = 50, after: JobCursor | None = None) -> tuple[list[Job], JobCursor | None]:
        """The owner's jobs, newest first, ``limit`` at a time: the page after ``after`` and where
        the next one starts (``None``: this was the last)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "by-owner",
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": t.item({":o": owner}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after is not None:  # (the owner is the caller's: a cursor cannot reach another user's jobs)
            kwargs["ExclusiveStartKey"] = t.item(
                {"owner": owner, "created_at": after.created_at, "pk": t.job_pk(after.job_id), "sk": t.JOB_SK}
            )
        with aws_errors("DynamoDB list jobs"):
            got = self.ddb.query(**kwargs)
        jobs = [self._job(t.plain(i), []) for i in got.get("Items", [])]
        last = got.get("LastEvaluatedKey")
        return jobs, (JobCursor(jobs[-1].created_at, jobs[-1].job_id) if last and jobs else None)

    def _query(self, job_id: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": t.item({":pk": t.job_pk(job_id)}),
            "ConsistentRead": True,
        }
        while True:
            page = self.ddb.query(**kwargs)
            for item in page.get("Items", []):
                yield t.plain(item)
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
                Key=t.item({"pk": t.job_pk(job_id), "sk": t.IMAGE_PREFIX + image_id}),
                UpdateExpression="SET #s = :queued, queued_at = :now, queued_by = :event",
                ConditionExpression="#s = :pending AND upload_key = :key",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=t.item(values),
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
            old = t.plain(item)
            image = self._image(old)
            ours = image.status is ImageStatus.QUEUED and old.get("queued_by") == upload_event
            return QueuedMark(image, ours)
        except BotoCoreError:
            with aws_errors("DynamoDB mark queued"):
                raise
        return QueuedMark(self._image(t.plain(got["Attributes"])), True)

    # --- cancelling and deleting --------------------------------------------------------------
    def mark_cancelled(self, job_id: str) -> None:
        """Note that the owner cancelled the running job (its completion then says so)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=t.item({"pk": t.job_pk(job_id), "sk": t.JOB_SK}),
                UpdateExpression="SET cancelled_at = if_not_exists(cancelled_at, :now)",
                ConditionExpression="#s = :running",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=t.item({":now": now_iso(), ":running": JobStatus.RUNNING.value}),
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
        for pk in (t.job_pk(job_id), t.events_pk(job_id), f"DLV#{job_id}", f"SUBS#{job_id}"):
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": t.item({":pk": pk}),
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
                Key=t.item({"pk": t.job_pk(job_id), "sk": t.IMAGE_PREFIX + image_id}),
                ProjectionExpression="renders_unfinished",
                ConsistentRead=True,
            )
        return int(t.plain(got.get("Item", {})).get("renders_unfinished", 0))

    def mark_render(self, job_id: str, image_id: str, step: int) -> None:
        """Count a render of the image starting (``step`` 1) or ending, however it ended (-1)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=t.item({"pk": t.job_pk(job_id), "sk": t.IMAGE_PREFIX + image_id}),
                UpdateExpression="ADD renders_unfinished :step",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=t.item({":step": step}),
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":  # (a deleted job: nothing to mark)
                with aws_errors("DynamoDB mark render"):
                    raise
        except BotoCoreError:
            with aws_errors("DynamoDB mark render"):
                raise

    def job_and_images(self, job_id: str, image_ids: Sequence[str]) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        """The job's head item and the named image items (by image id), in one consistent read
        (what :func:`retouch.logic.recording.plan` plans from)."""
        keys = [t.item({"pk": t.job_pk(job_id), "sk": t.JOB_SK})] + [
            t.item({"pk": t.job_pk(job_id), "sk": t.image_sk(i)}) for i in image_ids
        ]
        with aws_errors("DynamoDB read job and images"):
            got = self.ddb.batch_get_item(RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}})
        if got.get("UnprocessedKeys"):
            raise TransientError("DynamoDB read job and images: throttled")
        items = [t.plain(i) for i in got.get("Responses", {}).get(self.table, [])]
        head = next((i for i in items if i["sk"] == t.JOB_SK), None)
        images = {i["sk"].removeprefix(t.IMAGE_PREFIX): i for i in items if i["sk"] != t.JOB_SK}
        return head, images

    def apply(self, recording: Recording) -> bool:
        """Write a recording (:mod:`retouch.logic.recording`) in one transaction: each image's
        result and event, the job's counters and ``seq``, its completion and the owner's freed
        job slot. False when ``seq`` or an image changed since they were read (plan again)."""
        transact = [self._image_update(change, recording.now) for change in recording.changes]
        transact.append(self._job_update(recording))
        if recording.completes:  # the owner's job slot is free again (see retouch.adapters.quotas)
            transact.append(release_job_slot(self.table, recording.owner))
        transact += [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": t.item(
                        {
                            "pk": t.events_pk(recording.job_id),
                            "sk": t.seq_sk(e["seq"]),
                            "event": events.encode(e),
                            "expires_at": recording.expires_at,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for e in recording.events
        ]
        try:
            self.ddb.transact_write_items(TransactItems=cast("list[TransactWriteItemTypeDef]", transact))
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    return False  # another recording of this job (or of these images) won: read again
            with aws_errors("DynamoDB record result"):
                raise
        except BotoCoreError:
            with aws_errors("DynamoDB record result"):
                raise
        return True

    def _job_update(self, recording: Recording) -> dict[str, Any]:
        """The job's counters and ``seq`` (conditional on the ``seq`` read), and its completion."""
        counters = recording.counters
        names = {f"#c{n}": k for n, k in enumerate(counters)} | {"#seq": "seq"}
        values: dict[str, Any] = {f":c{n}": v for n, v in enumerate(counters.values())}
        values |= {":seq": recording.seq, ":prev": recording.prev_seq}
        sets = ["#seq = :seq"]
        if recording.completes:
            names |= {"#s": "status"}
            values |= {":complete": JobStatus.COMPLETE.value, ":now": recording.now, ":cseq": recording.seq}
            sets += ["#s = :complete", "completed_at = :now", "completed_seq = :cseq"]
        adds = ", ".join(f"#c{n} :c{n}" for n in range(len(counters)))
        same_seq = "#seq = :prev" if recording.head_has_seq else "(attribute_not_exists(#seq) OR #seq = :prev)"
        return {
            "Update": {
                "TableName": self.table,
                "Key": t.item({"pk": t.job_pk(recording.job_id), "sk": t.JOB_SK}),
                "UpdateExpression": f"SET {', '.join(sets)}" + (f" ADD {adds}" if adds else ""),
                "ConditionExpression": "attribute_exists(pk) AND " + same_seq,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": t.item(values),
            }
        }

    def _image_update(self, change: ImageChange, now: str) -> dict[str, Any]:
        """The transaction item that moves one image to its result, conditional on the state it
        was read in."""
        result = change.result
        present = result.result_fields()
        # every field goes through a name placeholder: several (error, bytes) are reserved words
        sets = ["#s = :status", "finished_at = :now", "gave_up = :gave_up", "event_seq = :eseq"]
        sets += [f"#{k} = :{k}" for k in present]
        removes = [f"#{k}" for k in RESULT_FIELDS if k not in present]
        values: dict[str, Any] = {
            ":status": result.status.value,
            ":now": now,
            ":gave_up": result.gave_up,
            ":eseq": change.event["seq"],
            ":old": change.was,
            **{f":{k}": v for k, v in present.items()},
        }
        return {
            "Update": {
                "TableName": self.table,
                "Key": t.item({"pk": t.job_pk(result.job_id), "sk": t.image_sk(result.image_id)}),
                "UpdateExpression": "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
                "ConditionExpression": "#s = :old",
                "ExpressionAttributeNames": {"#s": "status", **{f"#{k}": k for k in RESULT_FIELDS}},
                "ExpressionAttributeValues": t.item(values),
            }
        }

    def events_after(self, job_id: str, after: int, limit: int = 1000) -> list[dict[str, Any]]:
        """The job's events with ``seq > after``, in order (at most ``limit``)."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk > :after",
            "ExpressionAttributeValues": t.item({":pk": t.events_pk(job_id), ":after": t.seq_sk(after)}),
            "ConsistentRead": True,
        }
        with aws_errors("DynamoDB read events"):
            while len(out) < limit:
                page = self.ddb.query(**kwargs, Limit=limit - len(out))
                out += [json.loads(t.plain(i)["event"]) for i in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    def event(self, job_id: str, seq: int) -> dict[str, Any] | None:
        with aws_errors("DynamoDB read event"):
            got = self.ddb.get_item(TableName=self.table, Key=t.item({"pk": t.events_pk(job_id), "sk": t.seq_sk(seq)}))
        return json.loads(t.plain(got["Item"])["event"]) if "Item" in got else None
