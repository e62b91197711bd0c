"""End to end: ``retouch run`` on the embedded stack against ``retouch apply`` on the same files,
in one run, with the AWS requests per image counted from the emulator.

    .venv/bin/python -m bench.e2e                       (a few minutes: 100 thumbnails, 40 portraits)
    .venv/bin/python -m bench.e2e --portrait 500        (the issue's 500-photo portrait target)
    .venv/bin/python -m bench.e2e --scaling             (also: embedded stack with 1 worker vs 2)
    .venv/bin/python -m bench.e2e --only single         (one case: thumbnails, portrait, single)

Cases (every command is the real CLI, run as a subprocess and timed from the outside):

* ``thumbnails``: ``--thumbs`` (100) photos of 1-4 MP, ``thumbnail:width=320,height=320``.
* ``portrait``: ``--portrait`` (40; 500 as in the issue) photos, ``red_eye`` + ``teeth_whitening``
  + ``contrast``.
* ``single``: one photo, one thumbnail, ``retouch run`` including the stack's start and stop.

For each batch case: ``retouch apply`` in one process (the named baseline, "direct"), ``retouch
apply`` in W processes over W shards of the files (W = ``--workers``, default the number of
cores: the same number of processes the embedded stack may use), and ``retouch run --workers W``
on the embedded stack, whose moto server logs every request (:mod:`bench.aws_requests`). Wall
time is the command's, end to end; CPU is the children's user+system time (all processes,
emulator included); "in job" is the time ``retouch run`` reports from creating the job to the
last download; phase times come from the CLI's own progress lines, timestamped as they arrive.

Photos: variants of scikit-image's bundled photographs (``retouch.cli.samples``), upscaled with
LANCZOS to 1.0-4.0 MP (evenly spread) and saved as JPEG quality 90 in ``build/bench/photos``
(made once). One in five is the astronaut, so the portrait chain finds a face on those.

Results: the tables on stdout and everything (per-image durations, request counts, phases) in
``build/bench/e2e.json``, which ``bench.lambda_sim`` and ``bench.cost`` read.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import aws_requests

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PHOTO_DIR = ROOT / "build" / "bench" / "photos"
RESULTS = ROOT / "build" / "bench" / "e2e.json"
THUMB_OPS = ["thumbnail:width=320,height=320"]
PORTRAIT_OPS = ["red_eye", "teeth_whitening", "contrast"]
MIN_MP, MAX_MP = 1.0, 4.0


# --- photos ---------------------------------------------------------------------------------------
def make_photos(count: int, folder: Path = PHOTO_DIR) -> list[Path]:
    """``count`` JPEGs of 1-4 MP (made once, reused by later runs)."""
    from PIL import Image

    from retouch.cli.samples import variant

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    made = 0
    for i in range(count):
        path = folder / f"photo-{i:04d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        image, _, _ = variant(i)
        image = image.convert("RGB")
        mp = MIN_MP + (MAX_MP - MIN_MP) * ((i * 7) % 31) / 30  # spread evenly, not in file order
        scale = (mp * 1e6 / (image.width * image.height)) ** 0.5
        size = (round(image.width * scale), round(image.height * scale))
        image.resize(size, Image.Resampling.LANCZOS).save(path, "JPEG", quality=90)
        made += 1
    if made:
        print(f"made {made} photos of {MIN_MP:.0f}-{MAX_MP:.0f} MP in {folder}", file=sys.stderr)
    return paths


def megapixels(paths: Sequence[Path]) -> float:
    from PIL import Image

    total = 0.0
    for p in paths:
        with Image.open(p) as im:
            total += im.width * im.height / 1e6
    return total


# --- running commands -----------------------------------------------------------------------------
@dataclass
class Timed:
    """One command: wall and CPU seconds, exit code, its stderr lines with arrival times."""

    argv: list[str]
    wall: float = 0.0
    cpu: float = 0.0
    code: int = 0
    stdout: str = ""
    lines: list[tuple[float, str]] = field(default_factory=list)

    def first(self, pattern: str) -> float | None:
        rx = re.compile(pattern)
        return next((t for t, line in self.lines if rx.search(line)), None)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_all(
    commands: Sequence[list[str]],
    env: dict[str, str] | None = None,
    on_line: Callable[[int, str], None] | None = None,
    on_start: Callable[[list[int]], None] | None = None,
) -> list[Timed]:
    """Run ``commands`` at the same time; each stderr line is timestamped as it arrives (and
    passed to ``on_line`` with its command's index, if given); ``on_start`` gets their pids."""
    cpu0, t0 = _children_cpu(), time.monotonic()
    results = [Timed(list(c)) for c in commands]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT) for c in commands]
    if on_start is not None:
        on_start([p.pid for p in procs])

    def pump(index: int, proc: subprocess.Popen[str], result: Timed) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            result.lines.append((time.monotonic() - t0, line.rstrip("\n")))
            if on_line is not None:
                on_line(index, line.rstrip("\n"))

    threads = [
        threading.Thread(target=pump, args=(i, p, r), daemon=True) for i, (p, r) in enumerate(zip(procs, results, strict=True))
    ]
    for t in threads:
        t.start()
    for proc, result in zip(procs, results, strict=True):
        assert proc.stdout is not None
        result.stdout = proc.stdout.read()
        result.code = proc.wait()
        result.wall = time.monotonic() - t0
    for t in threads:
        t.join()
    cpu = _children_cpu() - cpu0
    for r in results:
        r.cpu = cpu / len(results)  # only the total is known; shared evenly
    return results


