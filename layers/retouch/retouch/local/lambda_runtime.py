"""Running handler code as Lambda would, in worker processes the embedded stack starts.

* :func:`load_handler` imports ``CodeUri/app.py`` by file path (as Lambda does with its task
  root), after the function's environment is in place, and makes the AWS clients
  (:func:`provision`): function processes start before traffic and stay warm.
* :func:`sqs_worker` is one event-source-mapping poller plus its function: it long-polls the
  queue, gathers a batch (``BatchSize``, ``MaximumBatchingWindowInSeconds``), invokes the
  handler with a Lambda-shaped SQS event and deletes what succeeded - everything, or all but
  the reported ``batchItemFailures``; nothing if the handler raised. A worker that dies
  (even ``kill -9``) loses nothing: its messages reappear after the visibility timeout.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from retouch import faults
from retouch.local.events import sqs_event


@dataclass
class FakeContext:
    """The parts of ``LambdaContext`` that Powertools and our code use."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:123456789012:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class FunctionRuntime:
    """What a worker process needs to run one function."""

    name: str
    module_path: str
    handler_name: str
    environment: dict[str, str]
    timeout: int
    memory: int
    log_path: str | None = None
    stack_pid: int = field(default_factory=os.getpid)
    """The stack's process: the function's process ends when it does."""
    cpus: float | None = None
    """The cores one process of this function may use (:func:`cpu_share`); None: all of them."""


LAMBDA_MB_PER_VCPU = 1769
"""Lambda gives a function one vCPU per 1,769 MB of memory (up to 6), in proportion."""


def cpu_share(memory_mb: int, cores: int, concurrent: int) -> float:
    """The cores one process of a function may use: what Lambda gives its ``memory_mb``, and no
    more than this machine's ``cores`` shared by the ``concurrent`` processes that render at
    once. On AWS every execution environment has its own vCPUs; here they share the machine."""
    return max(1.0, min(memory_mb / LAMBDA_MB_PER_VCPU, 6.0, cores / max(1, concurrent)))


def limit_threads(cpus: float | None) -> None:
    """Size OpenCV's thread pool to the function's share of the cores (``cpus``, rounded down).

    OpenCV starts one thread per core of the machine in every process. With two function
    processes rendering at once on two cores, each pool's threads wait on threads the other
    process has descheduled, and the cores spend time switching: one thread per process on its
    own core does the same work with less CPU. cv2 is imported by the fork server
    (:data:`retouch.local.stack.PRELOAD`), so its pool is set here, in the forked process."""
    if cpus is None:
        return
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        cv2.setNumThreads(max(1, int(cpus)))


