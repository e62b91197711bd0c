"""The embedded stack: a moto server plus the four functions, wired from ``template.yaml``.

* moto servers on 127.0.0.1 (one process for S3 and SQS, one for DynamoDB) stand in for AWS;
  the bucket, queues (with their dead-letter redrive) and table are created from the template.
* S3 -> SQS notifications are configured as the template says; moto delivers them.
* Every SQS event source of a function becomes a pool of worker processes (see
  :mod:`retouch.local.lambda_runtime`), scaled with the queue depth up to the source's
  ``ScalingConfig.MaximumConcurrency`` (capped locally by the number of cores).
* The HTTP API routes of the template are served on 127.0.0.1 by the same handler code,
  behind a bearer-token check standing in for the JWT authorizer.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import multiprocessing
import multiprocessing.forkserver
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from retouch.adapters.apikeys import ApiKeyRepository, looks_like_key
from retouch.local import lambda_runtime as rt
from retouch.local.events import http_api_event
from retouch.local.processes import SERVER_POLL_SECONDS, die_with_parent_at_once
from retouch.local.resources import create_resources
from retouch.local.template import StackModel, build_model, find_template
from retouch.local.websocket import WebSocketGateway
from retouch.logic.auth import bearer
from retouch.observability import logger

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
MAX_API_BODY = 10 * 1024 * 1024
WEB_ROOT = Path(__file__).resolve().parents[1] / "web"

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


"""The web page (``retouch/web``), served at ``/`` as CloudFront serves it on AWS."""
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
TEXT_BODY_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")
"""Request bodies API Gateway passes as text; any other body arrives base64-encoded."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """``moto_server`` in a child process; with ``fork_port``, a second, independent one on that
    port, forked from the first once moto is imported (see :mod:`retouch.local.moto_main`)."""

    def __init__(self, port: int = 0, log_path: Path | None = None, fork_port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.fork_port = fork_port
        self.fork_url = f"http://127.0.0.1:{fork_port}" if fork_port else None
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "retouch.local.moto_main", *self.arguments()]

    def arguments(self) -> list[str]:
        return ["-H", "127.0.0.1", "-p", str(self.port), *(["--fork-port", str(self.fork_port)] if self.fork_port else [])]

    def launch(self) -> None:
        """Start the process (from the thread that will outlive it: the child is killed when the
        thread that started it ends, see :func:`~retouch.local.processes.die_with_parent`)."""
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        # killed outright with its parent: an emulator has nothing to save, and moto's SIGTERM
        # handler exits only the main thread, leaving busy request threads running for minutes
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=out, preexec_fn=die_with_parent_at_once)

    def wait_ready(self, timeout: float = 30) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        for url in (self.url, self.fork_url):
            while url:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"moto server exited with {self.proc.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError("moto server did not start")
                try:
                    urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()  # noqa: S310
                    break
                except OSError:
                    time.sleep(0.05)

    def start(self, timeout: float = 30) -> None:
        self.launch()
        self.wait_ready(timeout)

    def terminate(self) -> None:
        """Ask the server to stop, without waiting (its forked twin gets SIGTERM when it exits)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        self.terminate()
        if self.proc:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


API_PROCESSES = 2
"""Processes per function with HTTP routes (concurrent requests it serves)."""
READY_WAIT_SECONDS = 120
"""How long a request that arrives while the stack starts waits for it, before a 503."""
SCALE_EVERY_SECONDS = 1.0
"""How often the supervisor looks at queue depths to add pollers (Lambda's scaling looks about
as often; every look costs the emulator one request per queue)."""