def retouch(*args: str) -> list[str]:
    return [str(VENV_BIN / "retouch"), *args]


def ops_args(ops: Sequence[str]) -> list[str]:
    return [a for op in ops for a in ("--op", op)]


# --- direct --------------------------------------------------------------------------------------
APPLY_LINE = re.compile(r" -> .*\((\d+)x(\d+), (\d+) ms\)(?::|$)")


def direct(files: Sequence[Path], ops: Sequence[str], processes: int, out: Path) -> dict[str, Any]:
    """``retouch apply`` over ``files`` split into ``processes`` shards run at the same time, one
    image at a time each (``--jobs 1``), as each of the stack's workers renders one at a time."""
    shutil.rmtree(out, ignore_errors=True)
    shards = [list(files[i::processes]) for i in range(processes)]
    commands = [
        retouch("apply", *map(str, shard), *ops_args(ops), "--format", "jpeg", "--jobs", "1", "-o", str(out / f"shard{i}"))
        for i, shard in enumerate(shards)
        if shard
    ]
    results = run_all(commands)
    per_image = [int(m.group(3)) for r in results for _, line in r.lines if (m := APPLY_LINE.search(line))]
    failed = [r for r in results if r.code != 0]
    return {
        "processes": processes,
        "wall_s": round(max(r.wall for r in results), 2),
        "cpu_s": round(sum(r.cpu for r in results), 2),
        "images": len(per_image),
        "per_image_ms": per_image,
        "exit_codes": [r.code for r in results],
        "errors": [line for r in failed for _, line in r.lines[-5:]],
    }


# --- retouch apply vs a pyvips script, start-up included ------------------------------------------
VIPS_SIDE = 320
VIPS_SCRIPT = f"""
import pathlib, sys
import pyvips
out = pathlib.Path(sys.argv[1])
for name in sys.argv[2:]:
    pyvips.Image.thumbnail(name, {VIPS_SIDE}, height={VIPS_SIDE}).write_to_file(str(out / (pathlib.Path(name).stem + ".jpg")))
"""
"""The same thumbnails (fit in 320x320, JPEG) as a user would script them with pyvips: each file
opened by name (libvips shrinks on load), one process, libvips' default threads."""
BIG_PHOTO_DIR = ROOT / "build" / "bench" / "photos-12mp"


def make_big_photos(count: int, folder: Path = BIG_PHOTO_DIR) -> list[Path]:
    """``count`` 12 MP JPEGs (4000x3000, quality 90), made once from the sample photographs."""
    from PIL import Image

    from retouch.cli.samples import variant

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"photo12-{i:04d}.jpg"
        paths.append(path)
        if not path.exists():
            image = variant(i)[0].convert("RGB")
            image.resize((4000, 3000), Image.Resampling.LANCZOS).save(path, "JPEG", quality=90)
    return paths


