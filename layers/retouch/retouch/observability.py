"""One place for logging, metrics and tracing (Powertools).

The tracer is Powertools' ``Tracer``, built on a handler's first invocation instead of at
import: building one imports the X-Ray SDK (about 0.3 s, a third of a light handler's import),
even where tracing ends up disabled. Logger and Metrics are light and built at import.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "retouch")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Retouch")

Handler = TypeVar("Handler", bound=Callable[..., Any])


class LazyTracer:
    """Powertools' ``Tracer`` for ``service``, made when a traced handler first runs."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._tracer: Tracer | None = None

    @property
    def tracer(self) -> Tracer:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=self.service)
        return self._tracer

    def capture_lambda_handler(
        self, handler: Handler | None = None, *, capture_response: bool | None = None, capture_error: bool | None = None
    ) -> Any:
        """``Tracer.capture_lambda_handler``, with or without arguments, applied at the first call."""
        if handler is None:
            return functools.partial(self.capture_lambda_handler, capture_response=capture_response, capture_error=capture_error)
        traced: Callable[..., Any] | None = None

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any) -> Any:
            nonlocal traced
            if traced is None:
                traced = self.tracer.capture_lambda_handler(
                    handler, capture_response=capture_response, capture_error=capture_error
                )
            return traced(event, context)

        return wrapper


logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = LazyTracer(service=SERVICE)

__all__ = ["logger", "metrics", "tracer"]
