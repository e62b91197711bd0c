"""``retouch run`` and ``retouch download``: a run that never loses work.

A *run* is every input of one command, however many jobs it takes; its state is the manifest,
``<out>/job.json`` (:mod:`retouch.cli.manifest`), saved atomically as the run goes. Outputs are
downloaded as soon as each image finishes, while the job still runs.

Interrupted (Ctrl-C, SIGTERM, ``--timeout``), a run stops with what it has saved and a manifest
that says what is pending. Run the same command again (or ``retouch run --resume OUT``) and it
skips finished outputs, follows its jobs that still exist on the service, and submits only what
never got in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retouch.cli.client import ApiError, RetouchClient
from retouch.cli.files import content_type, name_fits, unique_names
from retouch.cli.manifest import FAILED, PENDING, SUBMITTED, SUCCEEDED, Entry, Manifest
from retouch.models import OUTPUT_FORMATS

POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 3.0
SAFETY_POLL_SECONDS = 10.0
"""Jobs followed over the WebSocket are still polled this often, in case an event was missed."""
PUSH_COALESCE_SECONDS = 1.0
"""Events that cannot be used as they are (see :meth:`Run._usable`) are read in one ``GET
/jobs/{id}`` (every page of the job, a signed URL per output): at most one per job per second,
and at once for the last."""
SAVE_EVERY_SECONDS = 1.0


@dataclass
class Progress:
    """What the run reports as it goes (a progress bar, or plain lines)."""

    start: Callable[[str, int], None] = lambda phase, total: None
    advance: Callable[[str, int], None] = lambda phase, n: None
    note: Callable[[str], None] = lambda message: None


class Run:
    """Submit, follow and download one run's entries; see the module docstring."""

    def __init__(
        self,
        client: RetouchClient,
        manifest: Manifest,
        out_dir: Path,
        *,
        job_size: int = 1000,
        parallel: int = 8,
        timeout: float = 3600,
        progress: Progress | None = None,
    ) -> None:
        self.client, self.manifest, self.out_dir = client, manifest, out_dir
        self.job_size, self.parallel, self.timeout = job_size, parallel, timeout
        self.progress = progress or Progress()
        self._lock = threading.RLock()
        self._saved_at = 0.0
        self._stop = threading.Event()
        self._active: dict[str, dict[str, Entry]] = {}
        """job id -> image id -> entry, for entries still to finish."""
        self._downloads: dict[str, Future[None]] = {}
        self._sizes: dict[str, int] = {}
        """job id -> its number of images (what one poll of it costs)."""
        self._wake = threading.Event()
        """Set when a followed job has news (a WebSocket event): poll now rather than later."""
        self._dirty: set[str] = set()
        self._finished: set[str] = set()
        """Jobs whose completion event arrived (read at once, without waiting to coalesce)."""
        self._polled_at: dict[str, float] = {}
        """Jobs with events not yet polled for."""
        self._pushed: set[str] = set()
        """Jobs followed over the WebSocket (polled on news, and slowly for safety)."""
        self._events: dict[str, list[dict[str, Any]]] = {}
        """Image events received over the WebSocket, not handled yet: each says how its image
        ended, with its download URL, so it needs no ``GET /jobs/{id}``."""

    # --- the run --------------------------------------------------------------------------
    def execute(self) -> Manifest:
        """Run to the end, or until interrupted (``KeyboardInterrupt`` propagates after the
        manifest is saved) or timed out (``state`` is then ``incomplete``)."""
        m = self.manifest
        for e in m.entries:
            if e.status != SUCCEEDED and not name_fits(e.output_name):  # named by an older retouch
                taken = [other.output_name for other in m.entries if other is not e]
                e.output_name = unique_names([e.output_name], taken)[0]
            if e.status == FAILED and e.retry:
                e.status, e.error, e.retry = PENDING, None, False
            if e.status == SUCCEEDED and not (e.output and Path(e.output).is_file()):
                e.status, e.output = PENDING, None  # its output was removed: make it again
        started = time.monotonic()
        already = sum(e.status == SUCCEEDED for e in m.entries)
        self.progress.start("processing", len(m.entries))
        self.progress.advance("processing", sum(e.status in (SUCCEEDED, FAILED) for e in m.entries))
        self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="transfer")
        submitter = threading.Thread(target=self._submit_all, name="submitter", daemon=True)
        try:
            self._reattach()
            submitter.start()
            self._follow(submitter, started)
        except BaseException:
            m.state = "incomplete"
            raise
        finally:
            self._stop.set()
            # transfers in flight finish (a download lands whole or not at all); queued ones are dropped
            self._pool.shutdown(wait=True, cancel_futures=True)
            if submitter.is_alive():
                submitter.join()
            for e in m.entries:
                if e.status == SUBMITTED and not e.uploaded:
                    e.status, e.job_id, e.image_id = PENDING, None, None  # never got in: submit again
            m.timings["total_seconds"] = round(time.monotonic() - started, 3)
            made = sum(e.status == SUCCEEDED for e in m.entries) - already
            m.timings["images_per_second"] = round(made / max(m.timings["total_seconds"], 1e-9), 2)
            if m.state == "running":
                m.state = "complete" if m.counts()[PENDING] + m.counts()[SUBMITTED] == 0 else "incomplete"
            with self._lock:
                m.save(self.out_dir)
        return m

    def _reattach(self) -> None:
        """Entries of earlier jobs: follow those the service still has, resubmit the rest."""
        by_job: dict[str, list[Entry]] = {}
        for e in self.manifest.entries:
            if e.status == SUBMITTED and e.job_id:
                by_job.setdefault(e.job_id, []).append(e)
        for job_id, entries in by_job.items():
            try:
                status = self.client.job(job_id)
                self._sizes[job_id] = len(status["images"])
            except ApiError as exc:
                if exc.status != 404:
                    raise
                self.progress.note(f"job {job_id} is no longer on the service; its {len(entries)} unfinished images go again")
                for e in entries:
                    e.status, e.job_id, e.image_id, e.uploaded = PENDING, None, None, False
                continue
            for e in entries:
                if not e.uploaded:  # its upload never completed: it goes again in a new job
                    e.status, e.job_id, e.image_id = PENDING, None, None
            follow = {e.image_id: e for e in entries if e.status == SUBMITTED and e.image_id}
            if follow:
                done = {i["image_id"] for i in status["images"] if i["status"] in (SUCCEEDED, FAILED)}
                ready, running = sum(i in done for i in follow), sum(i not in done for i in follow)
                if running:
                    self.progress.note(f"following job {job_id}: {running} images still processing, {ready} finished to fetch")
                else:
                    self.progress.note(f"job {job_id} is finished: fetching its {ready} outputs")
                with self._lock:
                    self._active[job_id] = follow
                self._watch(job_id, status.get("websocket_url"))

    def _submit_all(self) -> None:
        if self._stop.is_set():
            return
        try:
            pending = [e for e in self.manifest.entries if e.status == PENDING]
            for start in range(0, len(pending), self.job_size):
                if self._stop.is_set():
                    return
                self._submit(pending[start : start + self.job_size])
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            if not self._stop.is_set():  # (once stopping, cancelled uploads are expected)
                self._submit_error = exc

    _submit_error: BaseException | None = None

    def _submit(self, chunk: list[Entry]) -> None:
        types = [content_type(Path(e.input)) for e in chunk]
        images = [
            {"name": e.name, "content_type": t, "size": Path(e.input).stat().st_size} for e, t in zip(chunk, types, strict=True)
        ]
        job = self.client.create_job(images, self.manifest.operations, self.manifest.output)
        job_id = job["job_id"]
        with self._lock:
            for e, form in zip(chunk, job["uploads"], strict=True):
                e.status, e.job_id, e.image_id, e.uploaded = SUBMITTED, job_id, form["image_id"], False
            self.manifest.jobs.append(job_id)
            self.manifest.save(self.out_dir)  # the job id is on disk before any byte is sent
            self._active[job_id] = {e.image_id: e for e in chunk if e.image_id}
            self._sizes[job_id] = len(chunk)
        self._watch(job_id, job.get("websocket_url"))
        ops = " -> ".join(o["op"] for o in job["operations"])
        self.progress.note(f"job {job_id}: {len(chunk)} images, operations: {ops}")
        self.progress.start("uploading", len(chunk))

        def upload(e: Entry, form: dict[str, Any], ctype: str) -> None:
            if self._stop.is_set():
                return
            try:
                self.client.upload(form, Path(e.input), ctype)
            except (ApiError, OSError) as exc:
                with self._lock:
                    e.status, e.error, e.retry = FAILED, f"upload failed: {exc}", True
                    self._active.get(job_id, {}).pop(e.image_id or "", None)
                self.progress.advance("processing", 1)
            else:
                with self._lock:
                    e.uploaded = True
            self.progress.advance("uploading", 1)

        futures = [self._pool.submit(upload, e, u, t) for e, u, t in zip(chunk, job["uploads"], types, strict=True)]
        for f in futures:
            f.result()

    def _follow(self, submitter: threading.Thread, started: float) -> None:
        """Follow the active jobs (woken by their WebSocket events, else polling), download each
        output as it appears, until nothing is left."""
        safety_poll, last_poll = True, time.monotonic()
        while True:
            if self._submit_error is not None:
                raise self._submit_error
            now = time.monotonic()
            with self._lock:
                events, self._events = self._events, {}
                active = {j: dict(images) for j, images in self._active.items()}
            for job_id, pushed in events.items():
                for event in pushed:
                    self._take(job_id, event, active.get(job_id, {}))
            with self._lock:
                due = safety_poll or not self._pushed
                news = {j for j in self._dirty if j in self._finished or now - self._polled_at.get(j, 0) >= PUSH_COALESCE_SECONDS}
                self._dirty -= news
                # (an image whose download runs is known: a job whose others all are needs no read)
                waiting = {j: {i: e for i, e in images.items() if i not in self._downloads} for j, images in active.items()}
            for job_id, images in waiting.items():
                if images and (due or job_id in news or job_id not in self._pushed):
                    self._polled_at[job_id] = now
                    self._poll(job_id, images)
            last_poll = time.monotonic() if due else last_poll
            self._collect_downloads()
            self._save_soon()
            with self._lock:
                for job_id in [j for j, images in self._active.items() if not images]:
                    del self._active[job_id]
                idle = not self._active and not self._downloads
            if idle and not submitter.is_alive():
                if self._submit_error is not None:
                    raise self._submit_error
                return
            if time.monotonic() - started > self.timeout:
                self._stop.set()
                self.manifest.state = "incomplete"
                self.progress.note(f"stopped waiting after {self.timeout:.0f} s")
                return
            self._wake.wait(self._poll_interval())
            self._wake.clear()
            safety_poll = time.monotonic() - last_poll > SAFETY_POLL_SECONDS

    def _watch(self, job_id: str, websocket_url: str | None) -> None:
        """Follow a job's events over the WebSocket in the background; each event wakes the
        main loop, which then polls that job (for its download URLs). If the WebSocket cannot be
        used, the job is simply polled."""
        if not websocket_url:
            return

        def watch() -> None:
            try:
                for event in self.client.follow(websocket_url, job_id, timeout=None, stop=self._stop):
                    with self._lock:
                        if self._usable(event):
                            self._events.setdefault(job_id, []).append(event)
                        else:
                            self._dirty.add(job_id)
                        if event["type"] == "job":
                            self._dirty.add(job_id)  # read once if an image is still unaccounted for
                            self._finished.add(job_id)
                    self._wake.set()
            except Exception as exc:  # noqa: BLE001 - any failure of the push path: poll instead
                if not self._stop.is_set():
                    self.progress.note(f"job {job_id}: live updates unavailable ({type(exc).__name__}); polling")
            finally:
                with self._lock:
                    self._pushed.discard(job_id)
                    self._dirty.add(job_id)
                self._wake.set()

        with self._lock:
            self._pushed.add(job_id)
        threading.Thread(target=watch, name=f"follow-{job_id}", daemon=True).start()

    @staticmethod
    def _usable(event: dict[str, Any]) -> bool:
        """An image event that says all the run needs of its image: failed, or succeeded with
        the URL of its output (an event without one, the job's own event, or anything else is
        read with ``GET /jobs/{id}``)."""
        if event.get("type") != "image" or not event.get("image_id"):
            return False
        return event.get("status") == FAILED or (event.get("status") == SUCCEEDED and bool(event.get("download_url")))

    def _poll_interval(self) -> float:
        """Every poll costs the service a read of the whole job and a signed URL per output, so
        big jobs are polled less often: 0.5 s for a few images, up to 3 s for 1,000."""
        with self._lock:
            if self._events:
                return 0.0
            if self._downloads:
                return POLL_SECONDS  # downloads to collect
            if self._dirty:  # news held back to be read together: read it when its second is up
                now = time.monotonic()
                return max(0.05, min(PUSH_COALESCE_SECONDS - (now - self._polled_at.get(j, 0)) for j in self._dirty))
            polled = {j: w for j, w in self._active.items() if j not in self._pushed}
            if not polled and self._active:
                return SAFETY_POLL_SECONDS  # everything is pushed: wait for news
            images = sum(self._sizes.get(job_id, len(waiting)) for job_id, waiting in polled.items())
        return min(MAX_POLL_SECONDS, POLL_SECONDS + images / 400)

    def _poll(self, job_id: str, waiting: dict[str, Entry]) -> None:
        try:
            status = self.client.job(job_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
            with self._lock:  # the job expired on the service
                for e in waiting.values():
                    e.status, e.error, e.retry = FAILED, "the job is no longer on the service", True
                self._active.pop(job_id, None)
            return
        for img in status["images"]:
            self._take(job_id, img, waiting)

    def _take(self, job_id: str, img: dict[str, Any], waiting: dict[str, Entry]) -> None:
        """One image as the job's status or its event tells it: failed, or its output downloaded."""
        e = waiting.get(img["image_id"])
        if e is None or img["status"] not in (SUCCEEDED, FAILED) or img["image_id"] in self._downloads:
            return
        for key in ("width", "height", "bytes", "duration_ms"):
            setattr(e, key, img.get(key))
        outcome = img.get("outcome")
        e.outcome = outcome if isinstance(outcome, dict) else None
        if img["status"] == FAILED:
            with self._lock:
                e.status, e.error = FAILED, img.get("error", "failed")
                self._active.get(job_id, {}).pop(e.image_id or "", None)
            self.progress.advance("processing", 1)
        else:
            fmt = img.get("format") or next(
                (f for f, ext in OUTPUT_FORMATS.items() if str(img.get("output_name", "")).endswith("." + ext)), None
            )
            self._name_for_format(e, fmt)
            self._downloads[img["image_id"]] = self._pool.submit(self._download, job_id, e, img["download_url"])

    def _name_for_format(self, e: Entry, fmt: str | None) -> None:
        """The service decides an ``auto`` output's format: a provisional name with another
        extension takes the right one (still unique in the run)."""
        extension = OUTPUT_FORMATS.get(fmt or "")
        if extension is None or Path(e.output_name).suffix == "." + extension:
            return
        with self._lock:
            taken = [other.output_name for other in self.manifest.entries if other is not e]
            e.output_name = unique_names([str(Path(e.output_name).with_suffix("." + extension))], taken)[0]

    def _download(self, job_id: str, e: Entry, url: str) -> None:
        dest = self.out_dir / e.output_name
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.client.download(url, dest)
        except (ApiError, OSError) as exc:
            with self._lock:
                e.status, e.error, e.retry = FAILED, f"download failed: {exc}", True
        else:
            with self._lock:
                e.status, e.output, e.error = SUCCEEDED, str(dest), None
        with self._lock:
            self._active.get(job_id, {}).pop(e.image_id or "", None)
        self.progress.advance("processing", 1)

    def _collect_downloads(self) -> None:
        for image_id, future in list(self._downloads.items()):
            if future.done():
                future.result()
                del self._downloads[image_id]

    def _save_soon(self) -> None:
        if time.monotonic() - self._saved_at >= SAVE_EVERY_SECONDS:
            with self._lock:
                self.manifest.save(self.out_dir)
            self._saved_at = time.monotonic()
