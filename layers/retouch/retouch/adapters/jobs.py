"""The jobs table (DynamoDB): how a job and its images are stored.

One table, two kinds of item under the job's partition:

* ``pk=JOB#<id>, sk=JOB`` - the job: owner, operations, output, counters
  (``total``, ``succeeded``, ``failed``, ``remaining``), status, timestamps. It carries
  ``owner``/``created_at``, which feed the ``by-owner`` index for listing a user's jobs.
* ``pk=JOB#<id>, sk=IMG#<image id>`` - one image: name, upload key, status and result.

Recording a result is idempotent: a transaction moves the image to a terminal state only if it
is not terminal yet, and adjusts the job counters in the same transaction. A duplicate or late
result fails the condition and changes nothing, so counts stay exact under at-least-once
delivery. The job completes with a conditional write when ``remaining`` reaches zero; every
recording tries it, duplicates included, so a worker that died between the two writes leaves the
completion to the redelivery (and the sweeper settles any job left open with nothing remaining).

A running job carries ``open=1``, which puts it in the sparse ``open-jobs`` index (keys only); the
completion removes it. The index holds only jobs in flight, so the sweeper reads few items.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from retouch.errors import TransientError
from retouch.models import (
    ImageRecord,
    ImageStatus,
    Job,
    JobStatus,
    OperationSpec,
    OutputSpec,
    ProcessResult,
    now_iso,
)

_ser = TypeSerializer()
_de = TypeDeserializer()

JOB_SK = "JOB"
IMAGE_PREFIX = "IMG#"
JOB_TTL_DAYS = 30
OPEN_INDEX = "open-jobs"
OPEN = "1"


def _pk(job_id: str) -> str:
    return f"JOB#{job_id}"


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in values.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass
class JobRepository:
    """Jobs and images in one DynamoDB table, through an injected client."""

    ddb: Any
    table: str

    # --- creating -------------------------------------------------------------------------
    def create(self, job: Job) -> None:
        """Write the images, then the job item (so a half-written job is never visible)."""
        images = [self._image_item(job.job_id, img) for img in job.images]
        try:
            for start in range(0, len(images), 25):
                requests = [{"PutRequest": {"Item": item}} for item in images[start : start + 25]]
                for attempt in range(8):
                    response = self.ddb.batch_write_item(RequestItems={self.table: requests})
                    requests = response.get("UnprocessedItems", {}).get(self.table, [])
                    if not requests:
                        break
                    time.sleep(0.05 * 2**attempt)
                if requests:
                    raise TransientError("DynamoDB did not accept all image records")
            self.ddb.put_item(
                TableName=self.table,
                Item=self._job_item(job),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"DynamoDB create job: {exc}") from exc

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
                "open": OPEN,
                "created_at": job.created_at,
                "expires_at": int(time.time()) + JOB_TTL_DAYS * 86400,
                "callback_url": job.callback_url,
                "callback_secret": job.callback_secret,
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
                "expires_at": int(time.time()) + JOB_TTL_DAYS * 86400,
            }
        )

    # --- reading --------------------------------------------------------------------------
    def get(self, job_id: str, *, with_images: bool = True) -> Job | None:
        try:
            if not with_images:
                got = self.ddb.get_item(TableName=self.table, Key=_item({"pk": _pk(job_id), "sk": JOB_SK}), ConsistentRead=True)
                return self._job(_plain(got["Item"]), []) if "Item" in got else None
            items = list(self._query(job_id))
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"DynamoDB get job: {exc}") from exc
        head = next((i for i in items if i["sk"] == JOB_SK), None)
        if head is None:
            return None
        images = [self._image(i) for i in items if i["sk"].startswith(IMAGE_PREFIX)]
        return self._job(head, images)

    def get_image(self, job_id: str, image_id: str) -> ImageRecord | None:
        try:
            got = self.ddb.get_item(
                TableName=self.table, Key=_item({"pk": _pk(job_id), "sk": IMAGE_PREFIX + image_id}), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"DynamoDB get image: {exc}") from exc
        return self._image(_plain(got["Item"])) if "Item" in got else None

    def list_for_owner(self, owner: str, limit: int = 50) -> list[Job]:
        try:
            got = self.ddb.query(
                TableName=self.table,
                IndexName="by-owner",
                KeyConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues=_item({":o": owner}),
                ScanIndexForward=False,
                Limit=limit,
            )
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"DynamoDB list jobs: {exc}") from exc
        return [self._job(_plain(i), []) for i in got.get("Items", [])]

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
            callback_secret=item.get("callback_secret"),
            callback_sent_at=item.get("callback_sent_at"),
        )

    @staticmethod
    def _image(item: dict[str, Any]) -> ImageRecord:
        return ImageRecord(
            image_id=item["image_id"],
            name=item["name"],
            upload_key=item["upload_key"],
            status=ImageStatus(item["status"]),
            content_type=item.get("content_type", ""),
            size=int(item.get("size", 0)),
            output_key=item.get("output_key"),
            width=_int(item.get("width")),
            height=_int(item.get("height")),
            bytes=_int(item.get("bytes")),
            error=item.get("error"),
            duration_ms=_int(item.get("duration_ms")),
        )

    # --- updating -------------------------------------------------------------------------
    def mark_queued(self, job_id: str, image_id: str) -> bool:
        """pending -> queued. False if the image was not pending (already queued or done)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=_item({"pk": _pk(job_id), "sk": IMAGE_PREFIX + image_id}),
                UpdateExpression="SET #s = :queued, queued_at = :now",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_item(
                    {":queued": ImageStatus.QUEUED.value, ":pending": ImageStatus.PENDING.value, ":now": now_iso()}
                ),
            )
            return True
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise TransientError(f"DynamoDB mark queued: {exc}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"DynamoDB mark queued: {exc}") from exc

    def count_result(self, result: ProcessResult) -> bool:
        """Count a terminal result once. Returns False for a duplicate (nothing changed).

        The one allowed change of a terminal state: an image that was given up (dead-lettered)
        and then succeeded after a redrive moves from failed to succeeded. The job's completion
        is a separate write (:meth:`try_complete`), tried after every count, duplicates too.
        """
        counter = "succeeded" if result.status is ImageStatus.SUCCEEDED else "failed"
        if self._transition(
            result,
            "#s IN (:pending, :queued)",
            {":pending": ImageStatus.PENDING.value, ":queued": ImageStatus.QUEUED.value},
            {counter: 1, "remaining": -1},
        ):
            return True
        if result.status is ImageStatus.SUCCEEDED:
            return self._transition(
                result,
                "#s = :failed AND gave_up = :true",
                {":failed": ImageStatus.FAILED.value, ":true": True},
                {"succeeded": 1, "failed": -1},
            )
        return False

    def _transition(
        self, result: ProcessResult, condition: str, condition_values: dict[str, Any], counters: dict[str, int]
    ) -> bool:
        """Move one image to ``result``'s state if ``condition`` holds, adjusting job counters
        in the same transaction. False if the condition failed (nothing changed)."""
        fields = {
            "output_key": result.output_key,
            "width": result.width,
            "height": result.height,
            "bytes": result.bytes,
            "error": result.error,
            "duration_ms": result.duration_ms,
        }
        present = {k: v for k, v in fields.items() if v is not None}
        # every field goes through a name placeholder: several (error, bytes) are reserved words
        sets = ["#s = :status", "finished_at = :now", "gave_up = :gave_up"] + [f"#{k} = :{k}" for k in present]
        removes = [f"#{k}" for k in fields if k not in present]
        names = {"#s": "status", **{f"#{k}": k for k in fields}}
        values: dict[str, Any] = {
            ":status": result.status.value,
            ":now": now_iso(),
            ":gave_up": result.gave_up,
            **condition_values,
            **{f":{k}": v for k, v in present.items()},
        }
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        adds = ", ".join(f"#c{n} :c{n}" for n in range(len(counters)))
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _item({"pk": _pk(result.job_id), "sk": IMAGE_PREFIX + result.image_id}),
                            "UpdateExpression": expression,
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": _item(values),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _item({"pk": _pk(result.job_id), "sk": JOB_SK}),
                            "UpdateExpression": f"ADD {adds}",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeNames": {f"#c{n}": k for n, k in enumerate(counters)},
                            "ExpressionAttributeValues": _item({f":c{n}": v for n, v in enumerate(counters.values())}),
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    return False  # duplicate, late, or for an unknown image: nothing to count
            raise TransientError(f"DynamoDB record result: {exc}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"DynamoDB record result: {exc}") from exc
        return True

    def try_complete(self, job_id: str) -> tuple[bool, Job | None]:
        """running -> complete when no image remains. Idempotent. Returns whether this call
        completed the job and, when it did not, the job as it stands (from the failed condition
        itself: one request either way)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=_item({"pk": _pk(job_id), "sk": JOB_SK}),
                UpdateExpression="SET #s = :complete, completed_at = :now REMOVE #open",
                ConditionExpression="remaining = :zero AND #s = :running",
                ExpressionAttributeNames={"#s": "status", "#open": "open"},
                ExpressionAttributeValues=_item(
                    {":complete": JobStatus.COMPLETE.value, ":running": JobStatus.RUNNING.value, ":zero": 0, ":now": now_iso()}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True, None
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                item: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
                return False, (self._job(_plain(item), []) if item else None)
            raise TransientError(f"DynamoDB complete job: {exc}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"DynamoDB complete job: {exc}") from exc

    def open_job_ids(self, limit: int = 1000) -> list[str]:
        """Ids of jobs not yet complete, oldest first (the sparse ``open-jobs`` index)."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": OPEN_INDEX,
            "KeyConditionExpression": "#open = :open",
            "ExpressionAttributeNames": {"#open": "open"},
            "ExpressionAttributeValues": _item({":open": OPEN}),
        }
        try:
            while len(ids) < limit:
                page = self.ddb.query(**kwargs, Limit=limit - len(ids))
                ids += [_plain(i)["pk"].removeprefix("JOB#") for i in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"DynamoDB list open jobs: {exc}") from exc
        return ids

    def mark_callback_sent(self, job_id: str) -> None:
        """The completion callback was accepted by the receiver (it is not sent again)."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=_item({"pk": _pk(job_id), "sk": JOB_SK}),
                UpdateExpression="SET callback_sent_at = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=_item({":now": now_iso()}),
            )
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"DynamoDB mark callback: {exc}") from exc
