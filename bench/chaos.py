"""Chaos run: hundreds of images through the embedded stack while workers are killed at random
(for ``--kill-for`` seconds) and every message is delivered twice. Prints what was submitted,
completed, failed (with reasons), lost, duplicated and counted wrong - the target is zero of
each - and the recovery time: from the last kill to the job's completion.

The stack runs with the template's own queue settings (visibility timeouts, lease), so the
recovery time is what a deployment would see; ``--set NAME=VALUE`` overrides a template parameter.

    .venv/bin/python -m bench.chaos --images 500 --kill-every 3 --kill-for 300   (from the repository root)
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from retouch.cli.client import RetouchClient
from retouch.cli.files import content_type
from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from retouch_testkit.hostile import corpus

FUNCTIONS = ("EnqueueFunction", "ProcessFunction", "NotifyFunction")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--hostile", type=int, default=16, help="hostile files mixed in (from the test corpus)")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between worker kills")
    parser.add_argument("--kill-for", type=float, default=300, help="seconds of killing, from the first upload")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE", help="override a template parameter")
    parser.add_argument("--timeout", type=float, default=2400)
    parser.add_argument("--no-duplicates", action="store_true", help="do not deliver every message twice")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="retouch-chaos-"))
    print(f"writing {args.images} photos and {args.hostile} hostile files to {work}", flush=True)
    paths = write_samples(work / "in", args.images)
    for name, data, _ in corpus()[: args.hostile]:
        path = work / "in" / f"hostile-{name}"
        path.write_bytes(data)
        paths.append(path)

    overrides = dict(item.split("=", 1) for item in args.set)
    with EmbeddedStack(
        workdir=work / "stack", overrides=overrides, schedule_seconds=30, duplicate_deliveries=not args.no_duplicates
    ) as stack:
        client = RetouchClient(stack.api_url, stack.token)
        kills: collections.Counter[str] = collections.Counter()
        stop = threading.Event()
        last_kill = [0.0]

        def killer() -> None:
            rng = random.Random(7)
            until = time.monotonic() + args.kill_for
            while not stop.wait(args.kill_every) and time.monotonic() < until:
                function = rng.choice(FUNCTIONS)
                if stack.kill_worker(function):
                    kills[function] += 1
                    last_kill[0] = time.monotonic()

        started = time.monotonic()
        threading.Thread(target=killer, daemon=True).start()
        job = client.create_job(
            [{"name": p.name, "content_type": content_type(p), "size": p.stat().st_size} for p in paths],
            [{"op": "contrast", "params": {"method": "clahe"}}, {"op": "thumbnail", "params": {"width": 256}}],
            {"format": "jpeg"},
        )
        for upload, path in zip(job["uploads"], paths, strict=True):
            client.upload(upload, path, content_type(path))
        uploaded = time.monotonic()
        print(
            f"job {job['job_id']}: {len(paths)} uploaded in {uploaded - started:.1f} s; "
            f"killing a worker every {args.kill_every} s",
            flush=True,
        )
        status = client.job(job["job_id"])
        while status["status"] != "complete" and time.monotonic() - uploaded < args.timeout:
            time.sleep(2)
            status = client.job(job["job_id"])
            print(
                f"  {time.monotonic() - started:6.1f} s: {status['succeeded']} succeeded, {status['failed']} failed, "
                f"{status['remaining']} remaining; kills so far {sum(kills.values())}",
                flush=True,
            )
        stop.set()
        finished = time.monotonic()

        images = status["images"]
        by_status = collections.Counter(i["status"] for i in images)
        s3 = stack.client("s3")
        bucket = stack.model.buckets["ImagesBucket"]["BucketName"]
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="outputs/")
            for o in page.get("Contents", [])
        ]
        output_for = collections.Counter(k.rsplit("/", 1)[1].split(".")[0] for k in keys)
        succeeded_ids = {i["image_id"] for i in images if i["status"] == "succeeded"}
        lost = [i for i in images if i["status"] not in ("succeeded", "failed")]
        duplicated = sum(n - 1 for n in output_for.values() if n > 1) + len(set(output_for) - succeeded_ids)
        counted_wrong = (
            abs(status["succeeded"] - by_status["succeeded"])
            + abs(status["failed"] - by_status["failed"])
            + abs(status["remaining"] - len(lost))
        )
        reasons = collections.Counter(i.get("error", "")[:90] for i in images if i["status"] == "failed")

        print()
        print(f"submitted       {len(paths)}")
        print(
            f"completed       {by_status['succeeded']} succeeded + {by_status['failed']} failed "
            f"in {finished - started:.1f} s ({len(paths) / (finished - started):.1f} images/s)"
        )
        print(f"workers killed  {sum(kills.values())} ({', '.join(f'{k}: {v}' for k, v in sorted(kills.items()))})")
        if last_kill[0]:
            print(f"recovery        {finished - last_kill[0]:.1f} s from the last kill to completion")
        print(f"every message   {'delivered twice' if not args.no_duplicates else 'delivered once (at least)'}")
        print(f"lost            {len(lost)}")
        print(f"duplicated      {duplicated}")
        print(f"counted wrong   {counted_wrong}")
        print("failed, by reason:")
        for reason, n in reasons.most_common():
            print(f"  {n:4d}  {reason}")
        return 0 if not lost and not counted_wrong and not duplicated else 1


if __name__ == "__main__":
    sys.exit(main())
