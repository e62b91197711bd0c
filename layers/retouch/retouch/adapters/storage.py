"""Object storage (S3): presigned uploads and downloads, reads and writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from retouch.adapters.aws import aws_errors, error_code
from retouch.errors import ConfigurationError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef


def is_missing(exc: ClientError) -> bool:
    return error_code(exc) in ("404", "NoSuchKey", "NotFound")


@dataclass
class ObjectStore:
    """One bucket, through an injected S3 client."""

    s3: S3Client
    bucket: str

    def presigned_post(self, key: str, content_type: str, size: int, expires: int) -> dict[str, Any]:
        """A browser-ready POST whose policy pins the key, the declared ``image/*`` type and the
        declared size exactly (quotas count declared bytes, so no larger file may stand in for
        it; enqueue checks the size again, for stores that do not enforce the policy)."""
        return self.s3.generate_presigned_post(  # type: ignore[no-any-return]
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["starts-with", "$Content-Type", "image/"],
                # an empty file declared as 0 bytes reaches enqueue and fails with a reason there,
                # instead of being refused by S3 and leaving its image waiting
                ["content-length-range", size, size],
            ],
            ExpiresIn=expires,
        )

    def presigned_get(self, key: str, expires: int, download_name: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if download_name:  # RFC 6266: an ASCII fallback, and the name itself in UTF-8
            fallback = download_name.replace('"', "").replace("\\", "").encode("ascii", "replace").decode().replace("?", "_")
            params["ResponseContentDisposition"] = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(download_name)}"
        return self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)  # type: ignore[no-any-return]

    def head(self, key: str) -> HeadObjectOutputTypeDef | None:
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if is_missing(exc):
                return None
            with aws_errors("S3 head"):
                raise

    def read(self, key: str, *, first_bytes: int | None = None) -> bytes | None:
        """The object's bytes (or its first ``first_bytes``); ``None`` if it does not exist
        (which S3 says only to a caller allowed to list the prefix: otherwise a missing object is
        "access denied", a configuration error)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if first_bytes is not None:
            kwargs["Range"] = f"bytes=0-{first_bytes - 1}"
        try:
            with aws_errors("S3 get"):
                return self.s3.get_object(**kwargs)["Body"].read()  # type: ignore[no-any-return]
        except (TransientError, ConfigurationError) as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError):
                if is_missing(cause):
                    return None
                if error_code(cause) == "InvalidRange":
                    return b""  # an empty object has no first byte
            raise

    def write(self, key: str, body: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        with aws_errors("S3 put"):
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, Metadata=metadata or {})

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a job's uploads or outputs), for good; returns how many."""
        deleted = 0
        with aws_errors("S3 delete"):
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objects:
                    self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})  # type: ignore[typeddict-item]
                    deleted += len(objects)
        return deleted
