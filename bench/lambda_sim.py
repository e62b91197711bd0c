"""A discrete-event simulation of the request queue and Lambda's SQS event source mapping.

    .venv/bin/python -m bench.lambda_sim                         (10,000 and 100,000 images, plot)
    .venv/bin/python -m bench.lambda_sim --chain thumbnails --images 10000,100000,500000
    .venv/bin/python -m bench.lambda_sim --durations my.json     ({"durations_ms": [...]} or a list)
    .venv/bin/python -m bench.lambda_sim --validate              (against the embedded stack)

The model, as AWS documents it for standard queues ("Configuring scaling behavior for SQS event
source mappings", Lambda developer guide; "Introducing faster polling scale-up", AWS Compute
Blog, November 2023, which raised the rate from 60 to 300 per minute):

* When messages are visible, the mapping starts 5 concurrent batches (pollers), then adds up to
  300 more per minute (one every 0.2 s) while messages remain, up to 1,000 batches per mapping.
  Concurrency is also capped by ``ScalingConfig.MaximumConcurrency`` (``ProcessMaxConcurrency``
  in ``template.yaml``, default 50) and by the account's unreserved concurrency (1,000 by default).
* A poller gathers up to ``BatchSize`` (4) messages, waiting at most
  ``MaximumBatchingWindowInSeconds`` (1 s) after the first for the batch to fill, and invokes the
  function; the records of a batch are processed one after another (Powertools'
  ``BatchProcessor``). A new execution environment first pays ``--cold-start-s`` (INIT: imports
  and model loads), billed since August 2025.
* An invocation lasts ``--invoke-overhead-ms`` plus, per record, a duration drawn from the
  measured per-image durations plus ``--io-ms`` (S3 GET + PUT, SQS send on AWS).

Inputs: per-image durations from ``bench.e2e``'s results (``build/bench/e2e.json``: the process
``retouch apply``'s per-image time for the chain by default; ``--source embedded`` takes the
process function's own ``duration_ms``, inflated locally by the emulator sharing the cores) or
any JSON list. Output: time to the last result, queue depth and concurrency over time, GB-seconds,
invocations and the cost per burst (``bench.cost`` for the requests), and a PNG in ``docs/``.

``--validate`` runs the embedded stack (``bench.e2e.embedded``) on ``--validate-images`` photos
with ``--workers`` workers, and simulates the same queue with the embedded stack's cap (its
workers), the same arrivals (the times the enqueue function sent the messages, from the
emulator's log) and the durations measured inside that run (the process function's log plus the
emulator's time for its S3 and SQS calls); it compares predicted and measured times from the
first message enqueued to the last output written.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
E2E = ROOT / "build" / "bench" / "e2e.json"
PLOT = ROOT / "docs" / "lambda-sim.png"
INITIAL_POLLERS = 5
SCALE_PER_MINUTE = 300
MAPPING_MAX = 1000


@dataclass
class Mapping:
    batch_size: int = 4
    window_s: float = 1.0
    max_concurrency: int = 50
    account_concurrency: int = 1000
    initial: int = INITIAL_POLLERS
    per_minute: float = SCALE_PER_MINUTE
    memory_mb: int = 3008

    @property
    def cap(self) -> int:
        return max(1, min(self.max_concurrency, self.account_concurrency, MAPPING_MAX))


@dataclass
class Costs:
    cold_start_s: float = 1.2
    invoke_overhead_ms: float = 10.0
    io_ms: float = 60.0
    lazy_init_s: float = 0.0
    """What the first invocation of an environment that was already warm (initialised ahead of
    traffic) adds: the handlers make their AWS clients and tracer on first use, not at import.
    A cold start's ``cold_start_s`` includes it."""


@dataclass
class Result:
    images: int
    last_result_s: float
    peak_concurrency: int
    mean_concurrency: float
    invocations: int
    cold_starts: int
    billed_gb_s: float
    series: list[tuple[float, int, int]] = field(default_factory=list)
    """(time s, messages waiting in the queue, concurrent invocations), at every change."""


