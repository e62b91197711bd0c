"""The emulator's CPU per request, by call: the embedded stack's moto servers, the calls the
portrait chain makes (issue 28).

    .venv/bin/python -m bench.moto_cpu [--n 300] [--body-kb 600] [--only PREFIXES] [--spy OUT]

Starts ``retouch.local.moto_main`` as the stack does (S3 and SQS in one process, DynamoDB in its
forked twin), creates a bucket, a queue and a table, then makes ``--n`` requests of each call
from this process (boto3 clients, one at a time) and reads the servers' CPU seconds from
``/proc`` before and after each call's run. ``--spy`` records the servers with py-spy meanwhile
(py-spy must be installed; it is not a dependency of the project).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.append(int(entry))
    return out


def spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    cmd = ["py-spy", "record", "-p", str(pid), "-o", str(out), "-r", "250", "--gil", "--nonblocking", "-f", "raw"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # (attaching)
    return proc


def top(collapsed: Path, n: int = 40) -> None:
    """The functions with the most samples (inclusive, then self) in py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)", ")", f) for f in stack.split(";")]
        total += int(count)
        for f in set(frames):
            inclusive[f] += int(count)
        own[frames[-1]] += int(count)
    print(f"\n{collapsed}: {total} samples")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"-- {title}")
        for f, c in counter.most_common(n):
            print(f"{100 * c / max(1, total):5.1f}% {f[:150]}")


def calls(s3: Any, sqs: Any, ddb: Any, queue: str, body: bytes) -> dict[str, Callable[[int], Any]]:
    """One callable per API call, given the request's number."""
    import urllib.request

    def presigned_get(i: int) -> None:
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "bench-bucket", "Key": f"uploads/{i}"})
        urllib.request.urlopen(url).read()

    def receive_and_delete(i: int) -> None:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if got:
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)]
            sqs.delete_message_batch(QueueUrl=queue, Entries=entries)

    def item(i: int) -> dict[str, Any]:
        return {"pk": {"S": f"JOB#{i % 10}"}, "sk": {"S": f"IMG#{i:05d}"}, "state": {"S": "queued"}, "n": {"N": "1"}}

    def transact(i: int) -> None:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": "t",
                        "Item": {**item(i), "sk": {"S": f"RES#{i:05d}"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "JOB#0"}, "sk": {"S": "JOB"}},
                        "UpdateExpression": "ADD done :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    return {
        "s3 PutObject": lambda i: s3.put_object(Bucket="bench-bucket", Key=f"uploads/{i}", Body=body),
        "s3 HeadObject": lambda i: s3.head_object(Bucket="bench-bucket", Key=f"uploads/{i}"),
        "s3 GetObject": lambda i: s3.get_object(Bucket="bench-bucket", Key=f"uploads/{i}")["Body"].read(),
        "s3 GetObject range": lambda i: s3.get_object(Bucket="bench-bucket", Key=f"uploads/{i}", Range="bytes=0-511")[
            "Body"
        ].read(),
        "s3 GetObject presigned": presigned_get,
        "s3 HeadObject 404": lambda i: _head_missing(s3, i),
        "sqs SendMessage": lambda i: sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"i": i, "pad": "x" * 200})),
        "sqs Receive+DeleteBatch": receive_and_delete,
        "sqs GetQueueAttributes": lambda i: sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
        ),
        "ddb PutItem": lambda i: ddb.put_item(TableName="t", Item=item(i)),
        "ddb GetItem": lambda i: ddb.get_item(TableName="t", Key={"pk": {"S": f"JOB#{i % 10}"}, "sk": {"S": f"IMG#{i:05d}"}}),
        "ddb UpdateItem": lambda i: ddb.update_item(
            TableName="t",
            Key={"pk": {"S": f"JOB#{i % 10}"}, "sk": {"S": f"IMG#{i:05d}"}},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":s": {"S": "done"}},
        ),
        "ddb Query (30 items)": lambda i: ddb.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": f"JOB#{i % 10}"}}, Limit=30
        ),
        "ddb TransactWriteItems": transact,
    }


def _head_missing(s3: Any, i: int) -> None:
    with contextlib.suppress(Exception):  # a 404 is the point
        s3.head_object(Bucket="bench-bucket", Key=f"outputs/missing-{i}")


