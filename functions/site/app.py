"""Custom resource: publish the web page and its config.json to the site bucket at deploy."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.adapters.aws import client
from retouch.logic import site
from retouch.observability import logger


@cache
def s3() -> Any:
    return client("s3")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return site.handle(event, s3())