def template_mapping() -> Mapping:
    """The process function's SQS event source as ``template.yaml`` declares it."""
    from retouch.local.template import find_template, load_template

    t = load_template(find_template(ROOT))
    params = {k: v.get("Default") for k, v in t.get("Parameters", {}).items()}
    fn = t["Resources"]["ProcessFunction"]["Properties"]
    props = next(ev["Properties"] for ev in fn["Events"].values() if ev.get("Type") == "SQS")
    raw_cap = (props.get("ScalingConfig") or {}).get("MaximumConcurrency", MAPPING_MAX)
    cap = int(params[raw_cap["Ref"]]) if isinstance(raw_cap, dict) else int(raw_cap)
    memory = fn.get("MemorySize", t.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    return Mapping(
        batch_size=int(props.get("BatchSize", 10)),
        window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        max_concurrency=cap,
        memory_mb=int(memory),
    )


def simulate(
    arrivals: Sequence[float],
    durations_ms: Sequence[float],
    mapping: Mapping,
    costs: Costs,
    *,
    seed: int = 1,
    sample: bool = True,
    prewarmed: int = 0,
) -> Result:
    """Run the queue until every message is processed; ``arrivals`` sorted, in seconds.

    Durations are drawn at random (with replacement) from ``durations_ms``, or taken in order
    and cycled when ``sample`` is false (validation: the same images in the same order). The first
    ``prewarmed`` pollers have a warm execution environment (no cold start; their first
    invocation pays ``costs.lazy_init_s``)."""
    rng = random.Random(seed)
    n = len(arrivals)
    next_msg = 0  # messages [next_msg:] not yet taken; visible once arrivals[i] <= now
    events: list[tuple[float, int, str, int]] = []  # (time, seq, kind, poller)
    seq = 0

    def push(t: float, kind: str, poller: int) -> None:
        nonlocal seq
        heapq.heappush(events, (t, seq, kind, poller))
        seq += 1

    first_visible = arrivals[0] if n else 0.0
    allowed = min(mapping.initial, mapping.cap)
    pollers = 0
    warm: set[int] = set(range(prewarmed))
    first_call: set[int] = set(range(prewarmed))
    busy = 0
    done = 0
    invocations = cold = 0
    gb_s = 0.0
    last = 0.0
    series: list[tuple[float, int, int]] = []
    picks = 0

    def waiting(now: float) -> int:
        visible = next_msg
        # count arrivals <= now without scanning: arrivals are sorted
        lo, hi = next_msg, n
        while lo < hi:
            mid = (lo + hi) // 2
            if arrivals[mid] <= now:
                lo = mid + 1
            else:
                hi = mid
        return lo - visible

    def record(now: float) -> None:
        depth = n - next_msg if now >= arrivals[-1] else waiting(now)
        if not series or series[-1][1:] != (depth, busy):
            series.append((round(now, 3), depth, busy))

    def duration() -> float:
        nonlocal picks
        d = rng.choice(durations_ms) if sample else durations_ms[picks % len(durations_ms)]
        picks += 1
        return d

    # pollers start when the first message is visible; the scaler adds one every 60/per_minute s
    for p in range(allowed):
        push(first_visible, "poll", p)
    pollers = allowed
    step = 60.0 / mapping.per_minute
    if pollers < mapping.cap:
        push(first_visible + step, "scale", -1)
    while events and done < n:
        now, _, kind, p = heapq.heappop(events)
        if kind == "scale":
            if next_msg < n and pollers < mapping.cap:
                push(now, "poll", pollers)
                pollers += 1
                push(now + step, "scale", -1)
            continue
        if kind == "finish":
            busy -= 1
            record(now)
            push(now, "poll", p)
            continue
        # kind == "poll" (gather a batch) or "gather" (the batching window closed: take what is there)
        if next_msg >= n:
            continue
        if arrivals[next_msg] > now:  # long poll: wake when the next message arrives
            push(arrivals[next_msg], "poll", p)
            continue
        avail = waiting(now)
        if kind == "poll" and avail < mapping.batch_size and mapping.window_s > 0 and next_msg + avail < n:
            close = now + mapping.window_s
            fill = arrivals[min(n - 1, next_msg + mapping.batch_size - 1)]
            if fill > now:  # wait for the batch to fill or the window to close
                push(min(close, fill), "gather", p)
                continue
        take = min(mapping.batch_size, max(1, avail))
        next_msg += take
        secs = costs.invoke_overhead_ms / 1000 + sum((duration() + costs.io_ms) / 1000 for _ in range(take))
        if p not in warm:
            secs += costs.cold_start_s
            warm.add(p)
            cold += 1
        elif p in first_call:
            secs += costs.lazy_init_s
        first_call.discard(p)
        invocations += 1
        gb_s += math.ceil(secs * 1000) / 1000 * mapping.memory_mb / 1024
        busy += 1
        done += take
        end = now + secs
        last = max(last, end)
        record(now)
        push(end, "finish", p)
    return Result(
        images=n,
        last_result_s=last,
        peak_concurrency=max((b for _, _, b in series), default=0),
        mean_concurrency=_mean_busy(series, last),
        invocations=invocations,
        cold_starts=cold,
        billed_gb_s=gb_s,
        series=series,
    )


def _mean_busy(series: list[tuple[float, int, int]], end: float) -> float:
    if not series or end <= series[0][0]:
        return 0.0
    area = 0.0
    for (t0, _, b), (t1, _, _) in zip(series, [*series[1:], (end, 0, 0)], strict=True):
        area += b * (t1 - t0)
    return area / (end - series[0][0])


# --- inputs --------------------------------------------------------------------------------------
def load_durations(path: Path, chain: str, source: str) -> tuple[list[float], str]:
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return [float(x) for x in data], f"{path}"
    if "durations_ms" in data:
        return [float(x) for x in data["durations_ms"]], f"{path}"
    case = data[chain]
    if source == "embedded" and case["embedded"].get("in_function_ms"):
        return [float(x) for x in case["embedded"]["in_function_ms"]], f"{path}: {chain}, in the process function"
    return [float(x) for x in case["direct_1"]["per_image_ms"]], f"{path}: {chain}, retouch apply"


# --- plot ----------------------------------------------------------------------------------------
def plot(results: dict[str, Result], path: Path, title: str) -> str:
    """Queue depth and concurrency over time, one column per burst; matplotlib if installed,
    else drawn with Pillow (a plainer chart, same data)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _plot_pillow(results, path, title)
        return "Pillow (matplotlib is not installed in .venv)"
    fig, axes = plt.subplots(2, len(results), figsize=(6 * len(results), 6), squeeze=False)
    for col, (name, r) in enumerate(results.items()):
        t = [s[0] / 60 for s in r.series]
        axes[0][col].step(t, [s[1] for s in r.series], where="post")
        axes[0][col].set(title=f"{name}: last result at {r.last_result_s / 60:.1f} min", ylabel="messages waiting")
        axes[1][col].step(t, [s[2] for s in r.series], where="post", color="tab:orange")
        axes[1][col].set(xlabel="minutes after the burst", ylabel="concurrent invocations")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return "matplotlib"


def _plot_pillow(results: dict[str, Result], path: Path, title: str) -> None:
    from PIL import Image, ImageDraw

    w_panel, h_panel, margin = 560, 230, 70
    width, height = w_panel * len(results) + margin, 2 * h_panel + 3 * margin
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    d.text((margin, 12), title, fill="black")
    for col, (name, r) in enumerate(results.items()):
        x0 = margin + col * w_panel
        end = max(r.last_result_s, 1e-9)
        for row, (label, idx, colour) in enumerate(
            (("messages waiting", 1, "#1f77b4"), ("concurrent invocations", 2, "#ff7f0e"))
        ):
            y0 = margin + row * (h_panel + margin)
            pw, ph = w_panel - 90, h_panel
            ymax = max((s[idx] for s in r.series), default=1) or 1
            d.rectangle([x0, y0, x0 + pw, y0 + ph], outline="black")
            head = f"{name}: last result at {end / 60:.1f} min" if row == 0 else ""
            d.text((x0, y0 - 28), head, fill="black")
            d.text((x0, y0 - 14), f"{label} (max {ymax:,})", fill="black")
            for k in range(5):
                tx = x0 + pw * k / 4
                d.line([tx, y0 + ph, tx, y0 + ph + 4], fill="black")
                d.text((tx - 10, y0 + ph + 6), f"{end / 60 * k / 4:.1f}", fill="black")
            d.text((x0 + pw - 90, y0 + ph + 20), "minutes", fill="black")
            pts: list[tuple[float, float]] = []
            for t, depth, busy in r.series:
                v = depth if idx == 1 else busy
                x, y = x0 + pw * min(1.0, t / end), y0 + ph - ph * v / ymax
                if pts:
                    pts.append((x, pts[-1][1]))
                pts.append((x, y))
            if len(pts) > 1:
                d.line(pts, fill=colour, width=2)
    img.save(path)


# --- validation -----------------------------------------------------------------------------------
def worker_overhead_ms(log: Path) -> float:
    """Median time per image between consecutive "image processed" lines of one invocation,
    less the median logged render time: what a worker spends per image besides the render."""
    from datetime import datetime

    done: dict[str, list[float]] = {}
    renders = []
    for line in log.read_text().splitlines():
        if '"image processed"' not in line:
            continue
        entry = json.loads(line)
        at = datetime.strptime(entry["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
        done.setdefault(entry["function_request_id"], []).append(at)
        renders.append(float(entry["duration_ms"]))
    gaps = [1000 * (b - a) for times in done.values() for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]
    if not gaps or not renders:
        return 0.0
    return max(0.0, statistics.median(gaps) - statistics.median(renders))


def validate(args: argparse.Namespace, mapping: Mapping) -> int:
    from bench import aws_requests, e2e

    ops = e2e.PORTRAIT_OPS if args.chain == "portrait" else e2e.THUMB_OPS
    files = e2e.make_photos(args.validate_images)
    out = ROOT / "build" / "bench" / "validate"
    print(f"running the embedded stack: {len(files)} photos, {ops}, {args.workers} workers ...", file=sys.stderr)
    run = e2e.embedded(files, ops, args.workers, out)
    if run["exit_code"] != 0 or "requests" not in run:
        print(f"the embedded run failed: {run.get('stderr_tail')}", file=sys.stderr)
        return 1
    rows, _ = aws_requests.read_log(out / "requests.jsonl")
    t0 = rows[0]["t"]
    arrivals = sorted(
        r["t"] + r["dur"] - t0
        for r in rows
        if r["op"].startswith("SendMessage") and r["res"].endswith("requests")
        for _ in range(int(r.get("n", 1)))
    )
    outputs = [r["t"] + r["dur"] - t0 for r in rows if r["op"] == "PutObject" and r["res"] == "outputs"]
    measured = max(outputs) - arrivals[0]
    # per-image time in the worker beyond the logged render: the gaps between consecutive images
    # of one invocation (input GET, render, output PUT, result message, logging), from the
    # function's log, less the median render time. It includes the CPU the worker loses to the
    # emulators and the other functions on the same cores, which the simulator has no model of.
    io_ms = worker_overhead_ms(out / "function-logs" / "ProcessFunction.log")
    # per batch, the poller's receive (one that returned messages), the lease at the start of the
    # batch and the delete at its end
    batch_calls = ("ReceiveMessage", "ChangeMessageVisibilityBatch", "DeleteMessageBatch")
    batch_ms = sum(
        1000
        * statistics.median(
            [
                r["dur"]
                for r in rows
                if r["op"] == op and r["res"].endswith("requests") and (op != "ReceiveMessage" or r.get("out", 0) > 1000)
            ]
            or [0]
        )
        for op in batch_calls
    )
    durations = [float(x) for x in run["in_function_ms"]]
    local = Mapping(batch_size=mapping.batch_size, window_s=mapping.window_s, max_concurrency=args.workers, initial=args.workers)
    costs = Costs(cold_start_s=args.cold_start_s, invoke_overhead_ms=batch_ms, io_ms=io_ms, lazy_init_s=args.lazy_init_s)
    shifted = [a - arrivals[0] for a in arrivals]
    # the embedded stack keeps one worker per function warm; the others start on demand
    sim = simulate(shifted, durations, local, costs, sample=False, prewarmed=1)
    error = sim.last_result_s / measured - 1
    print(f"\nValidation ({len(files)} photos, {' + '.join(ops)}, {args.workers} workers, batch {mapping.batch_size}):")
    print(f"  measured, first message enqueued -> last output written: {measured:.1f} s")
    print(f"  predicted by the simulator (same arrivals, durations, cap):  {sim.last_result_s:.1f} s ({error:+.0%})")
    print(
        f"  inputs: {len(durations)} in-function durations (median {statistics.median(durations):.0f} ms), "
        f"{io_ms:.0f} ms per image in the worker besides the render and {batch_ms:.0f} ms per batch, "
        f"cold start {args.cold_start_s} s, "
        f"first call of the warm worker {args.lazy_init_s} s, "
        f"enqueue spread over {arrivals[-1] - arrivals[0]:.1f} s"
    )
    ok = abs(error) <= 0.20
    print(f"{'PASS' if ok else 'FAIL'} predicted within 20 % of measured ({error:+.0%})")
    Path(args.validate_json).write_text(
        json.dumps(
            {"measured_s": measured, "predicted_s": sim.last_result_s, "error": error, "io_ms": io_ms, "run": run}, indent=1
        )
    )
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.lambda_sim", description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--durations", type=Path, default=E2E, help="bench.e2e results, or a JSON list of ms")
    ap.add_argument("--chain", default="portrait", help="chain in the e2e results: portrait or thumbnails")
    ap.add_argument(
        "--source",
        choices=("embedded", "direct"),
        default="direct",
        help="durations: retouch apply's per image (default) or the process function's on the embedded stack",
    )
    ap.add_argument("--images", default="10000,100000", help="burst sizes")
    ap.add_argument("--max-concurrency", type=int, default=None, help="default: template.yaml's")
    ap.add_argument("--account-concurrency", type=int, default=1000)
    ap.add_argument("--cold-start-s", type=float, default=1.2, help="INIT of a new environment (imports, first model load)")
    ap.add_argument("--invoke-overhead-ms", type=float, default=10.0)
    ap.add_argument(
        "--lazy-init-s",
        type=float,
        default=1.0,
        help="first invocation of a warm environment: clients and tracer made on first use (bench.importtime's "
        "'+ first clients and tracer' minus the import)",
    )
    ap.add_argument("--io-ms", type=float, default=60.0, help="S3 GET + PUT and SQS send per image on AWS")
    ap.add_argument("--plot", type=Path, default=PLOT)
    ap.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "lambda_sim.json")
    ap.add_argument("--validate", action="store_true", help="compare with the embedded stack at small scale")
    ap.add_argument("--validate-images", type=int, default=24)
    ap.add_argument("--validate-json", default=str(ROOT / "build" / "bench" / "lambda_sim_validate.json"))
    ap.add_argument("--workers", type=int, default=2, help="validation: the embedded stack's worker cap")
    args = ap.parse_args(argv)
    mapping = template_mapping()
    if args.max_concurrency:
        mapping.max_concurrency = args.max_concurrency
    mapping.account_concurrency = args.account_concurrency
    if args.validate:
        return validate(args, mapping)
    durations, where = load_durations(args.durations, args.chain, args.source)
    costs = Costs(args.cold_start_s, args.invoke_overhead_ms, args.io_ms)
    prices = json.loads((ROOT / "bench" / "prices.json").read_text())
    e2e_data = json.loads(args.durations.read_text()) if args.durations.suffix == ".json" else {}
    per_1000_other = None
    if isinstance(e2e_data, dict) and args.chain in e2e_data and "requests" in e2e_data[args.chain].get("embedded", {}):
        from bench import cost

        est = cost.estimate(e2e_data[args.chain], prices, cost.template_facts(), source=args.source)
        lambda_lines = est["dollars_per_1000"]["Lambda GB-s"] + est["dollars_per_1000"]["Lambda requests"]
        per_1000_other = est["total_per_1000"] - lambda_lines  # the simulation prices the process function
    print(
        f"Lambda SQS scaling simulation: {args.chain}, durations from {where} "
        f"({len(durations)} values, median {statistics.median(durations):.0f} ms, mean {statistics.mean(durations):.0f} ms)"
    )
    print(
        f"mapping: batch {mapping.batch_size}, window {mapping.window_s} s, MaximumConcurrency {mapping.max_concurrency}, "
        f"account {mapping.account_concurrency}, start {mapping.initial} + {mapping.per_minute:.0f}/min, "
        f"{mapping.memory_mb} MB; per image + {costs.io_ms:.0f} ms I/O, {costs.invoke_overhead_ms:.0f} ms per invocation, "
        f"cold start {costs.cold_start_s} s\n"
    )
    head = ("burst", "time to last result", "peak concurrency", "mean concurrency", "invocations", "cold starts")
    print("| " + " | ".join(head) + " | GB-s | Lambda $ | all $ |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    results: dict[str, Result] = {}
    for n in (int(x) for x in args.images.split(",")):
        r = simulate([0.0] * n, durations, mapping, costs)
        results[f"{n:,} images"] = r
        lam = r.billed_gb_s * prices["lambda"]["gb_second_x86"] + r.invocations * prices["lambda"]["request"]
        total = f"{lam + per_1000_other * n / 1000:.2f}" if per_1000_other is not None else "n/a"
        print(
            f"| {n:,} | {r.last_result_s / 60:.1f} min | {r.peak_concurrency} | {r.mean_concurrency:.0f} | {r.invocations:,} | "
            f"{r.cold_starts} | {r.billed_gb_s:,.0f} | {lam:.2f} | {total} |"
        )
    how = plot(results, args.plot, f"{args.chain}: SQS -> Lambda (MaximumConcurrency {mapping.max_concurrency})")
    print(f"\nplot: {args.plot} ({how}); 'all $' adds SQS, S3, DynamoDB, API Gateway and X-Ray from bench.cost")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                k: {
                    **{f: getattr(v, f) for f in ("images", "last_result_s", "peak_concurrency", "mean_concurrency")},
                    "invocations": v.invocations,
                    "billed_gb_s": v.billed_gb_s,
                }
                for k, v in results.items()
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
