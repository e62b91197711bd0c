"""Scale: ``retouch run`` over N small photos on the embedded stack, against ``retouch apply``
over the same photos in the same run (issue 28).

    .venv/bin/python -m bench.scale --images 1000            (~5 min on 2 cores)
    .venv/bin/python -m bench.scale --images 5000
    .venv/bin/python -m bench.scale --images 1000 --moto-as-before   (moto as it ships, without
        retouch.local.moto_main's bounds: the "before" of issue 28)

What it measures, with the thumbnail chain (``thumbnail:width=320,height=320``) on generated
JPEGs of 320x240 (made once in ``build/bench/photos-small``):

* ``retouch apply`` in W processes over W shards (:func:`bench.e2e.direct`): the baseline;
* ``retouch local --workers W`` (its moto servers logging every request, as in
  :mod:`bench.aws_requests`) and ``retouch run --api`` against it, timed from the outside
  (:func:`bench.e2e.run_all`). Meanwhile, once a second: the RSS and CPU time of every process
  of the stack's tree (from ``/proc``), and every ``--poll`` seconds a ``GET /jobs/{id}`` of the
  newest job, timed.

Reported: seconds per 1,000 images (from the first upload, per successive thousand outputs
written, from the emulator's log), peak RSS of every stack process and of the whole tree, the
emulators' CPU per image, ``GET /jobs/{id}`` latency (median, p90, max), the emulator's
slowest API calls (total and mean time per call), and the load average before and after.
Everything also goes to ``build/bench/scale-N.json``.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import aws_requests
from bench.e2e import ROOT, THUMB_OPS, direct, machine, ops_args, pct, retouch, run_all

PHOTO_DIR = ROOT / "build" / "bench" / "photos-small"
AS_BEFORE_ENV = "BENCH_MOTO_AS_BEFORE"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- photos ---------------------------------------------------------------------------------------
def make_small_photos(count: int, folder: Path = PHOTO_DIR) -> list[Path]:
    """``count`` JPEGs of 320x240 (smooth colour fields and a few discs, different per index),
    made once and reused."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    paths = []
    for i in range(count):
        path = folder / f"small-{i:05d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng(i)
        slopes = rng.uniform(-0.4, 0.4, (3, 2)) @ np.stack([xx.ravel(), yy.ravel()])
        rgb = (rng.uniform(0, 255, (3, 1)) + slopes).reshape(3, 240, 320)
        for _ in range(4):
            cx, cy, r = rng.uniform(0, 320), rng.uniform(0, 240), rng.uniform(10, 60)
            rgb[:, (xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.uniform(0, 255, (3, 1))
        image = np.clip(rgb.transpose(1, 2, 0) + rng.normal(0, 4, (240, 320, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(path, "JPEG", quality=85)
    return paths


# --- the stack's moto servers: logged, optionally without retouch's bounds ------------------------
def moto_as_before() -> None:
    """Make :func:`retouch.local.moto_main.install` leave moto as it ships (whole-table copies in
    transactions, whole-table lists in queries, model-driven serialisation of every attribute
    value, every item tracked, SQS receives that compute the queue's attributes per message);
    the DynamoDB lock and the fair queues stay."""
    from moto.core.common_models import BaseModel
    from moto.sqs.models import Message, SQSBackend

    from retouch.local import moto_main

    moto_main.transact_write_items = moto_main._moto_transact_write_items  # type: ignore[assignment]
    moto_main.query = moto_main._moto_query  # type: ignore[assignment]
    moto_main._TableCopyIsTheTable.deepcopy = staticmethod(copy.deepcopy)  # type: ignore[method-assign,assignment]
    moto_main._serialize_structure = moto_main._moto_serialize_structure  # type: ignore[assignment]
    moto_main._untracked_new = BaseModel.__new__  # type: ignore[assignment]
    moto_main._retained = SQSBackend.is_message_valid_based_on_retention_period  # type: ignore[assignment]
    moto_main._visible = Message.visible.fget  # type: ignore[attr-defined]
    moto_main._delayed = Message.delayed.fget  # type: ignore[attr-defined]


def serve(argv: list[str]) -> None:
    if os.environ.get(AS_BEFORE_ENV):
        moto_as_before()
    aws_requests.serve(argv)


def cli(argv: list[str]) -> int:
    """``retouch ARGV`` whose embedded stack runs :func:`serve` as its moto server."""
    from retouch.cli import main as cli_main
    from retouch.local import stack

    def command(self: stack.MotoServer) -> list[str]:
        return [sys.executable, "-m", "bench.scale", "serve", *self.arguments()]

    stack.MotoServer.command = command  # type: ignore[method-assign]
    return cli_main.main(argv)


# --- watching the stack's processes ---------------------------------------------------------------
def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def process_tree(root: int) -> dict[int, tuple[int, str]]:
    """``{pid: (parent pid, command line)}`` of ``root`` and its descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read(f"/proc/{entry}/stat")
            if stat:
                parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return {pid: (parents.get(pid, 0), _read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()) for pid in tree}


def memory_and_cpu(pid: int) -> tuple[int, int, float] | None:
    """(resident bytes, proportional set size in bytes, user+system CPU seconds) of ``pid``, or
    None if it is gone. PSS shares each page among the processes that map it, so the PSS of a
    process tree adds up (the forked function processes share much of their RSS)."""
    rollup, stat = _read(f"/proc/{pid}/smaps_rollup"), _read(f"/proc/{pid}/stat")
    rss, pss = re.search(r"^Rss:\s+(\d+) kB", rollup, re.M), re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
    if not rss or not pss or not stat:
        return None
    fields = stat.rpartition(")")[2].split()
    return int(rss.group(1)) * 1024, int(pss.group(1)) * 1024, (int(fields[11]) + int(fields[12])) / CLK_TCK


def label(pid: int, tree: dict[int, tuple[int, str]], root: int) -> str:
    ppid, cmd = tree[pid]
    if pid == root:
        return "retouch local (supervisor, API, WebSocket)"
    if "bench.scale serve" in cmd:
        parent_cmd = tree.get(ppid, (0, ""))[1]
        return "emulator: DynamoDB (moto)" if "bench.scale serve" in parent_cmd else "emulator: S3 + SQS (moto)"
    if "forkserver" in cmd:
        return "fork server" if ppid == root else "function process (from the fork server)"
    if "resource_tracker" in cmd:
        return "resource tracker"
    return "function process"


class Watcher(threading.Thread):
    """Samples the stack's process tree once a second: peak RSS per process and of the whole
    tree, the CPU seconds each process had used at its last sample."""

    def __init__(self, root: int, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.stopped = threading.Event()
        self.labels: dict[int, str] = {}
        self.peak_rss: dict[int, int] = defaultdict(int)
        self.cpu: dict[int, float] = {}
        self.tree_peak = self.tree_pss_peak = 0
        self.samples: list[tuple[float, int, float]] = []  # (time, tree PSS, emulators' CPU)

    def sample(self) -> None:
        tree = process_tree(self.root)
        total = total_pss = 0
        for pid in tree:
            got = memory_and_cpu(pid)
            if got is None:
                continue
            self.labels.setdefault(pid, label(pid, tree, self.root))
            rss, pss, cpu = got
            self.peak_rss[pid] = max(self.peak_rss[pid], rss)
            self.cpu[pid] = cpu
            total += rss
            total_pss += pss
        self.tree_peak = max(self.tree_peak, total)
        self.tree_pss_peak = max(self.tree_pss_peak, total_pss)
        self.samples.append((time.time(), total_pss, self.emulator_cpu()))

    def emulator_cpu(self) -> float:
        return sum(c for pid, c in self.cpu.items() if self.labels[pid].startswith("emulator"))

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def report(self) -> dict[str, Any]:
        by_label: dict[str, list[int]] = defaultdict(list)
        for pid, rss in self.peak_rss.items():
            by_label[self.labels[pid]].append(rss)
        emulators = [rss for pid, rss in self.peak_rss.items() if self.labels[pid].startswith("emulator")]
        return {
            "tree_peak_rss_sum_mb": round(self.tree_peak / 2**20),
            "tree_peak_pss_mb": round(self.tree_pss_peak / 2**20),
            "emulators_peak_mb": round(sum(emulators) / 2**20),
            "peak_mb_by_process": {
                name: sorted((round(r / 2**20) for r in values), reverse=True) for name, values in sorted(by_label.items())
            },
            "processes": len(self.peak_rss),
        }


# --- polling the job ------------------------------------------------------------------------------
class JobPoller(threading.Thread):
    """``GET /jobs/{id}`` of the newest job every ``interval`` seconds, timed."""

    def __init__(self, api: str, token: str, interval: float) -> None:
        super().__init__(daemon=True)
        import requests

        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.api, self.interval = api, interval
        self.jobs: list[str] = []
        self.stopped = threading.Event()
        self.polls: list[dict[str, Any]] = []

    def note(self, _index: int, line: str) -> None:
        m = re.match(r"job (j-[\w-]+): (\d+) images", line.strip())
        if m:
            self.jobs.append(m.group(1))

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            if not self.jobs:
                continue
            job = self.jobs[-1]
            t0 = time.perf_counter()
            got = self.session.get(f"{self.api}/jobs/{job}", timeout=120)
            latency = time.perf_counter() - t0
            body = got.json() if got.ok else {}
            done = (body.get("succeeded") or 0) + (body.get("failed") or 0)
            self.polls.append({"t": time.time(), "s": round(latency, 3), "status": got.status_code, "job": job, "done": done})

    def report(self) -> dict[str, Any]:
        ok = [p["s"] for p in self.polls if p["status"] == 200]
        return {
            "polls": len(self.polls),
            "errors": len(self.polls) - len(ok),
            "median_s": round(statistics.median(ok), 3) if ok else None,
            "p90_s": round(pct(ok, 0.9), 3) if ok else None,  # type: ignore[arg-type]
            "max_s": round(max(ok), 3) if ok else None,
        }


# --- one run --------------------------------------------------------------------------------------
def start_stack(workers: int, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str, list[str]]:
    """``retouch local`` (through :func:`cli`); returns once it has printed its API URL."""
    token = "bench-" + secrets.token_urlsafe(12)
    command = [sys.executable, "-m", "bench.scale", "cli", "local", "--port", "0", "--token", token, "--workers", str(workers)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    lines: list[str] = []

    def keep_reading() -> None:  # the rest of its output, so its pipe never fills
        lines.extend(x.rstrip("\n") for x in proc.stdout or [])

    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        m = re.search(r"API URL:\s+(\S+)", line)
        if m:
            threading.Thread(target=keep_reading, daemon=True).start()
            return proc, m.group(1), token, lines
    raise RuntimeError("retouch local exited before serving: " + "\n".join(lines[-20:]))


def per_thousand(times: list[float], start: float) -> list[float]:
    """Seconds each successive thousand of ``times`` (sorted) took, the first from ``start``."""
    marks = [start] + [times[i - 1] for i in range(1000, len(times) + 1, 1000)]
    if len(times) % 1000:
        marks.append(times[-1])
    return [round(b - a, 1) for a, b in itertools.pairwise(marks)]


def slowest_calls(rows: list[dict[str, Any]], top: int = 8) -> list[dict[str, Any]]:
    """The emulator's API calls by total time (long polls that returned nothing left out)."""
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    worst: dict[str, float] = defaultdict(float)
    for r in rows:
        if aws_requests.is_empty_receive(r) or r["svc"] == "moto-api":
            continue
        key = f"{r['svc']} {r['op']}"
        total[key] += r["dur"]
        count[key] += 1
        worst[key] = max(worst[key], r["dur"])
    ranked = sorted(total, key=lambda k: -total[k])[:top]
    return [
        {
            "call": k,
            "count": count[k],
            "total_s": round(total[k], 1),
            "mean_ms": round(1000 * total[k] / count[k], 1),
            "max_ms": round(1000 * worst[k]),
        }
        for k in ranked
    ]


def embedded(files: Sequence[Path], workers: int, out: Path, poll: float, as_before: bool) -> dict[str, Any]:
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log = out / "requests.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env[aws_requests.LOG_ENV] = str(log)
    if as_before:
        env[AS_BEFORE_ENV] = "1"
    stack, api, token, stack_lines = start_stack(workers, env)
    watcher = Watcher(stack.pid)
    watcher.start()
    watcher.sample()
    idle_pss_mb = round(watcher.tree_pss_peak / 2**20)
    poller = JobPoller(api, token, poll)
    poller.start()
    cpu0, t0 = watcher.emulator_cpu(), time.time()
    try:
        args = ["run", *map(str, files), *ops_args(THUMB_OPS), "--format", "jpeg", "--out", str(out / "outputs"), "--json"]
        (result,) = run_all([retouch(*args, "--api", api, "--token", token)], env=env, on_line=poller.note)
        watcher.sample()
        cpu1, t1 = watcher.emulator_cpu(), time.time()
    finally:
        poller.stopped.set()
        watcher.stopped.set()
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.kill()
    text = result.stdout.strip()
    summary = json.JSONDecoder().raw_decode(text)[0] if text.startswith("{") else {}
    rows, _ = aws_requests.read_log(log) if log.exists() else ([], None)
    uploads = sorted(r["t"] for r in rows if r["op"].startswith("PostObject") and r["status"] < 400)
    outputs = sorted(r["t"] + r["dur"] for r in rows if r["op"] == "PutObject" and "outputs" in r["res"] and r["status"] < 400)
    n = len(files)
    return {
        "wall_s": round(result.wall, 1),
        "exit_code": result.code,
        "succeeded": summary.get("succeeded"),
        "failed": summary.get("failed"),
        "outputs_written": len(outputs),
        "first_upload_to_last_output_s": round(outputs[-1] - uploads[0], 1) if outputs and uploads else None,
        "s_per_1000_outputs": per_thousand(outputs, uploads[0]) if outputs and uploads else [],
        "s_per_1000_wall": round(result.wall * 1000 / n, 1),
        "emulator_cpu_s": round(cpu1 - cpu0, 1),
        "emulator_cpu_ms_per_image": round(1000 * (cpu1 - cpu0) / n, 1),
        "stack_idle_pss_mb": idle_pss_mb,
        "rss": watcher.report(),
        "pss_over_time_mb": [
            (round(t - t0), round(r / 2**20)) for t, r, _ in watcher.samples[:: max(1, len(watcher.samples) // 40)]
        ],
        "get_job": poller.report(),
        "get_job_polls": poller.polls,
        "requests": {
            "total": len(rows),
            "per_image": round(len(rows) / n, 1),
            "busy_s": aws_requests.summarise(rows)["busy_seconds"] if rows else None,
            "slowest_calls": slowest_calls(rows),
        },
        "job_s": round(t1 - t0, 1),
        "stderr_tail": [line for _, line in result.lines[-6:]] if result.code else [],
        "stack_tail": stack_lines[-5:] if result.code else [],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--images", type=int, default=1000, help="photos (1000 and 5000 in the issue)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="stack workers and apply shards")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between timed GET /jobs/{id}")
    p.add_argument("--moto-as-before", action="store_true", help="moto as it ships, without moto_main's bounds (the before)")
    p.add_argument("--no-apply", action="store_true", help="skip retouch apply")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "scale")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["serve"]:
        serve(raw[1:])
        return 0
    if raw[:1] == ["cli"]:
        return cli(raw[1:])
    args = parse_args(raw)
    files = make_small_photos(args.images)
    name = f"{args.images}{'-before' if args.moto_as_before else ''}"
    results: dict[str, Any] = {"images": args.images, "workers": args.workers, "moto_as_before": args.moto_as_before}
    results |= {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if not args.no_apply:
        print(f"== retouch apply, {args.workers} processes, {args.images} photos", file=sys.stderr, flush=True)
        d = direct(files, THUMB_OPS, args.workers, args.out / name / "apply")
        d.pop("per_image_ms")
        results["apply"] = d | {"s_per_1000": round(d["wall_s"] * 1000 / args.images, 1)}
    print(f"== retouch run on the embedded stack, {args.images} photos", file=sys.stderr, flush=True)
    results["embedded"] = embedded(files, args.workers, args.out / name / "embedded", args.poll, args.moto_as_before)
    results["machine"]["load_after"] = os.getloadavg()
    path = ROOT / "build" / "bench" / f"scale-{name}.json"
    path.write_text(json.dumps(results, indent=1))
    e = results["embedded"]
    polls = e.pop("get_job_polls")
    print(json.dumps(results, indent=1))
    results["embedded"]["get_job_polls"] = polls
    print(f"\nall results in {path}", file=sys.stderr)
    return 0 if e["exit_code"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
