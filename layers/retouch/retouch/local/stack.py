"""The embedded stack: a moto server plus the functions, wired from ``template.yaml``.

* moto servers on 127.0.0.1 (one process for S3 and SQS, one for DynamoDB) stand in for AWS
  (:mod:`retouch.local.emulator`); the buckets, queues (with their dead-letter redrive) and table
  are created from the template (:mod:`retouch.local.resources`).
* S3 -> SQS notifications are configured as the template says; moto delivers them.
* The SQS event sources and schedules of the functions run as supervised worker processes
  (:mod:`retouch.local.sources`).
* The HTTP API routes of the template are served on 127.0.0.1 by the same handler code, behind
  a bearer-token check standing in for the Lambda authorizer (:mod:`retouch.local.gateway`);
  the WebSocket API beside it (:mod:`retouch.local.websocket`).

This module composes them: :class:`EmbeddedStack` starts and stops them in order, and gives
each function's processes their environment.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import secrets
import tempfile
import threading
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from retouch.adapters.apikeys import ApiKeyRepository, looks_like_key
from retouch.local import lambda_runtime as rt
from retouch.local.emulator import MotoServer, free_port
from retouch.local.gateway import FunctionPools, HttpGateway, page_security_policy
from retouch.local.resources import create_resources
from retouch.local.sources import EventSources, Wiring
from retouch.local.template import StackModel, build_model, find_template
from retouch.local.websocket import WebSocketGateway
from retouch.observability import logger

__all__ = ["LOCAL_CREDENTIALS", "PRELOAD", "EmbeddedStack", "MotoServer", "free_port", "worker_context"]

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}

PRELOAD = (
    "boto3",
    "botocore.client",
    "aws_lambda_powertools",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi.params",
    "aws_xray_sdk.core",
    "pydantic",
    "numpy",
    "cv2",
    "PIL.Image",
    "websockets.sync.client",
    "retouch.local.preload",
)
"""Libraries every function process needs, imported once by the fork server that starts them,
and botocore's parsed service models (:mod:`retouch.local.preload`). Only modules that read no
configuration when imported: each process still imports its own handler module (and the rest of
Retouch's package) after its environment is set, as Lambda does."""


def worker_context() -> multiprocessing.context.ForkServerContext:
    """Function processes are forked from a server that has imported :data:`PRELOAD` once, not
    spawned afresh: a dozen processes importing 1-1.5 s of libraries each at the same moment is
    what made the stack slow to start on two cores. (Fork server, not plain fork: the stack's
    own threads are never copied into a child.)"""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


class EmbeddedStack:
    """Everything Retouch needs, on this machine. Use as a context manager."""

    def __init__(
        self,
        template: Path | None = None,
        *,
        stack_name: str = "retouch-local",
        region: str = "us-east-1",
        overrides: dict[str, str] | None = None,
        tokens: dict[str, str] | None = None,
        workdir: Path | None = None,
        max_workers: int | None = None,
        api_port: int = 0,
        endpoint: str | None = None,
        paused: set[str] | None = None,
        schedule_seconds: float | None = None,
        environment: dict[str, str] | None = None,
        duplicate_deliveries: bool = False,
        allow_private_callbacks: bool = False,
    ) -> None:
        self.template = template or find_template()
        self.stack_name, self.region = stack_name, region
        # locally the page is served by the stack itself and uploads go to the emulator on
        # another loopback port: no CloudFront origin to pin CORS to (AllowedOrigins=site on AWS)
        self.overrides = {"AllowedOrigins": "*", **(overrides or {})}
        self.tokens = tokens if tokens is not None else {"local-" + secrets.token_urlsafe(16): "local-user"}
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="retouch-local-"))
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.max_workers = max_workers or max(2, os.cpu_count() or 2)
        self.api_port = api_port
        self.external_endpoint = endpoint
        self.moto: MotoServer | None = None
        """Two moto processes: S3 and SQS in one (moto delivers S3 event notifications to SQS
        inside one process), DynamoDB in the other, forked from the first once moto is imported.
        One process (one GIL, one core) serving all three was the stack's bottleneck."""
        self.model: StackModel | None = None
        self.paused: set[str] = set(paused or ())
        """Functions (and ``<function>:schedule``) whose workers do not run, as if they were down."""
        self.schedule_seconds = schedule_seconds
        """Run scheduled functions this often instead of the template's rate (tests)."""
        self.extra_environment = environment or {}
        self.duplicate_deliveries = duplicate_deliveries
        """Deliver every SQS batch twice (at-least-once delivery at its worst)."""
        self.allow_private_callbacks = allow_private_callbacks
        """Let jobs name http callbacks on loopback (local receivers); AWS's rules otherwise."""
        self._websocket: WebSocketGateway | None = None
        self._api: HttpGateway | None = None
        self._sources: EventSources | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ready = threading.Event()
        """Set once the template's resources exist: the API's port is bound before that (so its
        URL is known early), and a request arriving in between waits for it."""
        self._mp = worker_context()
        self._api_pools = FunctionPools(self.runtime, self._mp)
        """One pool per function with HTTP routes: each route runs in its own function's runtime."""

    # --- lifecycle --------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """S3, SQS (and anything else but DynamoDB)."""
        if self.external_endpoint:
            return self.external_endpoint
        assert self.moto is not None, "the stack is not started"
        return self.moto.url

    @property
    def dynamodb_endpoint(self) -> str:
        if self.external_endpoint:
            return self.external_endpoint
        assert self.moto is not None and self.moto.fork_url, "the stack is not started"
        return self.moto.fork_url

    @property
    def api_url(self) -> str:
        assert self._api is not None, "the stack is not started"
        return self._api.url

    @property
    def websocket_url(self) -> str | None:
        return self._websocket.url if self._websocket is not None else None

    @property
    def token(self) -> str:
        return next(iter(self.tokens))

    @property
    def workers(self) -> dict[str, list[BaseProcess]]:
        """The event sources' processes per function (and per ``<function>:schedule``)."""
        return self._sources.workers if self._sources is not None else {}

    def authenticate(self, token: str) -> tuple[str, str] | None:
        """The authorizers' stand-in: ``(sub, "user")`` for one of the stack's bearer tokens (it
        has no Cognito), ``(sub, "key")`` for an API key of a user, as on AWS."""
        if token in self.tokens:
            return self.tokens[token], "user"
        if looks_like_key(token) and self.model is not None:
            table = next(iter(self.model.tables.values()))["TableName"]
            owner = ApiKeyRepository(self.client("dynamodb"), table).owner_of(token)
            return (owner, "key") if owner else None
        return None

    def client(self, service: str) -> Any:
        import boto3  # imported while the emulator starts (0.5 s), not with this module

        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.dynamodb_endpoint if service == "dynamodb" else self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - emulator credentials
        )

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> EmbeddedStack:
        try:
            return self._start()
        except BaseException:
            self.stop()  # a stack that failed to start leaves nothing running
            raise

    def _start(self) -> EmbeddedStack:
        # the fork server imports the functions' libraries while the emulator starts
        multiprocessing.forkserver.ensure_running()
        if not self.external_endpoint:
            self.moto = MotoServer(log_path=self.logs / "moto.log", fork_port=free_port())
            self.moto.launch()
        # while the emulator starts: read the template, start the API's processes (they import
        # their handler and make their clients, which needs no emulator yet), make the clients
        # that create the resources
        self.model = build_model(
            self.template, stack=self.stack_name, region=self.region, endpoint=self.endpoint, overrides=self.overrides
        )
        self._start_websocket()
        self._start_api()
        clients = {service: self.client(service) for service in ("s3", "sqs", "dynamodb")}
        if self.moto:
            self.moto.wait_ready()
        create_resources(self.model, self.endpoint, s3=clients["s3"], sqs=clients["sqs"], ddb=clients["dynamodb"])
        self._ready.set()
        self._start_sources()
        logger.debug("embedded stack started", extra={"endpoint": self.endpoint, "api": self.api_url})
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._api is not None:
            self._api.stop()  # ends its server's loop: its thread is joined at once below
        if self._sources is not None:
            self._sources.terminate()
        if self.moto:
            self.moto.terminate()  # it stops while the rest is joined
        for t in self._threads:
            t.join(timeout=5)
        if self._sources is not None:
            self._sources.join(timeout=5)
        self._api_pools.shutdown()
        if self._websocket:
            self._websocket.stop()
        if self.moto:
            self.moto.stop()

    # --- resources ----------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """What every function process sees besides its template environment."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "Retouch",
            "POWERTOOLS_DEV": "false",
            "ALLOW_PRIVATE_CALLBACKS": "true" if self.allow_private_callbacks else "false",
            **(
                {"WEBSOCKET_URL": self._websocket.url, "WEBSOCKET_MANAGEMENT_URL": self._websocket.management_url}
                if self._websocket is not None
                else {}
            ),
        }

    def queue_url(self, logical_id: str) -> str:
        assert self.model is not None
        return self.model.queue_url(self.endpoint, logical_id)

    def queue_arn(self, logical_id: str) -> str:
        assert self.model is not None
        return f"arn:aws:sqs:{self.region}:123456789012:{self.model.queues[logical_id].name}"

    def function_env(self, logical_id: str) -> dict[str, str]:
        assert self.model is not None
        return {**self.model.functions[logical_id].environment, **self.environment(), **self.extra_environment}

    def runtime(self, logical_id: str) -> rt.FunctionRuntime:
        assert self.model is not None
        fn = self.model.functions[logical_id]
        return rt.FunctionRuntime(
            name=logical_id,
            module_path=str(fn.module_path),
            handler_name=fn.handler_name,
            environment=self.function_env(logical_id),
            timeout=fn.timeout,
            memory=fn.memory,
            log_path=str(self.logs / f"{logical_id}.log"),
            cpus=rt.cpu_share(fn.memory, os.cpu_count() or 1, self.max_workers),
        )

    # --- event sources ------------------------------------------------------------------------
    def _start_sources(self) -> None:
        """The schedules' processes, and the supervisor that starts and scales the queues' workers."""
        assert self.model is not None
        wiring = Wiring(
            runtime=self.runtime,
            queue_url=self.queue_url,
            queue_arn=self.queue_arn,
            sqs=lambda: self.client("sqs"),
            region=self.region,
            max_workers=self.max_workers,
            duplicate_deliveries=self.duplicate_deliveries,
            schedule_seconds=self.schedule_seconds,
            paused=self.paused,
        )
        self._sources = EventSources(self.model, wiring, self._mp)
        self._sources.start_schedules()
        supervisor = threading.Thread(
            target=self._sources.supervise, args=(self._stop, self._api_pools.warming), name="retouch-supervisor", daemon=True
        )
        supervisor.start()
        self._threads.append(supervisor)

    def pause(self, function: str) -> None:
        """Stop a function's workers (as if it were down); its messages wait in the queue."""
        if self._sources is not None:
            self._sources.pause(function)
        else:
            self.paused.add(function)

    def resume(self, function: str) -> None:
        self.paused.discard(function)

    def kill_worker(self, function: str) -> int | None:
        """``kill -9`` one live worker of ``function``; returns its pid."""
        return self._sources.kill_worker(function) if self._sources is not None else None

    # --- WebSocket and HTTP APIs --------------------------------------------------------------
    def _start_websocket(self) -> None:
        assert self.model is not None
        function = self.model.websocket_function
        if function is None or function not in self.model.functions:
            return
        self._websocket = WebSocketGateway(lambda: self.runtime(function), self._websocket_user, self._mp)
        self._websocket.start()

    def _websocket_user(self, token: str) -> str | None:
        caller = self.authenticate(token)
        return caller[0] if caller else None

    def _start_api(self) -> None:
        """Bind the API's port now (its URL is known early; requests wait for :attr:`_ready`), and
        start the jobs API's processes, not on the first request (as a provisioned Lambda
        would): the first thing every client does is create a job."""
        assert self.model is not None
        self._api = HttpGateway(
            self.model,
            invoke=self._api_pools.invoke,
            authenticate=self.authenticate,
            ready=self._ready,
            page_policy=page_security_policy(self.endpoint, self.websocket_url),
        )
        self._threads.append(self._api.start(self.api_port))
        functions = self.model.functions.values()
        self._api_pools.warm(fn.logical_id for fn in functions if any(r.path.startswith("/jobs") for r in fn.routes))

    # --- waiting ------------------------------------------------------------------------------
    def queue_depths(self) -> dict[str, tuple[int, int]]:
        """(visible, in flight) per queue."""
        assert self.model is not None
        sqs = self.client("sqs")
        out = {}
        for logical in self.model.queues:
            a = sqs.get_queue_attributes(
                QueueUrl=self.queue_url(logical),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            out[logical] = (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]))
        return out
