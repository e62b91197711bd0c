"""site: publish the web page to its bucket at deploy time (a CloudFormation custom resource).

On Create and Update the page's files (``retouch/web``, shipped in the package layer) are
copied to the site bucket, and ``config.json`` tells the page where the API is and how to sign
in (the Cognito hosted UI, authorization code flow with PKCE). On Delete the bucket is emptied
so the stack can remove it. The answer goes to CloudFormation's presigned response URL; a
failure is reported, never left to time out.
"""

from __future__ import annotations

import json
import mimetypes
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from retouch.observability import logger

WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
CACHE = {".html": "no-cache", ".json": "no-cache"}
"""The page and its configuration are revalidated; scripts and styles are cached briefly."""


def site_files(root: Path = WEB_ROOT) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            yield path.relative_to(root).as_posix(), path


def page_config(props: dict[str, Any]) -> dict[str, Any]:
    """``config.json``: the API and the Cognito hosted UI, from the custom resource's properties."""
    site = props["SiteUrl"].rstrip("/") + "/"
    return {
        "api_url": props["ApiUrl"].rstrip("/"),
        "auth": {
            "mode": "cognito",
            "domain": props["CognitoDomain"],
            "client_id": props["ClientId"],
            "redirect_uri": site,
            "scopes": ["openid", "email", "aws.cognito.signin.user.admin"],
        },
    }


def publish(s3: Any, bucket: str, props: dict[str, Any]) -> int:
    count = 0
    for key, path in site_files():
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".js":
            content_type = "text/javascript"
        cache = CACHE.get(path.suffix, "public, max-age=300")
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type, CacheControl=cache)
        count += 1
    config = json.dumps(page_config(props)).encode()
    s3.put_object(Bucket=bucket, Key="config.json", Body=config, ContentType="application/json", CacheControl="no-cache")
    return count + 1


def empty(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def handle(event: dict[str, Any], s3: Any) -> dict[str, Any]:
    """One custom resource request; returns (and sends) CloudFormation's response."""
    props = event.get("ResourceProperties", {})
    bucket = props.get("BucketName", "")
    response = {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": event.get("PhysicalResourceId") or f"site-{bucket}",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {},
    }
    try:
        if event["RequestType"] in ("Create", "Update"):
            response["Data"] = {"Files": publish(s3, bucket, props)}
        elif event["RequestType"] == "Delete":
            empty(s3, bucket)
        logger.info("site request done", extra={"request": event["RequestType"], "bucket": bucket})
    except Exception as exc:  # noqa: BLE001 - CloudFormation must hear about every failure
        logger.exception("site request failed", extra={"request": event["RequestType"], "bucket": bucket})
        response.update(Status="FAILED", Reason=f"publishing the web page failed: {type(exc).__name__} (see the function's log)")
    body = json.dumps(response).encode()
    if not str(event["ResponseURL"]).startswith("https://"):
        raise ValueError("the custom resource's ResponseURL must be https")
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - CloudFormation's presigned https URL
        answer.read()
    return response
