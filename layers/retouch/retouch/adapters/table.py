"""The one DynamoDB table: its key layout and its item codec, written once for every adapter.

Every item's ``pk``/``sk`` is made by a function here; the adapters that own each kind of item
(:mod:`.jobs`, :mod:`.quotas`, :mod:`.apikeys`, :mod:`.connections`, :mod:`.webhook_store`) only
call them. A job's items share its TTL (``expires_at``, ``JOB_RETENTION_DAYS`` after it is
created, none when that is 0).

* ``pk=JOB#<id>, sk=JOB`` - the job: owner, operations, output, counters (``total``,
  ``succeeded``, ``failed``, ``remaining``), status, timestamps, callback, and ``seq``, its last
  event number. ``owner``/``created_at`` feed the ``by-owner`` index.
* ``pk=JOB#<id>, sk=IMG#<image id>`` - one image: name, upload key, status, result (the fields
  of :class:`retouch.models.ImageResult`), and the ``event_seq`` of its result event.
* ``pk=EVENTS#<id>, sk=<seq, 9 digits>`` - one event (:mod:`retouch.events`), in order.
* ``pk=CONN#<connection id>, sk=CONN`` / ``pk=SUBS#<job id>, sk=<connection id>`` - WebSocket
  connections and subscriptions (:mod:`.connections`).
* ``pk=DLV#<job id>, sk=<seq>#<attempt>`` - the webhook delivery log (:mod:`.webhook_store`).
* ``pk=USER#<sub>, sk=...`` - a user's own items: ``INFLIGHT`` and ``DAY#<date>``,
  ``PREVIEW#<minute>``, ``PREVIEW-SLOT#<k>`` (:mod:`.quotas`), ``WEBHOOK`` (the signing secret,
  :mod:`.webhook_store`), ``APIKEY#<id>`` (:mod:`.apikeys`), idempotency records;
  ``pk=APIKEY#<id>, sk=APIKEY`` - an API key's lookup item.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

JOB_SK = "JOB"
IMAGE_PREFIX = "IMG#"
INFLIGHT_SK = "INFLIGHT"
WEBHOOK_SK = "WEBHOOK"
CONNECTION_SK = "CONN"
APIKEY_PREFIX = "APIKEY#"
APIKEY_SK = "APIKEY"
JOB_TTL_DAYS = 30
"""The default of ``JOB_RETENTION_DAYS`` (the template sets it to ``OutputRetentionDays``)."""


@cache
def _codecs() -> tuple[Any, Any]:
    """boto3's DynamoDB (de)serializers, imported on first use: ``import boto3`` costs about 0.5 s
    before botocore is loaded (a client is made first) and 0.04 s after."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values as a DynamoDB item (``None`` values left out)."""
    ser = _codecs()[0]
    return {k: ser.serialize(v) for k, v in values.items() if v is not None}


def plain(raw: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain values (numbers come back as ``Decimal``)."""
    de = _codecs()[1]
    return {k: de.deserialize(v) for k, v in raw.items()}


def expiry(retention_days: int) -> int | None:
    """The ``expires_at`` (DynamoDB TTL) of a job's items made now; None keeps them (0 days)."""
    return int(time.time()) + retention_days * 86400 if retention_days > 0 else None


def job_pk(job_id: str) -> str:
    return f"JOB#{job_id}"


def image_sk(image_id: str) -> str:
    return IMAGE_PREFIX + image_id


def events_pk(job_id: str) -> str:
    return f"EVENTS#{job_id}"


def seq_sk(seq: int) -> str:
    return f"{seq:09d}"


def user_pk(owner: str) -> str:
    """The partition of a user's own items (quotas, webhook secret, API keys, idempotency records)."""
    return f"USER#{owner}"


def apikey_sk(key_id: str) -> str:
    """A key in its owner's list (under :func:`user_pk`)."""
    return APIKEY_PREFIX + key_id


def apikey_pk(key_id: str) -> str:
    """The lookup item the authorizer reads (its ``sk`` is ``APIKEY``)."""
    return APIKEY_PREFIX + key_id


def connection_pk(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def subscriptions_pk(job_id: str) -> str:
    return f"SUBS#{job_id}"


def deliveries_pk(job_id: str) -> str:
    return f"DLV#{job_id}"


def delivery_sk(seq: int, attempt: int | None = None) -> str:
    """One attempt's key; without ``attempt``, the prefix of all attempts at event ``seq``."""
    return f"{seq_sk(seq)}#" + ("" if attempt is None else f"{attempt:04d}")
