"""Per-user limits, in the jobs table: jobs in flight, images and bytes per day.

* ``pk=USER#<sub>, sk=INFLIGHT`` - ``jobs``: the user's jobs not yet complete. Creating a job
  adds one if the limit allows; the transaction that completes a job takes it away again
  (:mod:`retouch.logic.recording`).
* ``pk=USER#<sub>, sk=DAY#<yyyy-mm-dd>`` - ``images`` and ``bytes`` announced that UTC day,
  kept two days.
* ``pk=USER#<sub>, sk=PREVIEW#<minute>`` - ``n``: previews started that minute (kept an hour).
* ``pk=USER#<sub>, sk=PREVIEW-SLOT#<k>`` - one preview running, ``until`` when its lease ends
  (a preview killed by a timeout frees its slot when the lease ends).

Each check is one conditional update, so concurrent requests cannot overshoot a limit.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from retouch.adapters import table as t
from retouch.adapters.aws import aws_errors, error_code
from retouch.errors import TooManyRequests

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def inflight_key(owner: str) -> dict[str, Any]:
    return t.item({"pk": t.user_pk(owner), "sk": t.INFLIGHT_SK})


def release_job_slot(table: str, owner: str) -> dict[str, Any]:
    """The transaction item that frees one of ``owner``'s job slots (written with the result that
    completes a job, :meth:`retouch.adapters.jobs.JobRepository.apply`)."""
    return {
        "Update": {
            "TableName": table,
            "Key": inflight_key(owner),
            "UpdateExpression": "ADD jobs :minus",
            "ExpressionAttributeValues": t.item({":minus": -1}),
        }
    }


def _seconds_to_midnight(now: datetime) -> int:
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds()))


@dataclass(frozen=True)
class Limits:
    jobs_in_flight: int
    images_per_day: int
    bytes_per_day: int


@dataclass(frozen=True)
class PreviewLimits:
    per_minute: int
    at_once: int
    lease_seconds: int
    """How long a running preview holds its slot at most (its time budget and some margin)."""


@dataclass
class QuotaRepository:
    ddb: DynamoDBClient
    table: str

    def _update(self, key: dict[str, Any], expression: str, condition: str | None, values: dict[str, Any]) -> bool:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": expression,
            "ExpressionAttributeValues": t.item(values),
        }
        names = {name: attr for name, attr in (("#b", "bytes"), ("#u", "until")) if name in expression}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if condition:
            kwargs["ConditionExpression"] = condition
        try:
            self.ddb.update_item(**kwargs)
            return True
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            with aws_errors("quota"):
                raise

    def reserve(self, owner: str, images: int, size: int, limits: Limits) -> None:
        """Take one job slot and the day's share for ``images`` of ``size`` bytes, or raise
        :class:`TooManyRequests` (with when to try again) and take nothing."""
        if not self._update(
            inflight_key(owner),
            "ADD jobs :one",
            "attribute_not_exists(jobs) OR jobs < :max",
            {":one": 1, ":max": limits.jobs_in_flight},
        ):
            raise TooManyRequests(
                f"you have {limits.jobs_in_flight} jobs running, the most allowed at once; try again when one completes", 30
            )
        now = datetime.now(UTC)
        day = t.item({"pk": t.user_pk(owner), "sk": f"DAY#{now:%Y-%m-%d}"})
        fits = (
            self._update(
                day,
                "ADD images :n, #b :s SET expires_at = if_not_exists(expires_at, :ttl)",
                "(attribute_not_exists(images) OR images <= :imax) AND (attribute_not_exists(#b) OR #b <= :bmax)",
                {
                    ":n": images,
                    ":s": size,
                    ":imax": limits.images_per_day - images,
                    ":bmax": limits.bytes_per_day - size,
                    ":ttl": int(time.time()) + 2 * 86400,
                },
            )
            if images <= limits.images_per_day and size <= limits.bytes_per_day
            else False
        )
        if not fits:
            self.release(owner)
            raise TooManyRequests(
                f"this job would take you over today's limit of {limits.images_per_day} images or "
                f"{limits.bytes_per_day / 1e9:g} GB; the limit resets at midnight UTC",
                _seconds_to_midnight(now),
            )

    def release(self, owner: str) -> None:
        """Give back a job slot (the job was never created)."""
        self._update(inflight_key(owner), "ADD jobs :minus", None, {":minus": -1})

    def start_preview(self, owner: str, limits: PreviewLimits) -> str:
        """Count one preview against the user's rate and take one of their slots for running
        previews; returns the slot to :meth:`end_preview`. Raises :class:`TooManyRequests`
        (with when to try again) when either limit is reached."""
        now = int(time.time())
        minute = now // 60
        if not self._update(
            t.item({"pk": t.user_pk(owner), "sk": f"PREVIEW#{minute}"}),
            "ADD n :one SET expires_at = if_not_exists(expires_at, :ttl)",
            "attribute_not_exists(n) OR n < :max",
            {":one": 1, ":max": limits.per_minute, ":ttl": now + 3600},
        ):
            raise TooManyRequests(
                f"you asked for more than {limits.per_minute} previews in a minute; try again in a moment",
                60 - now % 60,
            )
        for k in random.sample(range(limits.at_once), limits.at_once):
            slot = f"PREVIEW-SLOT#{k}"
            if self._update(
                t.item({"pk": t.user_pk(owner), "sk": slot}),
                "SET #u = :until, expires_at = :ttl",
                "attribute_not_exists(#u) OR #u < :now",
                {":until": now + limits.lease_seconds, ":now": now, ":ttl": now + 3600},
            ):
                return slot
        raise TooManyRequests(f"you have {limits.at_once} previews running, the most at once; try again when one is done", 2)

    def end_preview(self, owner: str, slot: str) -> None:
        """Free a slot taken by :meth:`start_preview`."""
        with aws_errors("quota"):
            self.ddb.delete_item(TableName=self.table, Key=t.item({"pk": t.user_pk(owner), "sk": slot}))