def body_length(headers: Any) -> tuple[int, str | None]:
    """The request body's length from its headers, or a reason to refuse the request (400).

    ``Content-Length`` must be one run of decimal digits (RFC 9110: repeated equal values
    allowed); a negative, malformed or conflicting value, or a body framed with
    ``Transfer-Encoding`` (which the local API does not take) is refused.
    """
    if headers.get("Transfer-Encoding") is not None:
        return 0, "Transfer-Encoding is not supported: send the body with a Content-Length"
    values = {v.strip() for raw in headers.get_all("Content-Length") or [] for v in raw.split(",")}
    if not values:
        return 0, None
    if len(values) > 1 or not all(v.isascii() and v.isdigit() for v in values) or len(next(iter(values))) > 18:
        return 0, "malformed Content-Length header"
    return int(next(iter(values))), None


class QuietHTTPServer(ThreadingHTTPServer):
    """The local API's server: a client that hangs up mid-answer (a stopped CLI) is not an error
    to print; anything else goes to the log, never as a traceback on the user's terminal."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        logger.debug("local API request failed", extra={"client": str(client_address), "error": repr(error)})


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
        self.schedule_seconds = schedule_seconds
        self.extra_environment = environment or {}
        self.duplicate_deliveries = duplicate_deliveries
        self.allow_private_callbacks = allow_private_callbacks
        """Let jobs name http callbacks on loopback (local receivers); AWS's rules otherwise."""
        self._websocket: WebSocketGateway | None = None
        """Deliver every SQS batch twice (at-least-once delivery at its worst)."""
        """Run scheduled functions this often instead of the template's rate (tests)."""
        self.workers: dict[str, list[BaseProcess]] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._api_server: ThreadingHTTPServer | None = None
        self._api_pools: dict[str, ProcessPoolExecutor] = {}
        """One pool per function with HTTP routes: each route runs in its own function's runtime."""
        self._api_lock = threading.Lock()
        self._api_warming: list[Future[bool]] = []
        self._ready = threading.Event()
        """Set once the template's resources exist: the API's port is bound before that (so its
        URL is known early), and a request arriving in between waits for it."""
        self._mp = worker_context()

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
        assert self._api_server is not None
        return f"http://127.0.0.1:{self._api_server.server_address[1]}"

    @property
    def token(self) -> str:
        return next(iter(self.tokens))

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
        self._warm_api()
        clients = {service: self.client(service) for service in ("s3", "sqs", "dynamodb")}
        if self.moto:
            self.moto.wait_ready()
        create_resources(self.model, self.endpoint, s3=clients["s3"], sqs=clients["sqs"], ddb=clients["dynamodb"])
        self._ready.set()
        self._start_schedules()
        supervisor = threading.Thread(target=self._supervise, name="retouch-supervisor", daemon=True)
        supervisor.start()
        self._threads.append(supervisor)
        logger.debug("embedded stack started", extra={"endpoint": self.endpoint, "api": self.api_url})
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._api_server:
            self._api_server.shutdown()  # ends serve_forever: its thread is joined at once below
            self._api_server.server_close()
        for procs in self.workers.values():
            for p in procs:
                if p.is_alive():
                    p.terminate()
        if self.moto:
            self.moto.terminate()  # it stops while the rest is joined
        for t in self._threads:
            t.join(timeout=5)
        for procs in self.workers.values():
            for p in procs:
                p.join(timeout=5)
        for pool in list(self._api_pools.values()):
            pool.shutdown(cancel_futures=True)
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
        )

    def _start_schedules(self) -> None:
        """One process per scheduled function; the supervisor restarts it if it dies."""
        assert self.model is not None
        for fn in self.model.functions.values():
            for interval in fn.schedules:
                self.workers[f"{fn.logical_id}:schedule"] = [self._schedule_process(fn.logical_id, interval)]

    def _schedule_process(self, function: str, interval: float) -> BaseProcess:
        proc = self._mp.Process(
            target=rt.schedule_worker,
            args=(self.runtime(function), self.schedule_seconds or interval),
            name=f"{function}-schedule",
            daemon=True,
        )
        proc.start()
        return proc

    def _supervise_schedules(self) -> None:
        assert self.model is not None
        for fn in self.model.functions.values():
            for interval in fn.schedules:
                name = f"{fn.logical_id}:schedule"
                procs = self.workers.get(name, [])
                for p in procs:
                    if not p.is_alive():
                        p.join(0)
                alive = [p for p in procs if p.is_alive()]
                if not alive and name not in self.paused and not self._stop.is_set():
                    logger.warning("restarting a scheduled function", extra={"function": fn.logical_id})
                    alive = [self._schedule_process(fn.logical_id, interval)]
                self.workers[name] = alive

    # --- event source mappings ----------------------------------------------------------------
    def pause(self, function: str) -> None:
        """Stop a function's workers (as if it were down); its messages wait in the queue."""
        self.paused.add(function)
        for p in self.workers.get(function, []):
            p.terminate()

    def resume(self, function: str) -> None:
        self.paused.discard(function)

    def kill_worker(self, function: str) -> int | None:
        """``kill -9`` one live worker of ``function``; returns its pid."""
        for p in self.workers.get(function, []):
            if p.is_alive() and p.pid:
                os.kill(p.pid, 9)
                return p.pid
        return None

    def _supervise(self) -> None:
        assert self.model is not None
        sqs = self.client("sqs")
        # The API's processes start before the queues' workers: creating the job is the first
        # thing every client does, and on two cores the workers starting beside them (5 more
        # interpreters, each importing its handler and making its clients) delayed it by
        # seconds. The workers start as soon as the API is up, while the client uploads.
        while self._api_warming and not self._stop.is_set() and wait(self._api_warming, timeout=0.1).not_done:
            pass
        while not self._stop.is_set():
            try:
                self._supervise_schedules()
            except Exception:  # noqa: BLE001 - the supervisor must keep going
                logger.exception("supervisor step failed", extra={"function": "schedules"})
            for fn in self.model.functions.values():
                for source in fn.sqs:
                    try:
                        self._scale(fn.logical_id, source, sqs)
                    except Exception:  # noqa: BLE001 - the supervisor must keep going
                        logger.exception("supervisor step failed", extra={"function": fn.logical_id})
            # each round asks the emulator for every queue's depth; one function's first poller
            # always runs, so a new message never waits for this loop, only extra workers do
            self._stop.wait(SCALE_EVERY_SECONDS)

    def _scale(self, function: str, source: Any, sqs: Any) -> None:
        alive = [p for p in self.workers.get(function, []) if p.is_alive()]
        for p in self.workers.get(function, []):
            if not p.is_alive():
                p.join(0)
        self.workers[function] = alive
        if function in self.paused:
            return
        attrs = sqs.get_queue_attributes(QueueUrl=self.queue_url(source.queue), AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]
        depth = int(attrs.get("ApproximateNumberOfMessages", 0))
        limit = min(source.max_concurrency, self.max_workers)
        desired = min(limit, max(1, math.ceil(depth / max(1, source.batch_size))))
        for n in range(len(alive), desired):
            poller = rt.SqsPoller(
                queue_url=self.queue_url(source.queue),
                queue_arn=self.queue_arn(source.queue),
                batch_size=source.batch_size,
                window_seconds=source.window_seconds,
                report_failures=source.report_failures,
                region=self.region,
                duplicate=self.duplicate_deliveries,
                lease_seconds=int(self.function_env(function).get("VISIBILITY_LEASE_SECONDS") or 0) or None,
            )
            keep_alive = n == 0 and not any(True for _ in alive)
            proc = self._mp.Process(
                target=rt.sqs_worker, args=(self.runtime(function), poller, keep_alive), name=f"{function}-worker", daemon=True
            )
            proc.start()
            alive.append(proc)

    # --- WebSocket API ------------------------------------------------------------------------
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

    @property
    def websocket_url(self) -> str | None:
        return self._websocket.url if self._websocket is not None else None

    # --- HTTP API -----------------------------------------------------------------------------
    def _start_api(self) -> None:
        assert self.model is not None
        stack = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if not stack._ready.wait(READY_WAIT_SECONDS):  # (a stack still starting after that failed)
                    starting = "Service Unavailable: the local stack is still starting"
                    stack._refuse(self, 503, starting, {"Retry-After": "5"}, unread=1)
                    return
                stack._handle_http(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_TRACE = do_GET

            def __getattr__(self, name: str) -> Any:
                # any other method (QUERY, PROPFIND...) is routed too: known paths answer 405
                if name.startswith("do_"):
                    return self.do_GET
                raise AttributeError(name)

            def do_OPTIONS(self) -> None:
                stack._ready.wait(READY_WAIT_SECONDS)
                stack._preflight(self)

        self._api_server = QuietHTTPServer(("127.0.0.1", self.api_port), Handler)
        self._api_server.daemon_threads = True
        serve = functools.partial(self._api_server.serve_forever, poll_interval=SERVER_POLL_SECONDS)
        t = threading.Thread(target=serve, name="retouch-api", daemon=True)
        t.start()
        self._threads.append(t)

    def _warm_api(self) -> None:
        """Start the jobs API's processes now, not on the first request (as a provisioned
        Lambda would): the first thing every client does is create a job."""
        assert self.model is not None
        for fn in self.model.functions.values():
            if any(r.path.startswith("/jobs") for r in fn.routes):
                pool = self._api_pool(fn.logical_id)
                self._api_warming += [pool.submit(rt.api_worker_ready) for _ in range(API_PROCESSES)]

    def _api_pool(self, function: str, *, renew: bool = False) -> ProcessPoolExecutor:
        """The function's worker pool (its processes start on the first request); a new one if ``renew``."""
        with self._api_lock:
            pool = self._api_pools.get(function)
            if pool is None or renew:
                pool = self._api_pools[function] = ProcessPoolExecutor(
                    max_workers=API_PROCESSES,
                    mp_context=self._mp,
                    initializer=rt.api_worker_init,
                    initargs=(self.runtime(function),),
                )
            return pool

    def _serve_static(self, req: BaseHTTPRequestHandler, path: str) -> bool:
        """The web page and its assets (GET/HEAD of a file under ``retouch/web``), as CloudFront
        serves them on AWS; ``/config.json`` tells the page how to sign in (locally: ``?token=``)."""
        if req.command not in ("GET", "HEAD"):
            return False
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
        if path == "/config.json":
            body, headers["Content-Type"] = json.dumps({"api_url": "", "auth": {"mode": "token"}}).encode(), "application/json"
        else:
            target = (WEB_ROOT / ("index.html" if path == "/" else path.lstrip("/"))).resolve()
            if not target.is_relative_to(WEB_ROOT) or not target.is_file() or target.suffix not in STATIC_TYPES:
                return False
            body, headers["Content-Type"] = target.read_bytes(), STATIC_TYPES[target.suffix]
            if target.suffix == ".html":
                ws = f" ws://{urlsplit(self._websocket.url).netloc}" if self._websocket is not None else ""
                headers["Content-Security-Policy"] = (
                    f"default-src 'self'; img-src 'self' blob: data: {self.endpoint}; connect-src 'self' {self.endpoint}{ws}; "
                    "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
                    "frame-ancestors 'none'"
                )
        if req.command == "HEAD":
            req.send_response(200)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                req.send_header(k, v)
            req.end_headers()
        else:
            self._reply(req, 200, body, headers)
        return True

    def _cors_headers(self, origin: str | None) -> dict[str, str]:
        assert self.model is not None
        cors = self.model.api_cors
        allowed = cors.get("AllowOrigins", [])
        if not origin or not cors or ("*" not in allowed and origin not in allowed):
            return {}
        return {
            "Access-Control-Allow-Origin": "*" if "*" in allowed else origin,
            "Access-Control-Allow-Methods": ",".join(cors.get("AllowMethods", [])),
            "Access-Control-Allow-Headers": ",".join(cors.get("AllowHeaders", [])),
            "Access-Control-Max-Age": str(cors.get("MaxAge", 0)),
            "Vary": "Origin",
        }

    def _preflight(self, req: BaseHTTPRequestHandler) -> None:
        self._reply(req, 204, b"", {**self._cors_headers(req.headers.get("Origin"))})

    def _reply(self, req: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        req.send_response(status)
        for k, v in headers.items():
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def _refuse(self, req: BaseHTTPRequestHandler, status: int, message: str, headers: dict[str, str], unread: int = 0) -> None:
        """An error answered before the body was read: the connection closes after it (an unread
        body would otherwise be taken for the next request)."""
        if unread or status == 400:
            req.close_connection = True
            headers = {**headers, "Connection": "close"}
        self._reply(req, status, json.dumps({"message": message}).encode(), {"Content-Type": "application/json", **headers})

    def _handle_http(self, req: BaseHTTPRequestHandler) -> None:
        assert self.model is not None
        cors = self._cors_headers(req.headers.get("Origin"))
        parts = urlsplit(req.path)
        route = params = function = None
        allowed = set()
        for fn in self.model.functions.values():
            for r in fn.routes:
                m = r.pattern.match(parts.path)
                if m:
                    allowed.add(r.method)
                if m and r.method == req.command:
                    route, params, function = r, m.groupdict(), fn.logical_id
        length, problem = body_length(req.headers)
        if problem is not None:  # as API Gateway: a framing error is the client's, answered before anything else
            self._refuse(req, 400, problem, cors)
            return
        if route is None and not allowed and not length and self._serve_static(req, parts.path):
            return
        if route is None and allowed:
            self._refuse(req, 405, "Method Not Allowed", {"Allow": ", ".join(sorted(allowed)), **cors}, unread=length)
            return
        if route is None:
            self._refuse(req, 404, "Not Found", cors, unread=length)
            return
        caller = self.authenticate(bearer(req.headers.get("Authorization")))
        sub, kind = caller if caller else (None, "user")
        if sub is None and route.authorized:  # the token is checked before the body is read
            self._refuse(req, 401, "Unauthorized", cors, unread=length)
            return
        if length > MAX_API_BODY:
            self._refuse(req, 413, "Request Entity Too Large", cors, unread=length)
            return
        body = req.rfile.read(length) if length else b""
        event = http_api_event(
            method=route.method,
            route_path=route.path,
            path=parts.path,
            query=parts.query,
            headers=dict(req.headers.items()),
            body=body,
            path_params=params or {},
            sub=sub,
            source_ip=req.client_address[0],
            auth=kind,
        )
        content_type = req.headers.get("Content-Type", "").lower()
        if body and content_type and not content_type.startswith(TEXT_BODY_TYPES):
            event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)  # as API Gateway passes binary
        assert function is not None
        try:
            response = self._api_pool(function).submit(rt.api_worker_invoke, event).result(timeout=60)
        except BrokenProcessPool:
            self._api_pool(function, renew=True)
            self._reply(req, 502, b'{"message":"Internal Server Error"}', {"Content-Type": "application/json", **cors})
            return
        except Exception:  # noqa: BLE001 - like API Gateway, a crashing function is a 500
            logger.exception("API function failed")
            self._reply(req, 500, b'{"message":"Internal Server Error"}', {"Content-Type": "application/json", **cors})
            return
        headers = {k: str(v) for k, v in (response.get("headers") or {}).items()}
        headers.update(cors)
        payload = response.get("body") or ""
        data = payload.encode() if isinstance(payload, str) else payload
        if response.get("isBase64Encoded"):
            data = base64.b64decode(data)
        self._reply(req, int(response.get("statusCode", 200)), data, headers)

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
