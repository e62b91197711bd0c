"""What importing each Lambda handler costs: ``python -X importtime`` per ``functions/*/app.py``.

    .venv/bin/python -m bench.importtime              (3 runs per handler, the median run shown)
    .venv/bin/python -m bench.importtime --runs 5 --top 12

Each run is a fresh interpreter started from the repository root with ``PYTHONPATH=.`` and the
function's environment from ``template.yaml`` (as Lambda sets it), importing
``functions.<name>.app`` (the handler module) and nothing else: this is the INIT phase without
the first model load. Tracing stays as the template has it (the X-Ray SDK is imported when the
tracer is enabled). The table lists, per handler: the total import time (sum of the "self"
column, the median of ``--runs``), the modules imported, and the biggest costs, both by top-level
package (self time summed) and by direct import (cumulative time).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
TARGETS_S = {"process": 0.8, "preview": 0.8}
"""The issue's targets: 0.8 s for the image functions (process, and preview, which runs the same
operations), 0.4 s for the others."""
COLD = (
    "import time; t0 = time.perf_counter()\n"
    "import functions.{name}.app\n"
    "t1 = time.perf_counter()\n"
    "from retouch.adapters.aws import client\n"
    "from retouch.observability import tracer\n"
    "for service in ('s3', 'sqs', 'dynamodb'): client(service)\n"
    "tracer.tracer\n"
    "print(t1 - t0, time.perf_counter() - t0)\n"
)
"""The whole cold start but the first request: the import, then what the first invocation adds
(botocore and three clients, the tracer with the X-Ray SDK), both loaded lazily."""
DEFAULT_TARGET_S = 0.4


def function_environments() -> dict[str, dict[str, str]]:
    """Folder name under ``functions/`` -> the function's environment from ``template.yaml``."""
    from retouch.local.template import build_model, find_template

    model = build_model(find_template(ROOT), stack="retouch", region="us-east-1", endpoint="http://127.0.0.1:1", overrides={})
    envs = {}
    for fn in model.functions.values():
        folder = Path(fn.module_path).parent.name
        envs[folder] = {k: str(v) for k, v in fn.environment.items()}
    return envs


def measure(name: str, env: dict[str, str]) -> tuple[float, list[tuple[int, int, int, str]]]:
    """(total seconds, [(self us, cumulative us, depth, module)]) of one fresh import."""
    full = {
        **os.environ,
        **env,
        "PYTHONPATH": ".",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import functions.{name}.app"],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import functions.{name}.app failed: {proc.stderr.strip().splitlines()[-1:]}")
    rows = []
    for line in proc.stderr.splitlines():
        m = LINE.match(line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2, m.group(4)))
    return sum(r[0] for r in rows) / 1e6, rows


def cold_start(name: str, env: dict[str, str]) -> float:
    """Seconds from the handler's import to its clients and tracer ready, in a fresh interpreter."""
    full = {**os.environ, **env, "PYTHONPATH": ".", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    full |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.run([sys.executable, "-c", COLD.format(name=name)], cwd=ROOT, env=full, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"cold start of functions.{name}.app failed: {proc.stderr.strip().splitlines()[-1:]}")
    return float(proc.stdout.split()[1])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.importtime", description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--only", default="", help="comma-separated handler folders")
    args = ap.parse_args(argv)
    envs = function_environments()
    names = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    print(f"Handler import time (python -X importtime, median of {args.runs} fresh runs; load {os.getloadavg()})\n")
    print("| handler | import s | modules | target | + first clients and tracer, s | top packages (self time, s) |")
    print("|---|---:|---:|---:|---:|---|")
    details = []
    for name in names:
        runs = sorted((measure(name, envs.get(name, {})) for _ in range(args.runs)), key=lambda r: r[0])
        total, rows = runs[len(runs) // 2]
        by_package: Counter[str] = Counter()
        for self_us, _, _, module in rows:
            by_package[module.split(".")[0]] += self_us
        top = ", ".join(f"{pkg} {us / 1e6:.2f}" for pkg, us in by_package.most_common(args.top))
        target = TARGETS_S.get(name, DEFAULT_TARGET_S)
        verdict = "PASS" if total < target else "FAIL"
        cold = statistics.median(cold_start(name, envs.get(name, {})) for _ in range(args.runs))
        print(f"| {name} | {total:.2f} | {len(rows)} | {verdict} < {target} | {cold:.2f} | {top} |")
        direct = sorted((r for r in rows if r[2] <= 1), key=lambda r: -r[1])[: args.top]
        details.append((name, [statistics.median([r[0] for r in runs]), *[r[0] for r in runs]], direct))
    print("\nBiggest imports by cumulative time (the median run; depth 0 = imported by the handler module itself):\n")
    for name, totals, direct in details:
        costs = "; ".join(f"{m} {cum / 1e6:.2f}" for _, cum, _, m in direct)
        print(f"- {name} (runs: {', '.join(f'{t:.2f}' for t in totals[1:])} s): {costs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
