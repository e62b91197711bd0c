"""``retouch dlq`` against the embedded stack's emulator (a moto server on this machine): queues
named from template.yaml for the stack name, redrive by hand (moto has no message-move tasks)."""

from __future__ import annotations

import json

import pytest

from retouch.cli import dlq
from retouch.cli.main import build_parser
from tests.conftest import Aws

STACK = "retouch-test"  # the stack name the aws_server fixture builds the template's resources for


def test_dlq_embedded_list_and_redrive_by_hand(aws_server: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    bodies = [json.dumps({"job_id": f"j-{n}", "image_id": "i0000", "operations": []}) for n in range(12)]
    where = ["--endpoint", aws_server.endpoint, "--stack-name", STACK, "--queue", "requests"]
    for body in bodies[:8]:
        aws_server.sqs.send_message(QueueUrl=aws_server.queue_url("RequestDLQ"), MessageBody=body)

    # a peek (visibility timeout 0): on moto every receive returns the same first ten, so list
    # shows at most ten messages here
    assert dlq.cmd_dlq(build_parser().parse_args(["dlq", "list", *where])) == 0
    out, err = capsys.readouterr()
    assert sorted(line.split("\t")[4] for line in out.splitlines()) == sorted(f"job j-{n} image i0000 " for n in range(8))
    assert "8 dead-lettered message(s)" in err

    for body in bodies[8:]:
        aws_server.sqs.send_message(QueueUrl=aws_server.queue_url("RequestDLQ"), MessageBody=body)

    assert dlq.cmd_dlq(build_parser().parse_args(["dlq", "redrive", *where])) == 0
    assert "12 message(s) redriven" in capsys.readouterr().err
    assert sorted(m["Body"] for m in aws_server.drain("RequestQueue", 12)) == sorted(bodies)
    assert aws_server.receive("RequestDLQ") == []
