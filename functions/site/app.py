"""Custom resource: publish the web page and its config.json to the site bucket at deploy."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.logic import site
from retouch.logic.deps import site_deps
from retouch.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return site.handle(event, site_deps().s3)