BASELINES = {
    "server": "m.install_server = lambda: None",
    "keepalive": "moto_http.KeepAliveHandler = moto_http.MotoRequestHandler",
    "log": "moto_http.KeepAliveHandler.log_request = moto_http.MotoRequestHandler.log_request",
}
"""What ``--baseline`` turns off: all of ``install_server``, its kept connections, or its quieter log."""


class Emulator:
    """The stack's two moto servers and clients of them, with a bucket, a queue and a table."""

    def __init__(self, baseline: str, body: bytes, spy_to: Path | None) -> None:
        import boto3
        from botocore.config import Config

        from retouch.local.emulator import MotoServer, free_port

        self.server = MotoServer(fork_port=free_port(), log_path=Path(os.environ.get("MOTO_CPU_LOG", "/dev/null")))
        if baseline:  # the server as it was before install_server's changes (or one of them)
            off = BASELINES[baseline]
            code = f"import sys; from retouch.local import moto_main as m, moto_http; {off}; m.serve(sys.argv[1:])"
            self.server.command = lambda: [sys.executable, "-c", code, *self.server.arguments()]  # type: ignore[method-assign]
        self.server.start()
        assert self.server.proc is not None
        self.pid = self.server.proc.pid
        (self.twin_pid,) = children(self.pid)
        self.spies = (
            [spy(pid, Path(f"{spy_to}{sfx}")) for pid, sfx in ((self.pid, ""), (self.twin_pid, ".ddb"))] if spy_to else []
        )
        kw: dict[str, Any] = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        cfg = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
        self.clients: list[Any] = [boto3.client(s, endpoint_url=self.server.url, config=cfg, **kw) for s in ("s3", "sqs")]
        self.clients.append(boto3.client("dynamodb", endpoint_url=self.server.fork_url, config=cfg, **kw))
        s3, sqs, ddb = self.clients
        s3.create_bucket(Bucket="bench-bucket")
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        ddb.create_table(
            TableName="t",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.calls = calls(s3, sqs, ddb, queue, body)

    def run(self, name: str, numbers: range) -> float:
        """CPU seconds the server spent on ``name`` for each of ``numbers``."""
        pid = self.twin_pid if name.startswith("ddb") else self.pid
        c0 = cpu_seconds(pid)
        for i in numbers:
            self.calls[name](i)
        return cpu_seconds(pid) - c0

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        for p in self.spies:
            p.send_signal(signal.SIGINT)  # py-spy writes what it sampled
            p.wait(30)
        self.server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--body-kb", type=int, default=600)
    ap.add_argument("--spy", type=Path, help="sample both servers with py-spy (--gil) into OUT and OUT.ddb (collapsed stacks)")
    ap.add_argument("--only", default="", help="comma-separated prefixes of the calls to run")
    ap.add_argument("--baseline", choices=sorted(BASELINES), help="also run servers without that, interleaved (50 at a time)")
    args = ap.parse_args(argv)

    body = os.urandom(args.body_kb * 1024)
    base_spy = Path(f"{args.spy}.base") if args.spy else None
    emulators = [Emulator("", body, args.spy)] + ([Emulator(args.baseline, body, base_spy)] if args.baseline else [])
    only = [p for p in args.only.split(",") if p]
    names = [n for n in emulators[0].calls if not only or any(n.startswith(p) for p in only)]
    print(f"load average {os.getloadavg()}; {args.n} requests per call; body {args.body_kb} KB")
    heads = ["server CPU ms per request", *([f"with {BASELINES.get(args.baseline)}", "saved"] if args.baseline else [])]
    print("| call | " + " | ".join(heads) + " |\n|---|" + "---:|" * len(heads))
    try:
        for name in names:
            spent = [0.0] * len(emulators)
            for chunk in range(0, args.n, 50):
                for k, emulator in enumerate(emulators):
                    spent[k] += emulator.run(name, range(chunk, min(args.n, chunk + 50)))
            ms = [1000 * c / args.n for c in spent]
            cells = [f"{ms[0]:.2f}", *([f"{ms[1]:.2f}", f"{ms[1] - ms[0]:.2f}"] if args.baseline else [])]
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    finally:
        for emulator in emulators:
            emulator.stop()
    print(f"load average {os.getloadavg()}")
    for p in (Path(f"{args.spy}{s}") for s in ("", ".ddb", ".base", ".base.ddb")) if args.spy else ():
        if p.exists():
            top(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