def apply_vs_vips(files: Sequence[Path], out: Path, runs: int = 3) -> dict[str, Any]:
    """Wall seconds of ``retouch apply`` and of :data:`VIPS_SCRIPT` over ``files`` (each a fresh
    process, start-up included), alternated ``runs`` times; the medians are compared."""
    walls: dict[str, list[float]] = {"retouch apply": [], "pyvips script": []}
    for _ in range(runs):
        for name in walls:
            target = out / name.split()[0]
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            if name == "retouch apply":
                argv = retouch("apply", *map(str, files), *ops_args([f"thumbnail:width={VIPS_SIDE},height={VIPS_SIDE}"]))
                argv += ["--format", "jpeg", "-o", str(target)]
            else:
                argv = [sys.executable, "-c", VIPS_SCRIPT, str(target), *map(str, files)]
            (result,) = run_all([argv])
            if result.code != 0 or len(list(target.glob("*.jpg"))) != len(files):
                raise RuntimeError(f"{name} failed: {[line for _, line in result.lines[-5:]]}")
            walls[name].append(round(result.wall, 2))
    return {name: {"runs_s": w, "median_s": statistics.median(w)} for name, w in walls.items()}


# --- embedded stack ------------------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class CpuByRole(threading.Thread):
    """CPU seconds of every process of a command's tree, summed by role, sampled from ``/proc``
    every ``interval`` s until stopped: the CLI, the emulators, the fork server, and each
    function's processes (named by the log file their stdout goes to, ``<Function>.log``). A
    process that lives less than ``interval`` may be missed."""

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.interval, self.root = interval, 0
        self.stopped = threading.Event()
        self.cpu: dict[int, float] = {}
        self.role: dict[int, str] = {}

    def start_on(self, pids: list[int]) -> None:
        self.root = pids[0]
        self.start()

    def _tree(self) -> list[int]:
        parents = {}
        for entry in os.listdir("/proc"):
            stat = _proc_read(f"/proc/{entry}/stat") if entry.isdigit() else ""
            if stat:
                parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
        tree, grew = {self.root}, True
        while grew:
            more = {pid for pid, ppid in parents.items() if ppid in tree and pid not in tree}
            tree |= more
            grew = bool(more)
        return sorted(tree)

    def _role(self, pid: int) -> str:
        if pid == self.root:
            return "CLI (retouch run, its API and WebSocket servers, supervisor)"
        try:
            target = os.readlink(f"/proc/{pid}/fd/1")
        except OSError:
            target = ""
        if target.endswith(".log") and "/logs/" in target:
            return Path(target).stem
        cmd = _proc_read(f"/proc/{pid}/cmdline").replace("\0", " ")
        if "moto" in cmd or "aws_requests" in cmd:
            return "emulators (moto)"
        return "fork server" if "forkserver" in cmd else "other"

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            for pid in self._tree():
                stat = _proc_read(f"/proc/{pid}/stat")
                if not stat:
                    continue
                fields = stat.rpartition(")")[2].split()
                self.cpu[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
                if pid not in self.role or self.role[pid] in ("fork server", "other"):
                    self.role[pid] = self._role(pid)  # a forked process opens its log just after

    def report(self) -> dict[str, float]:
        self.stopped.set()
        self.join()
        out: dict[str, float] = {}
        for pid, cpu in self.cpu.items():
            out[self.role[pid]] = round(out.get(self.role[pid], 0.0) + cpu, 2)
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


PROCESS_LOG_MS = re.compile(r'"message":"image processed".*?"duration_ms":(\d+)')


def embedded(files: Sequence[Path], ops: Sequence[str], workers: int, out: Path, *, counted: bool = True) -> dict[str, Any]:
    """``retouch run --workers W`` on the embedded stack (its moto server counting requests)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log = out / "requests.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    args = ["run", *map(str, files), *ops_args(ops), "--format", "jpeg", "--out", str(out / "outputs"), "--json"]
    args += ["--workers", str(workers)]
    if counted:
        env[aws_requests.LOG_ENV] = str(log)
        command = [sys.executable, "-m", "bench.aws_requests", "cli", *args]
    else:
        command = retouch(*args)
    sampler = CpuByRole()
    (result,) = run_all([command], env=env, on_start=sampler.start_on)
    cpu_by_role = sampler.report()
    text = result.stdout.strip()
    summary, end = json.JSONDecoder().raw_decode(text) if text.startswith("{") else ({}, 0)
    if text[end:].strip():
        print(f"   (after the summary, the command printed: {text[end:].strip()[:300]!r})")
    logs = next((Path(m.group(1)) for _, line in result.lines if (m := re.search(r"logs in (\S+)", line))), None)
    in_function = []
    if logs and (logs / "ProcessFunction.log").exists():
        in_function = [int(m.group(1)) for m in PROCESS_LOG_MS.finditer((logs / "ProcessFunction.log").read_text())]
    manifest = out / "outputs" / "job.json"
    timings = json.loads(manifest.read_text()).get("timings", {}) if manifest.exists() else {}
    data: dict[str, Any] = {
        "workers": workers,
        "wall_s": round(result.wall, 2),
        "cpu_s": round(result.cpu, 2),
        "exit_code": result.code,
        "succeeded": summary.get("succeeded"),
        "job_s": timings.get("total_seconds"),
        "in_function_ms": in_function,
        "cpu_by_role_s": cpu_by_role,
        "input_bytes": sum(f.stat().st_size for f in files),
        "output_bytes": sum(f.stat().st_size for f in (out / "outputs").glob("*") if f.name != "job.json"),
        "phases_s": {
            "stack_ready": result.first(r"^  API http"),
            "job_created": result.first(r"^job j-"),
            "first_result": result.first(r"processing: [1-9]\d*/"),
            "all_results": result.first(r"images succeeded"),
            "exit": round(result.wall, 2),
        },
        "stderr_tail": [line for _, line in result.lines[-6:]] if result.code else [],
    }
    if counted and log.exists():
        rows, cpu = aws_requests.read_log(log)
        data["requests"] = aws_requests.summarise(rows)
        data["requests"]["emulator_cpu_s"] = cpu
        data["timeline"] = timeline(rows)
    if logs and logs.is_dir() and logs.parent.name.startswith("retouch-local-"):
        shutil.copytree(logs, out / "function-logs", dirs_exist_ok=True)
        shutil.rmtree(logs.parent, ignore_errors=True)
    return data


def timeline(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Seconds after the emulator's first request at which the job's stages began and ended."""
    if not rows:
        return {}
    t0 = rows[0]["t"]

    def at(pred: Any, last: bool = False) -> float | None:
        hits = [r["t"] + (r["dur"] if last else 0) - t0 for r in rows if pred(r)]
        return round((max(hits) if last else min(hits)), 2) if hits else None

    def call(op: str, res: str = "") -> Any:
        return lambda r: r["op"].startswith(op) and res in r["res"] and r["status"] < 400 and not aws_requests.is_empty_receive(r)

    return {
        "resources_created": at(call("PutBucketNotificationConfiguration"), last=True),
        "first_job_write": at(call("BatchWriteItem")),
        "first_upload": at(call("PostObject")),
        "first_request_enqueued": at(call("SendMessageBatch", "requests")),
        "last_request_enqueued": at(call("SendMessageBatch", "requests"), last=True),
        "first_output": at(call("PutObject", "outputs")),
        "last_output": at(call("PutObject", "outputs"), last=True),
        "last_result_recorded": at(call("TransactWriteItems"), last=True),
        "last_download": at(call("GetObject (presigned)", "outputs"), last=True),
        "last_request": at(lambda r: True, last=True),
    }


# --- report --------------------------------------------------------------------------------------
def pct(values: Sequence[int], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return float(s[min(len(s) - 1, int(q * len(s)))])


def print_case(name: str, n: int, mp: float, case: dict[str, Any]) -> None:
    base = case["direct_1"]
    print(f"\n## {name}: {n} photos, {mp:.0f} MP in all ({mp / n:.1f} MP each on average)\n")
    print("| variant | processes | wall s | vs direct (1 proc) | vs direct (same procs) | CPU s | ms/image median (p90) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = [("retouch apply (direct, baseline)", case["direct_1"]), ("retouch apply, sharded", case["direct_w"])]
    rows.append(("retouch run (embedded stack)", case["embedded"]))
    for label, r in rows:
        per = r.get("per_image_ms") or r.get("in_function_ms") or []
        procs = r.get("processes", r.get("workers"))
        ratio_w = r["wall_s"] / case["direct_w"]["wall_s"]
        # the stack's processes are not all reaped by the command: its sampled CPU is the one to read
        cpu = sum(r["cpu_by_role_s"].values()) if r.get("cpu_by_role_s") else r["cpu_s"]
        print(
            f"| {label} | {procs} | {r['wall_s']:.1f} | {r['wall_s'] / base['wall_s']:.2f}x | {ratio_w:.2f}x | "
            f"{cpu:.1f} | {statistics.median(per) if per else float('nan'):.0f} ({pct(per, 0.9):.0f}) |"
        )
    e = case["embedded"]
    print(
        f"\nembedded: job {e['job_s']} s inside `retouch run` (job created -> last download); "
        f"{e['succeeded']}/{n} succeeded; phases (s after start): {e['phases_s']}"
    )
    if e.get("cpu_by_role_s"):
        print(f"CPU seconds by process (sampled): {e['cpu_by_role_s']}")
    if "timeline" in e:
        print(f"emulator timeline (s after its first request): {e['timeline']}")
    if "requests" in e:
        req = e["requests"]
        print(f"\nAWS requests per image ({req['total']} in all over {n} images, stack set-up included):\n")
        print("| service | API call | per image | total |")
        print("|---|---|---:|---:|")
        for key, count in req["by_call"].items():
            svc, _, op = key.partition(" ")
            print(f"| {svc} | {op} | {count / n:.2f} | {count} |")
        per_service = ", ".join(f"{s} {c / n:.1f}" for s, c in sorted(req["by_service"].items()))
        print(f"\nper image by service: {per_service}; total {req['total'] / n:.1f}")
        print(
            f"empty long polls: {req['empty_receives']} ({req['empty_receive_seconds']} s waiting); emulator busy "
            f"{req['busy_seconds']} s (sum of request times), CPU {req['emulator_cpu_s']} s; error answers {req['errors']}"
        )


def machine() -> dict[str, Any]:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_before": os.getloadavg(),
    }


def targets(results: dict[str, Any]) -> list[str]:
    out = []

    def check(ok: bool, text: str) -> None:
        out.append(f"{'PASS' if ok else 'FAIL'} {text}")

    if "portrait" in results:
        c = results["portrait"]
        r = c["embedded"]["wall_s"] / c["direct_w"]["wall_s"]
        check(r <= 1.10, f"portrait chain: retouch run within 10 % of retouch apply with the same processes ({r:.2f}x)")
    if "thumbnails" in results:
        c = results["thumbnails"]
        r = c["embedded"]["wall_s"] / c["direct_1"]["wall_s"]
        check(r <= 2.0, f"100 thumbnails: retouch run within 2x of direct ({r:.2f}x)")
    if "single" in results:
        w = results["single"]["wall_s"]
        check(w < 4.0, f"one photo through retouch run, stack start included, under 4 s ({w:.1f} s)")
    if "vips" in results:
        v = results["vips"]
        ours, theirs = v["retouch apply"]["median_s"], v["pyvips script"]["median_s"]
        check(
            ours < theirs,
            f"40 thumbnails of 12 MP JPEGs: retouch apply faster than a pyvips script ({ours:.2f} s vs {theirs:.2f} s)",
        )
    if "scaling" in results:
        s = results["scaling"]
        check(s["speedup"] >= 1.9, f"2 workers at least 1.9x one ({s['speedup']:.2f}x on job time)")
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--thumbs", type=int, default=100, help="photos for the thumbnail case")
    p.add_argument("--portrait", type=int, default=40, help="photos for the portrait chain (500 in the issue)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="processes for sharded apply and the stack")
    p.add_argument("--only", default="thumbnails,portrait,single,vips", help="comma-separated cases to run")
    p.add_argument("--big", type=int, default=40, help="12 MP photos for retouch apply vs the pyvips script")
    p.add_argument("--scaling", action="store_true", help="also run the portrait chain on the stack with 1 worker")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "e2e")
    p.add_argument("--json", type=Path, default=RESULTS, help="where to write all results")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cases = set(args.only.split(","))
    started = time.monotonic()
    files = make_photos(max(args.thumbs, args.portrait, 1))
    results: dict[str, Any] = {"machine": machine(), "workers": args.workers, "date": time.strftime("%Y-%m-%d %H:%M")}
    plan = [("thumbnails", THUMB_OPS, args.thumbs), ("portrait", PORTRAIT_OPS, args.portrait)]
    for name, ops, n in plan:
        if name not in cases:
            continue
        subset = files[:n]
        print(f"== {name}: {n} photos, ops {ops}", file=sys.stderr, flush=True)
        case: dict[str, Any] = {"images": n, "megapixels": round(megapixels(subset), 1), "ops": ops}
        case["direct_1"] = direct(subset, ops, 1, args.out / name / "direct1")
        print(f"   direct, 1 process: {case['direct_1']['wall_s']} s", file=sys.stderr, flush=True)
        case["direct_w"] = direct(subset, ops, args.workers, args.out / name / "directW")
        print(f"   direct, {args.workers} processes: {case['direct_w']['wall_s']} s", file=sys.stderr, flush=True)
        case["embedded"] = embedded(subset, ops, args.workers, args.out / name / "embedded")
        print(f"   embedded stack: {case['embedded']['wall_s']} s", file=sys.stderr, flush=True)
        results[name] = case
        if name == "portrait" and args.scaling:
            one = embedded(subset, ops, 1, args.out / name / "embedded1")
            results["scaling"] = {
                "one_worker_job_s": one["job_s"],
                "two_worker_job_s": case["embedded"]["job_s"],
                "one_worker_wall_s": one["wall_s"],
                "speedup": (one["job_s"] or 0) / max(1e-9, case["embedded"]["job_s"] or 1e9),
                "one_worker": one,
            }
    if "single" in cases:
        print("== single: one photo, retouch run with stack start", file=sys.stderr, flush=True)
        plain = embedded(files[:1], THUMB_OPS, args.workers, args.out / "single", counted=False)
        results["single"] = plain
    if "vips" in cases:
        print(f"== vips: {args.big} photos of 12 MP, retouch apply vs a pyvips script", file=sys.stderr, flush=True)
        results["vips"] = {"images": args.big, **apply_vs_vips(make_big_photos(args.big), args.out / "vips")}
    results["total_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_after"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))

    m = results["machine"]
    print(f"# Retouch end to end ({results['date']}; {m['nproc']} x {m['cpu']}; Python {m['python']})")
    print(f"load average before {m['load_before']}, after {m['load_after']}; stack workers and sharded apply: {args.workers}")
    for name, _, n in plan:
        if name in results:
            print_case(name, n, results[name]["megapixels"], results[name])
    if "scaling" in results:
        s = results["scaling"]
        print(
            f"\nscaling: portrait job {s['one_worker_job_s']} s with 1 worker, {s['two_worker_job_s']} s with 2: "
            f"{s['speedup']:.2f}x"
        )
    if "single" in results:
        s = results["single"]
        print(f"\n## single: one photo through `retouch run` (stack start included): {s['wall_s']:.1f} s")
        print(f"phases (s after the command started): {s['phases_s']}")
    if "vips" in results:
        v = results["vips"]
        print(f"\n## {v['images']} thumbnails ({VIPS_SIDE}x{VIPS_SIDE}) of 12 MP JPEGs, one process each, start-up included")
        print("\n| command | median wall s | runs |\n|---|---:|---|")
        for name in ("retouch apply", "pyvips script"):
            print(f"| {name} | {v[name]['median_s']:.2f} | {', '.join(map(str, v[name]['runs_s']))} |")
    print()
    for line in targets(results):
        print(line)
    print(f"\nall results in {args.json}; total {results['total_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
