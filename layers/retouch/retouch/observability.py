"""One place for logging, metrics and tracing (Powertools)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "retouch")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Retouch")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

__all__ = ["logger", "metrics", "tracer"]
