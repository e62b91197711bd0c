"""Dollars per 1,000 images per operation chain, from what ``bench.e2e`` measured.

    .venv/bin/python -m bench.cost                          (reads build/bench/e2e.json)
    .venv/bin/python -m bench.cost --e2e FILE --prices bench/prices.json --json out.json

Inputs and rules (every price from ``bench/prices.json``, dated, us-east-1, no free tier):

* **Lambda, process function**: GB-seconds = mean duration per image (``--source direct``:
  ``retouch apply``'s per-image time, decode + operations + encode in one process, the default;
  ``--source embedded``: the process function's own ``duration_ms`` on the embedded stack, which
  includes the emulator's S3 calls and CPU contention with it) x ``MemorySize`` from
  ``template.yaml``, plus ``--invoke-overhead-ms`` per invocation (runtime and Powertools around
  the records); invocations = the request queue's ``DeleteMessageBatch`` calls (one per
  successful batch), at least images / ``BatchSize``.
* **Other queue consumers** (enqueue, notify, push, webhooks): invocations counted the same way
  from their queues; duration ``--small-function-ms`` each (not measured here: an assumption,
  printed), at their ``MemorySize``.
* **Requests**: counted from the emulator (``bench.aws_requests``) for the whole run, divided by
  the images. Left out: the embedded stack's set-up (CreateQueue, CreateTable, ...), its
  supervisor's ``GetQueueAttributes`` (on AWS the event source mapping watches the queue
  itself) and empty long polls (on AWS they depend on time, not images: see the docs).
  SQS: one request per call (payloads are far below 64 KB); the FIFO events queue at the FIFO
  price. S3: PUT/POST/LIST class and GET/HEAD class. DynamoDB on-demand: 1 WRU per single-item
  write, 1 per item of BatchWriteItem, 2 per item of TransactWriteItems; 1 RRU per GetItem and per
  BatchGetItem key, and per 4 KB returned by Query (at least 1 per call): item sizes under 1 KB
  assumed for writes, strongly consistent reads assumed (eventually consistent halves them).
* **API Gateway HTTP API**: ``--api-requests-per-job`` (create the job, a poll or two, the
  final read) over the job's images; WebSocket messages: one per job event (the events queue's
  sends).
* **S3 storage**: the inputs for ``UploadRetentionDays`` and the outputs for
  ``OutputRetentionDays`` (template defaults), at the measured mean sizes.
* **X-Ray**: ``--xray-sampled`` of invocations recorded (the default sampling rule records the
  first request each second and 5 % of the rest).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT / "bench" / "prices.json"
E2E = ROOT / "build" / "bench" / "e2e.json"
SETUP_CALLS = {
    "CreateQueue",
    "GetQueueUrl",
    "SetQueueAttributes",
    "CreateTable",
    "UpdateTimeToLive",
    "CreateBucket",
    "PutBucketCors",
    "PutBucketNotificationConfiguration",
    "GetQueueAttributes",
}
CONSUMERS = {
    "upload-events": "EnqueueFunction",
    "requests": "ProcessFunction",
    "responses": "NotifyFunction",
    "events.fifo": "PushFunction",
    "webhooks": "WebhookFunction",
}
S3_PUT_CLASS = ("PutObject", "PostObject", "CopyObject", "ListObjects", "MultipartUpload")


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def template_facts() -> dict[str, Any]:
    """Memory sizes, the process function's batch size and the S3 retention days, from ``template.yaml``."""
    from retouch.local.template import find_template, load_template

    t = load_template(find_template(ROOT))
    params = {k: v.get("Default") for k, v in t.get("Parameters", {}).items()}
    default_memory = int(t.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    memory = {}
    batch = {}
    for name, res in t["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.get("Properties", {})
        memory[name] = int(props.get("MemorySize", default_memory))
        for ev in (props.get("Events") or {}).values():
            if ev.get("Type") == "SQS":
                batch[name] = int(ev["Properties"].get("BatchSize", 10))
    return {
        "memory_mb": memory,
        "batch_size": batch,
        "upload_days": float(params.get("UploadRetentionDays") or 7),
        "output_days": float(params.get("OutputRetentionDays") or 30),
    }


def billable_requests(req: dict[str, Any]) -> dict[str, float]:
    """Requests of the run that AWS would bill, by ``service call resource``, empty polls left out."""
    out: dict[str, float] = {}
    for key, count in req["by_resource"].items():
        if key.split(" ", 2)[1] in SETUP_CALLS:
            continue
        out[key] = float(count)
    by_queue = req.get("empty_receives_by_queue")
    if by_queue is not None:
        for queue, count in by_queue.items():
            key = f"sqs ReceiveMessage {queue}"
            out[key] = max(0.0, out.get(key, 0.0) - count)
        return out
    # older results: the empty polls were not counted per queue; take them off in proportion
    empty = float(req.get("empty_receives", 0))
    receives = [k for k in out if k.startswith("sqs ReceiveMessage")]
    total = sum(out[k] for k in receives)
    for k in receives:
        out[k] = max(0.0, out[k] - empty * out[k] / total) if total else 0.0
    return out


def estimate(
    case: dict[str, Any],
    prices: dict[str, Any],
    facts: dict[str, Any],
    *,
    invoke_overhead_ms: float = 10.0,
    small_function_ms: float = 100.0,
    api_requests_per_job: float = 3.0,
    xray_sampled: float = 0.05,
    process_gb_s_per_image: float | None = None,
    source: str = "direct",
) -> dict[str, Any]:
    """Dollars per 1,000 images for one chain measured by ``bench.e2e`` (``case`` = its entry)."""
    e = case["embedded"]
    n = int(case["images"])
    req = e["requests"]
    bill = billable_requests(req)
    items = req.get("items_by_call", {})
    calls = req["by_call"]
    bytes_by_call = req.get("response_bytes_by_call", {})
    p = prices
    per = 1000.0 / n  # scale the run's counts to 1,000 images

    def queue_calls(op: str, queue: str) -> float:
        return sum(v for k, v in bill.items() if k.startswith(f"sqs {op} ") and k.endswith(queue))

    # Lambda
    lam_gb_s = 0.0
    lam_invocations = 0.0
    lines: dict[str, float] = {}
    embedded_ms = e.get("in_function_ms") if source == "embedded" else None
    durations = embedded_ms or case["direct_1"]["per_image_ms"]
    mean_ms = sum(durations) / len(durations)
    for queue, fn in CONSUMERS.items():
        mem_gb = facts["memory_mb"].get(fn, 512) / 1024
        inv = queue_calls("DeleteMessageBatch", queue)
        if fn == "ProcessFunction":
            inv = max(inv, math.ceil(n / facts["batch_size"].get(fn, 1)))
            gb_s = (
                process_gb_s_per_image * n if process_gb_s_per_image else (mean_ms * n + invoke_overhead_ms * inv) / 1000 * mem_gb
            )
        else:
            gb_s = inv * small_function_ms / 1000 * mem_gb
        lam_gb_s += gb_s
        lam_invocations += inv
    api_calls = api_requests_per_job
    lam_gb_s += api_calls * small_function_ms / 1000 * facts["memory_mb"].get("UploadUrlFunction", 512) / 1024
    lam_invocations += api_calls
    lines["Lambda GB-s"] = lam_gb_s * per * p["lambda"]["gb_second_x86"]
    lines["Lambda requests"] = lam_invocations * per * p["lambda"]["request"]
    # SQS
    sqs_std = sum(v for k, v in bill.items() if k.startswith("sqs ") and not k.endswith(".fifo"))
    sqs_fifo = sum(v for k, v in bill.items() if k.startswith("sqs ") and k.endswith(".fifo"))
    lines["SQS"] = per * (sqs_std * p["sqs"]["request_standard"] + sqs_fifo * p["sqs"]["request_fifo"])
    # S3
    s3_put = sum(v for k, v in bill.items() if k.startswith("s3 ") and k.split(" ", 2)[1].startswith(S3_PUT_CLASS))
    s3_get = sum(v for k, v in bill.items() if k.startswith("s3 ") and k.split(" ", 2)[1].startswith(("GetObject", "HeadObject")))
    lines["S3 requests"] = per * (s3_put * p["s3"]["put_copy_post_list"] + s3_get * p["s3"]["get_select_other"])
    in_gb = e.get("input_bytes", 0) / n / 1e9
    out_gb = e.get("output_bytes", 0) / n / 1e9
    gb_months = in_gb * facts["upload_days"] / 30 + out_gb * facts["output_days"] / 30
    lines["S3 storage"] = 1000 * gb_months * p["s3"]["storage_gb_month"]
    # DynamoDB
    wru = sum(calls.get(f"dynamodb {op}", 0) for op in ("PutItem", "UpdateItem", "DeleteItem"))
    wru += items.get("dynamodb BatchWriteItem", 0) + 2 * items.get("dynamodb TransactWriteItems", 0)
    rru = calls.get("dynamodb GetItem", 0) + items.get("dynamodb BatchGetItem", 0)
    rru += max(calls.get("dynamodb Query", 0), bytes_by_call.get("dynamodb Query", 0) / 4096)
    lines["DynamoDB"] = per * (wru * p["dynamodb"]["write_request_unit"] + rru * p["dynamodb"]["read_request_unit"])
    # API Gateway (HTTP API + WebSocket messages: one per job event)
    ws_messages = queue_calls("SendMessage", "events.fifo") + queue_calls("SendMessageBatch", "events.fifo")
    lines["API Gateway"] = per * (
        api_calls * p["api_gateway"]["http_api_request"] + ws_messages * p["api_gateway"]["websocket_message"]
    )
    lines["X-Ray"] = per * lam_invocations * xray_sampled * p["xray"]["trace_recorded"]
    total = sum(lines.values())
    return {
        "images": n,
        "ops": case.get("ops"),
        "mean_process_ms": round(mean_ms, 1),
        "process_memory_mb": facts["memory_mb"].get("ProcessFunction"),
        "lambda_gb_s_per_1000": round(lam_gb_s * per, 2),
        "lambda_invocations_per_1000": round(lam_invocations * per, 1),
        "billable_requests_per_image": {k: round(v / n, 3) for k, v in bill.items()},
        "dynamodb_wru_per_image": round(wru / n, 2),
        "dynamodb_rru_per_image": round(rru / n, 2),
        "dollars_per_1000": {k: round(v, 5) for k, v in lines.items()},
        "total_per_1000": round(total, 4),
    }


def print_table(results: dict[str, dict[str, Any]], prices: dict[str, Any]) -> None:
    cols = list(next(iter(results.values()))["dollars_per_1000"])
    print(f"Dollars per 1,000 images ({prices['region']}, list prices as of {prices['as_of']}, no free tier)\n")
    print("| chain | " + " | ".join(cols) + " | **total** |")
    print("|---|" + "---:|" * (len(cols) + 1))
    for name, r in results.items():
        cells = [f"{r['dollars_per_1000'][c]:.4f}" for c in cols]
        print(f"| {name} ({' + '.join(r['ops'] or [])}) | " + " | ".join(cells) + f" | **{r['total_per_1000']:.4f}** |")
    print()
    for name, r in results.items():
        print(
            f"{name}: mean {r['mean_process_ms']} ms per image in the process function at {r['process_memory_mb']} MB; "
            f"{r['lambda_gb_s_per_1000']} GB-s and {r['lambda_invocations_per_1000']} invocations per 1,000 images; "
            f"DynamoDB {r['dynamodb_wru_per_image']} WRU + {r['dynamodb_rru_per_image']} RRU per image"
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--e2e", type=Path, default=E2E, help="results of python -m bench.e2e")
    ap.add_argument("--prices", type=Path, default=PRICES)
    ap.add_argument("--invoke-overhead-ms", type=float, default=10.0)
    ap.add_argument("--small-function-ms", type=float, default=100.0, help="assumed duration of enqueue/notify/push/API")
    ap.add_argument("--api-requests-per-job", type=float, default=3.0)
    ap.add_argument("--xray-sampled", type=float, default=0.05)
    ap.add_argument(
        "--source",
        choices=("direct", "embedded"),
        default="direct",
        help="per-image durations: retouch apply's (default; one process per core, as a Lambda environment) or the "
        "process function's on the embedded stack (inflated by the emulator sharing the cores)",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not args.e2e.exists():
        sys.stderr.write(f"{args.e2e} not found: run python -m bench.e2e first\n")
        return 2
    data = json.loads(args.e2e.read_text())
    prices, facts = load_prices(args.prices), template_facts()
    results = {
        name: estimate(
            data[name],
            prices,
            facts,
            invoke_overhead_ms=args.invoke_overhead_ms,
            small_function_ms=args.small_function_ms,
            api_requests_per_job=args.api_requests_per_job,
            xray_sampled=args.xray_sampled,
            source=args.source,
        )
        for name in ("thumbnails", "portrait")
        if name in data and "requests" in data[name].get("embedded", {})
    }
    if not results:
        sys.stderr.write("no chain with request counts in the results\n")
        return 2
    print_table(results, prices)
    print(
        f"\nassumed: {args.small_function_ms:.0f} ms per enqueue/notify/push/API invocation, "
        f"{args.invoke_overhead_ms:.0f} ms overhead per process invocation, durations from {args.source}, "
        f"{args.api_requests_per_job:.0f} API requests per job, {args.xray_sampled:.0%} of invocations traced"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
