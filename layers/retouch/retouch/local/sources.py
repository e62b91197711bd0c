"""The embedded stack's event sources: Lambda's SQS event source mappings and EventBridge
schedules, as supervised worker processes.

* Every SQS event source of a function becomes a pool of worker processes (see
  :mod:`retouch.local.lambda_runtime`), scaled with the queue depth up to the source's
  ``ScalingConfig.MaximumConcurrency`` (capped locally by the number of cores). One poller per
  source always runs, so a new message never waits for the supervisor, only extra workers do.
* Every ``Schedule`` event of a function becomes one process invoking it at that rate; the
  supervisor restarts it if it dies.
* A function (or a schedule, ``<function>:schedule``) can be paused as if it were down: its
  workers stop and its messages wait in the queue.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

from retouch.local import lambda_runtime as rt
from retouch.local.template import SqsSource, StackModel
from retouch.observability import logger

SCALE_EVERY_SECONDS = 1.0
"""How often the supervisor looks at queue depths to add pollers (Lambda's scaling looks about
as often; every look costs the emulator one request per queue whose pollers filled a batch)."""


@dataclass
class Wiring:
    """What the event sources need of the stack (its names and the functions' runtimes)."""

    runtime: Callable[[str], rt.FunctionRuntime]
    queue_url: Callable[[str], str]
    queue_arn: Callable[[str], str]
    sqs: Callable[[], Any]
    """A new SQS client of the emulator."""
    region: str = "us-east-1"
    max_workers: int = 2
    duplicate_deliveries: bool = False
    """Deliver every SQS batch twice (at-least-once delivery at its worst)."""
    schedule_seconds: float | None = None
    """Run scheduled functions this often instead of the template's rate (tests)."""
    paused: set[str] = field(default_factory=set)


class EventSources:
    """The worker processes of every SQS event source and schedule of ``model``."""

    def __init__(self, model: StackModel, wiring: Wiring, mp_context: Any) -> None:
        self.model = model
        self.wiring = wiring
        self.paused = wiring.paused
        self.mp = mp_context
        self.workers: dict[str, list[BaseProcess]] = {}
        """Live (and not yet reaped) processes per function, and per ``<function>:schedule``."""
        self.backlog: dict[str, Any] = {}
        """Per function, a flag in shared memory its pollers set when a receive filled a whole
        batch: the queue may hold more than they take. The supervisor asks the queue's depth (a
        request to the emulator) to add pollers only then, not every second for every queue."""

    # --- control ------------------------------------------------------------------------------
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

    def terminate(self) -> None:
        """Ask every worker to stop (without waiting: :meth:`join` does)."""
        for procs in self.workers.values():
            for p in procs:
                if p.is_alive():
                    p.terminate()

    def join(self, timeout: float = 5) -> None:
        for procs in self.workers.values():
            for p in procs:
                p.join(timeout=timeout)

    # --- supervision --------------------------------------------------------------------------
    def supervise(self, stop: threading.Event, after: list[Future[bool]]) -> None:
        """Keep the schedules' processes running, and every queue's workers running and scaled
        with its depth, until ``stop`` (no step starts a process once it is set).

        The workers wait for ``after`` (the API's processes starting): creating the job is the
        first thing every client does, and on two cores the workers starting beside them (5 more
        interpreters, each importing its handler and making its clients) delayed it by seconds.
        The workers start as soon as the API is up, while the client uploads."""
        sqs = self.wiring.sqs()
        while after and not stop.is_set() and wait(after, timeout=0.1).not_done:
            pass
        while not stop.is_set():
            steps = [("schedules", functools.partial(self.supervise_schedules, stop))]
            for fn in self.model.functions.values():
                steps += [(fn.logical_id, functools.partial(self.scale, fn.logical_id, source, sqs)) for source in fn.sqs]
            for function, step in steps:
                if stop.is_set():
                    return
                try:
                    step()
                except Exception:  # noqa: BLE001 - the supervisor must keep going
                    if not stop.is_set():  # (stopping: the emulator may be gone already)
                        logger.exception("supervisor step failed", extra={"function": function})
            # each round may ask the emulator for a queue's depth; one function's first poller
            # always runs, so a new message never waits for this loop, only extra workers do
            stop.wait(SCALE_EVERY_SECONDS)

    def scale(self, function: str, source: SqsSource, sqs: Any) -> None:
        """Reap ``function``'s dead workers and start pollers up to what the queue's depth asks for."""
        alive = [p for p in self.workers.get(function, []) if p.is_alive()]
        for p in self.workers.get(function, []):
            if not p.is_alive():
                p.join(0)
        self.workers[function] = alive
        if function in self.paused:
            return
        w = self.wiring
        limit = min(source.max_concurrency, w.max_workers)
        if len(alive) >= limit:
            return  # as many as it may have: no need to ask the emulator for the queue's depth
        backlog = self.backlog.setdefault(function, self.mp.RawValue("b", 0))
        if alive and not backlog.value:
            return  # its pollers keep up (no full batch since the last look): the depth is not needed
        backlog.value = 0
        url = w.queue_url(source.queue)
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        depth = int(attrs.get("ApproximateNumberOfMessages", 0))
        desired = min(limit, max(1, math.ceil(depth / max(1, source.batch_size))))
        for n in range(len(alive), desired):
            runtime = w.runtime(function)
            poller = rt.SqsPoller(
                queue_url=url,
                queue_arn=w.queue_arn(source.queue),
                batch_size=source.batch_size,
                window_seconds=source.window_seconds,
                report_failures=source.report_failures,
                region=w.region,
                duplicate=w.duplicate_deliveries,
                lease_seconds=int(runtime.environment.get("VISIBILITY_LEASE_SECONDS") or 0) or None,
            )
            keep_alive = n == 0 and not alive
            args = (runtime, poller, keep_alive, backlog)
            proc = self.mp.Process(target=rt.sqs_worker, args=args, name=f"{function}-worker", daemon=True)
            proc.start()
            alive.append(proc)

    # --- schedules ----------------------------------------------------------------------------
    def start_schedules(self) -> None:
        """One process per scheduled function; the supervisor restarts it if it dies."""
        for fn in self.model.functions.values():
            for interval in fn.schedules:
                self.workers[f"{fn.logical_id}:schedule"] = [self._schedule_process(fn.logical_id, interval)]

    def _schedule_process(self, function: str, interval: float) -> BaseProcess:
        proc = self.mp.Process(
            target=rt.schedule_worker,
            args=(self.wiring.runtime(function), self.wiring.schedule_seconds or interval),
            name=f"{function}-schedule",
            daemon=True,
        )
        proc.start()
        return proc

    def supervise_schedules(self, stop: threading.Event) -> None:
        for fn in self.model.functions.values():
            for interval in fn.schedules:
                name = f"{fn.logical_id}:schedule"
                procs = self.workers.get(name, [])
                for p in procs:
                    if not p.is_alive():
                        p.join(0)
                alive = [p for p in procs if p.is_alive()]
                if not alive and name not in self.paused and not stop.is_set():
                    logger.warning("restarting a scheduled function", extra={"function": fn.logical_id})
                    alive = [self._schedule_process(fn.logical_id, interval)]
                self.workers[name] = alive
