"""Cognito pre sign-up trigger: self sign-up only with an e-mail address at an allowed domain."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from retouch.logic import signup
from retouch.logic.deps import signup_deps
from retouch.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return signup.handle(event, signup_deps())
