"""Imported once by the fork server that starts the function processes (see
:data:`retouch.local.stack.PRELOAD`): botocore's data - endpoints, partitions and the models of
the services the functions call - parsed once, for every process forked after it.

Each botocore session parses those JSON files again for its first client: about 0.3 s of CPU
per function process, eight processes starting together on two cores. A forked process hands
:data:`LOADER` to its session (:func:`retouch.local.lambda_runtime.provision`). It reads no
configuration: the environment, credentials and endpoints are read when clients are made.
"""

from __future__ import annotations

import botocore.loaders

SERVICES = ("s3", "sqs", "dynamodb", "apigatewaymanagementapi")
"""What the functions call (:mod:`retouch.logic.deps`)."""

LOADER = botocore.loaders.create_loader()
for _name in ("endpoints", "partitions", "sdk-default-configuration"):
    LOADER.load_data(_name)
for _service in SERVICES:
    for _kind in ("service-2", "endpoint-rule-set-1"):
        LOADER.load_service_model(_service, _kind)
