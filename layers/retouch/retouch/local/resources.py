"""Create the template's bucket, queues and table in an emulator (moto or LocalStack)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from retouch.local.template import ACCOUNT_ID, StackModel


def create_resources(model: StackModel, endpoint: str, *, s3: Any, sqs: Any, ddb: Any) -> None:
    """Queues (then their redrive policies), buckets with CORS and notifications (which name the
    queues), and tables, created beside the rest (another emulator process serves them)."""
    with ThreadPoolExecutor(max_workers=1) as tables:
        created = tables.submit(create_tables, model, ddb) if ddb is not None else None
        create_queues(model, sqs)
        create_buckets(model, s3)
        if created is not None:
            created.result()


def create_queues(model: StackModel, sqs: Any) -> None:
    for q in model.queues.values():
        sqs.create_queue(QueueName=q.name, Attributes=q.attributes)
    for q in model.queues.values():
        if q.dead_letter:
            dlq_arn = f"arn:aws:sqs:{model.region}:{ACCOUNT_ID}:{model.queues[q.dead_letter].name}"
            sqs.set_queue_attributes(
                QueueUrl=sqs.get_queue_url(QueueName=q.name)["QueueUrl"],
                Attributes={
                    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": q.max_receive_count})
                },
            )


def create_tables(model: StackModel, ddb: Any) -> None:
    for props in model.tables.values():
        kwargs: dict[str, Any] = {
            k: props[k] for k in ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode") if k in props
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        ddb.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(TableName=props["TableName"], TimeToLiveSpecification=ttl)


def create_buckets(model: StackModel, s3: Any) -> None:
    for props in model.buckets.values():
        name = props["BucketName"]
        if model.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": model.region})
        cors = props.get("CorsConfiguration")
        if cors:
            rules = [
                {
                    "AllowedMethods": r["AllowedMethods"],
                    "AllowedOrigins": r["AllowedOrigins"],
                    "AllowedHeaders": r.get("AllowedHeaders", []),
                    "ExposeHeaders": r.get("ExposedHeaders", []),
                    "MaxAgeSeconds": int(r.get("MaxAge", 0)),
                }
                for r in cors["CorsRules"]
            ]
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
        notifications = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
        if notifications:
            s3.put_bucket_notification_configuration(
                Bucket=name,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "QueueArn": n["Queue"],
                            "Events": [n["Event"]],
                            "Filter": {"Key": {"FilterRules": n.get("Filter", {}).get("S3Key", {}).get("Rules", [])}},
                        }
                        for n in notifications
                    ]
                },
            )