def stack_alive(pid: int) -> bool:
    """Whether the stack process ``pid`` still runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def watch_stack(pid: int, interval: float = 0.5) -> None:
    """Exit this process as soon as the stack process ``pid`` is gone, whatever killed it.

    The stack's pid, not the parent's: function processes are forked by multiprocessing's fork
    server, which lives as long as any of them does. A thread rather than
    ``PR_SET_PDEATHSIG``, which fires when the parent *thread* exits.
    """

    def watch() -> None:
        while stack_alive(pid):
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="stack-watchdog", daemon=True).start()


def prepare_process(runtime: FunctionRuntime) -> None:
    """Environment, log redirection and the stack watchdog for a fresh worker process."""
    watch_stack(runtime.stack_pid)
    os.environ.update(runtime.environment)
    limit_threads(runtime.cpus)
    if runtime.log_path:
        fd = os.open(runtime.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


def load_handler(runtime: FunctionRuntime) -> Callable[[dict[str, Any], Any], Any]:
    module_name = f"lambda_{runtime.name}"
    spec = importlib.util.spec_from_file_location(module_name, runtime.module_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {runtime.module_path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    provision()
    return getattr(module, runtime.handler_name)  # type: ignore[no-any-return]


PROVISIONED_CLIENTS = ("s3", "sqs", "dynamodb")


def provision() -> None:
    """Make the process's AWS clients now, before the first event, as a warm (provisioned)
    execution environment has them. The handlers make them lazily, on their first invocation,
    which kept their import light but put about 0.3 s per function on the critical path of a
    job's first image (API, enqueue, process, notify and push each paying it in turn). The
    session reads botocore's data from the fork server's :data:`~retouch.local.preload.LOADER`
    (already parsed) when this process was forked from it."""
    from retouch.adapters import aws

    preload = sys.modules.get("retouch.local.preload")
    if preload is not None:
        aws.session().register_component("data_loader", preload.LOADER)
    for service in PROVISIONED_CLIENTS:
        aws.client(service)


def invoke(handler: Callable[[dict[str, Any], Any], Any], runtime: FunctionRuntime, event: dict[str, Any]) -> Any:
    context = FakeContext(runtime.name, runtime.memory, runtime.timeout, aws_request_id=str(uuid.uuid4()))
    return handler(event, context)


# --- API worker (used through a process pool) ---------------------------------------------
_api_handler: Callable[[dict[str, Any], Any], Any] | None = None
_api_runtime: FunctionRuntime | None = None


def api_worker_init(runtime: FunctionRuntime) -> None:
    global _api_handler, _api_runtime
    prepare_process(runtime)
    _api_runtime = runtime
    _api_handler = load_handler(runtime)


def api_worker_invoke(event: dict[str, Any]) -> Any:
    assert _api_handler is not None and _api_runtime is not None
    return invoke(_api_handler, _api_runtime, event)


def api_worker_ready() -> bool:
    """A no-op that makes a pool start its process (and import its handler) ahead of traffic."""
    return _api_handler is not None


# --- SQS event source mapping ---------------------------------------------------------------
@dataclass(frozen=True)
class SqsPoller:
    queue_url: str
    queue_arn: str
    batch_size: int
    window_seconds: float
    report_failures: bool
    idle_exit_seconds: float = 20.0
    region: str = "us-east-1"
    duplicate: bool = False
    """Invoke every batch twice (tests of at-least-once delivery)."""
    lease_seconds: int | None = None
    """Receive with this visibility timeout instead of the queue's. Lambda's poller outlives a
    crashed function, but this one dies with its worker: a batch received by a worker killed
    before the function's own lease began would otherwise wait out the queue's long timeout."""


def sqs_worker(runtime: FunctionRuntime, poller: SqsPoller, keep_alive: bool, backlog: Any = None) -> None:
    """Process entry point: poll, invoke, delete; exit after being idle (unless ``keep_alive``).
    A whole batch received sets ``backlog`` (shared with the supervisor, which may add pollers)."""
    prepare_process(runtime)
    handler = load_handler(runtime)
    from retouch.adapters.aws import client  # made by load_handler (after the environment is set)

    sqs = client("sqs")
    idle_since = time.monotonic()
    while stack_alive(runtime.stack_pid):  # the stack went away (even by kill -9): stop polling
        batch = receive_batch(sqs, poller)
        if not batch:
            if not keep_alive and time.monotonic() - idle_since > poller.idle_exit_seconds:
                return
            continue
        idle_since = time.monotonic()
        if backlog is not None and len(batch) >= poller.batch_size:
            backlog.value = 1
        try:
            event = sqs_event(batch, poller.queue_arn, poller.region)
            if poller.duplicate:
                invoke(handler, runtime, event)
            response = invoke(handler, runtime, event)
        except Exception:  # noqa: BLE001 - a failed invocation leaves the whole batch for retry
            import traceback

            traceback.print_exc()
            continue
        failed = set()
        if poller.report_failures and isinstance(response, dict):
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        done = [m for m in batch if m["MessageId"] not in failed]
        for job_id in sorted({j for m in done for j in _JOB_IDS.findall(m["Body"])}):
            faults.point(f"{runtime.name.removesuffix('Function').lower()}.before_delete", job_id)
        for start in range(0, len(done), 10):
            entries: list[Any] = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ]
            sqs.delete_message_batch(QueueUrl=poller.queue_url, Entries=entries)


_JOB_IDS = re.compile(r"j-[0-9a-f]{32}")
IDLE_WAIT_SECONDS = 5
"""Long-poll wait of an idle poller (Lambda's pollers wait up to 20 s): every empty poll is a
request the emulator serves, so short waits on five idle queues cost it a core's worth of work."""


def receive_batch(sqs: Any, poller: SqsPoller) -> list[dict[str, Any]]:
    """Up to ``batch_size`` messages, gathered for at most the batching window once one arrived
    (as Lambda's poller does: a full batch goes at once, a partial one when its window is up).

    SQS long-polls in whole seconds, so the window's last fraction of a second is slept and
    then taken with one more receive. (Before, the wait was rounded down to 0 and a batch was
    only what the queue held at once: results that trickle in were handled one per invocation,
    each paying its receive, lease, reads, writes and delete.)"""
    messages: list[dict[str, Any]] = []
    deadline: float | None = None
    lease = {"VisibilityTimeout": poller.lease_seconds} if poller.lease_seconds else {}
    while len(messages) < poller.batch_size:
        wait = IDLE_WAIT_SECONDS
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if remaining < 1:
                time.sleep(remaining)
            wait = min(IDLE_WAIT_SECONDS, int(remaining))
        got = sqs.receive_message(
            QueueUrl=poller.queue_url,
            MaxNumberOfMessages=min(10, poller.batch_size - len(messages)),
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            **lease,
        ).get("Messages", [])
        messages.extend(got)
        if not messages:
            return messages
        if deadline is None:
            deadline = time.monotonic() + poller.window_seconds
    return messages


def schedule_worker(runtime: FunctionRuntime, interval: float) -> None:
    """Process entry point: invoke the handler with a scheduled event every ``interval`` s."""
    prepare_process(runtime)
    handler = load_handler(runtime)
    due = time.monotonic() + interval
    while stack_alive(runtime.stack_pid):
        time.sleep(min(1.0, max(0.0, due - time.monotonic())))
        if time.monotonic() < due:
            continue
        due += interval
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": os.environ.get("AWS_REGION", "us-east-1"),
            "resources": [],
            "detail": {},
        }
        try:
            invoke(handler, runtime, event)
        except Exception:  # noqa: BLE001 - a failed run is retried at the next interval
            import traceback

            traceback.print_exc()
