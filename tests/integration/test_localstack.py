"""The template's bucket and queues in LocalStack (no Docker), which moto cannot stand in for:
LocalStack enforces presigned POST policies (size range, content type, pinned key, expiry).

LocalStack runs on Python 3.13 only, so it lives in its own venv (``scripts/localstack.sh setup``,
run by the fixture when needed) and is started as a subprocess on a free port with its state in
a temporary folder. The tests reach it through ``localstack-client`` (its session and endpoint
configuration for a LocalStack host), never through hand-built endpoint URLs.

Account id: LocalStack takes a 12-digit access key id as the account id, so the clients here use
``123456789012`` (the template resolver's account, moto's default) and the ARNs the resolver
computes name real queues. With any other key LocalStack's account is ``000000000000`` and it
refuses the template's notification configuration ("Unable to validate the following destination
configurations").

Presigned GET URLs are checked (signature and expiry) because S3_SKIP_SIGNATURE_VALIDATION=0.

Not covered, because LocalStack 2026.3 does not check it: the signature of a POST policy. A policy
re-encoded with wider conditions is accepted; only an expired or undecodable policy, or a form that
breaks the policy's conditions, is refused. Real S3 also rejects the re-encoded policy.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import requests
from botocore.config import Config
from localstack_client import config as localstack_config
from localstack_client.session import Session

from retouch.adapters.queue import MessageQueue
from retouch.adapters.storage import ObjectStore
from retouch.cli import dlq
from retouch.keys import decode_event_key, upload_key
from retouch.local.resources import create_resources
from retouch.local.template import ACCOUNT_ID, StackModel, build_model
from tests.conftest import photo_bytes

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "localstack.sh"
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
STACK = "retouch-ls"
# A 12-digit access key id is LocalStack's account id; "test" is the secret LocalStack signs
# presigned requests with when the access key is not one it issued.
ACCESS_KEY, SECRET_KEY = ACCOUNT_ID, "test"
MAX_BYTES = 10_000
START_TIMEOUT = 60.0


# --- LocalStack process ----------------------------------------------------------------------
def _localstack_python() -> Path:
    """The LocalStack venv's python, set up by ``scripts/localstack.sh setup`` if needed.

    Fails (never skips) when the venv cannot be set up, so a clean CI machine runs this tier."""
    try:
        setup = subprocess.run(["bash", str(SCRIPT), "setup"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"`{SCRIPT} setup` could not run: {exc}", pytrace=False)
    if setup.returncode != 0:
        pytest.fail(
            f"`{SCRIPT} setup` failed (exit {setup.returncode}); LocalStack needs python3.13 and PyPI access:\n"
            + "\n".join(line for line in (setup.stdout + setup.stderr).splitlines() if "WARNING: Location" not in line)[-3000:],
            pytrace=False,
        )
    python = Path(subprocess.run(["bash", str(SCRIPT), "python"], capture_output=True, text=True, check=True).stdout.strip())
    if not os.access(python, os.X_OK):
        pytest.fail(f"`{SCRIPT} setup` succeeded but {python} is missing", pytrace=False)
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _health(url: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as resp:
        return json.load(resp).get("services", {})


def _session(host: str) -> tuple[Session, str]:
    """A localstack-client session for the LocalStack at ``host`` (``127.0.0.1:PORT``), and its
    edge URL.

    localstack-client prefers ``AWS_ENDPOINT_URL`` to the host it is given (and takes the scheme
    from ``USE_SSL``), so neither may leak in from the environment that runs the tests."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        env.delenv("USE_SSL", raising=False)
        session = Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION, localstack_host=host
        )
        url = localstack_config.get_service_endpoint("s3", localstack_host=host)
    assert url is not None
    return session, url


@dataclass
class LocalStack:
    url: str
    session: Session
    process: subprocess.Popen[bytes]
    log: Path
    started_in: float


@pytest.fixture(scope="module")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    python = _localstack_python()
    state = tmp_path_factory.mktemp("localstack")
    host = f"127.0.0.1:{_free_port()}"
    session, url = _session(host)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALSTACK_", "PYTHON"))}
    env.update(
        GATEWAY_LISTEN=host,
        GATEWAY_SERVER="hypercorn",
        SERVICES="s3,sqs",
        EAGER_SERVICE_LOADING="1",  # load both at start ("running"), not on the first request
        DISABLE_EVENTS="1",  # no analytics calls
        DNS_ADDRESS="0",  # no DNS server
        SKIP_SSL_CERT_DOWNLOAD="1",  # offline: do not try to fetch its TLS certificate
        # these machines are containers: without this LocalStack takes the container layout and
        # writes to /var/lib/localstack; in host mode every folder lives under FILESYSTEM_ROOT
        OVERRIDE_IN_DOCKER="0",
        FILESYSTEM_ROOT=str(state / "fs"),
        LOCALSTACK_VOLUME_DIR=str(state / "volume"),
        # queue URLs as http://127.0.0.1:<port>/<account>/<name>, the shape StackModel.queue_url
        # builds (the default, sqs.<region>.localhost.localstack.cloud, needs public DNS)
        SQS_ENDPOINT_STRATEGY="off",
        LOCALSTACK_HOST=host,
        S3_SKIP_SIGNATURE_VALIDATION="0",
    )
    log = state / "localstack.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            cwd=state,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = started + START_TIMEOUT
        services: dict[str, str] = {}
        while True:
            if process.poll() is not None:
                pytest.fail(f"LocalStack exited with {process.returncode} while starting:\n{_tail(log)}", pytrace=False)
            try:
                services = _health(url)
            except OSError:
                services = {}
            if all(services.get(s) == "running" for s in ("s3", "sqs")):
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"LocalStack not ready after {START_TIMEOUT:.0f}s (s3={services.get('s3')}, sqs={services.get('sqs')}):\n"
                    f"{_tail(log)}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield LocalStack(url, session, process, log, time.monotonic() - started)
    finally:
        _stop(process)
        shutil.rmtree(state / "fs", ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL: LocalStack's shutdown can hang on open keep-alive connections."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: it and only its children
        process.wait(timeout=10)


# --- the template's resources ----------------------------------------------------------------
@dataclass
class Stack:
    ls: LocalStack
    model: StackModel
    s3: Any
    sqs: Any
    bucket: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    """Every S3 event record received from UploadEvents so far (tests share the queue)."""

    def store(self) -> ObjectStore:
        return ObjectStore(self.s3, self.bucket)

    def exists(self, key: str) -> bool:
        return self.store().head(key) is not None

    def upload_event(self, key: str, timeout: float = 15) -> dict[str, Any]:
        """The ObjectCreated record for ``key`` (decoded), waiting for it to arrive."""
        queue_url = self.model.queue_url(self.ls.url, "UploadEventsQueue")
        deadline = time.monotonic() + timeout
        while True:
            for record in self.seen:
                if decode_event_key(record["s3"]["object"]["key"]) == key:
                    return record
            if time.monotonic() > deadline:
                raw = [r["s3"]["object"]["key"] for r in self.seen]
                raise AssertionError(f"no ObjectCreated event for {key!r} within {timeout}s; got keys {raw}")
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            for message in messages:
                body = json.loads(message["Body"])
                self.seen += body.get("Records", [])  # s3:TestEvent has none
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _client(ls: LocalStack, service: str) -> Any:
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 2})
    return ls.session.client(service, config=config)


@pytest.fixture(scope="module")
def stack(localstack: LocalStack) -> Iterator[Stack]:
    model = build_model(TEMPLATE, stack=STACK, region=REGION, endpoint=localstack.url)
    s3, sqs = _client(localstack, "s3"), _client(localstack, "sqs")
    create_resources(model, localstack.url, s3=s3, sqs=sqs, ddb=None)
    bucket = model.buckets["ImagesBucket"]["BucketName"]
    yield Stack(localstack, model, s3, sqs, bucket)
    s3.close()
    sqs.close()


# --- helpers ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_jpeg() -> bytes:
    data = photo_bytes("astronaut", size=(64, 64), quality=80)
    assert len(data) < MAX_BYTES
    return data


def _new_key(owner: str = "alice") -> str:
    return upload_key("uploads/", owner, f"j-{uuid.uuid4().hex}", "i0000")


def _post(post: dict[str, Any], data: bytes, fields: dict[str, str] | None = None) -> requests.Response:
    form = {**post["fields"], **(fields or {})}
    return requests.post(post["url"], data=form, files={"file": ("photo.jpg", data, "image/jpeg")}, timeout=30)


def _error_code(resp: requests.Response) -> str:
    import xml.etree.ElementTree as ET

    try:
        return ET.fromstring(resp.content).findtext("Code") or ""
    except ET.ParseError:
        return ""


# --- tests -----------------------------------------------------------------------------------
def test_localstack_starts_with_s3_and_sqs(localstack: LocalStack) -> None:
    print(f"LocalStack ready in {localstack.started_in:.1f}s at {localstack.url}")
    services = _health(localstack.url)
    assert services["s3"] == "running" and services["sqs"] == "running"
    assert localstack.session.client("sqs").meta.endpoint_url == localstack.url  # localstack-client points at it
    assert localstack.started_in < 30


def test_template_resources_created_with_template_arns(stack: Stack) -> None:
    assert stack.bucket == f"{STACK}-images-{ACCOUNT_ID}"
    stack.s3.head_bucket(Bucket=stack.bucket)
    for logical_id, spec in stack.model.queues.items():
        url = stack.sqs.get_queue_url(QueueName=spec.name)["QueueUrl"]
        assert url == stack.model.queue_url(stack.ls.url, logical_id)
        attrs = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{spec.name}"
        for name, value in spec.attributes.items():
            assert attrs[name] == value, (logical_id, name)
        if spec.dead_letter:
            redrive = json.loads(attrs["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"].endswith(f":{ACCOUNT_ID}:{stack.model.queues[spec.dead_letter].name}")
            assert int(redrive["maxReceiveCount"]) == spec.max_receive_count


def test_template_notification_targets_upload_events_for_uploads_prefix(stack: Stack) -> None:
    config = stack.s3.get_bucket_notification_configuration(Bucket=stack.bucket)
    (queue_config,) = config["QueueConfigurations"]
    assert queue_config["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{stack.model.queues['UploadEventsQueue'].name}"
    assert queue_config["Events"] == ["s3:ObjectCreated:*"]
    rules = {r["Name"].lower(): r["Value"] for r in queue_config["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "uploads/"}


def test_template_cors_allows_browser_post(stack: Stack) -> None:
    (rule,) = stack.s3.get_bucket_cors(Bucket=stack.bucket)["CORSRules"]
    assert "POST" in rule["AllowedMethods"]
    assert rule["AllowedOrigins"]


def test_presigned_post_valid_jpeg_is_stored(stack: Stack, small_jpeg: bytes) -> None:
    key = _new_key()
    post = stack.store().presigned_post(key, "image/jpeg", size=len(small_jpeg), expires=300)
    assert post["url"].startswith(stack.ls.url)
    resp = _post(post, small_jpeg)
    assert resp.status_code in (201, 204), resp.text
    head = stack.store().head(key)
    assert head is not None
    assert head["ContentLength"] == len(small_jpeg)
    assert head["ContentType"] == "image/jpeg"
    assert stack.store().read(key) == small_jpeg


def test_presigned_post_empty_file_is_accepted(stack: Stack) -> None:
    """An empty file declared as such is stored (enqueue fails the image with a reason instead)."""
    key = _new_key()
    resp = _post(stack.store().presigned_post(key, "image/jpeg", size=0, expires=300), b"")
    assert resp.status_code in (201, 204), resp.text
    assert stack.store().read(key) == b""


def test_presigned_post_oversized_body_is_rejected(stack: Stack) -> None:
    key = _new_key()
    post = stack.store().presigned_post(key, "image/jpeg", size=MAX_BYTES, expires=300)
    resp = _post(post, b"\xff" * (MAX_BYTES + 1))
    assert resp.status_code == 400, resp.text
    assert _error_code(resp) == "EntityTooLarge", resp.text
    assert not stack.exists(key)


@pytest.mark.parametrize("declared", [1000, None])
def test_presigned_post_of_another_size_is_rejected(stack: Stack, small_jpeg: bytes, declared: int | None) -> None:
    """The policy allows exactly the declared size: a larger file cannot pass for a small one
    (quotas count declared bytes), nor a smaller one."""
    key = _new_key()
    size = declared if declared is not None else len(small_jpeg) + 1
    resp = _post(stack.store().presigned_post(key, "image/jpeg", size=size, expires=300), small_jpeg)
    assert resp.status_code == 400, resp.text
    assert _error_code(resp) == ("EntityTooLarge" if len(small_jpeg) > size else "EntityTooSmall"), resp.text
    assert not stack.exists(key)


def test_presigned_post_at_max_bytes_is_accepted(stack: Stack) -> None:
    key = _new_key()
    post = stack.store().presigned_post(key, "image/jpeg", size=MAX_BYTES, expires=300)
    resp = _post(post, b"\xff" * MAX_BYTES)
    assert resp.status_code in (201, 204), resp.text
    assert stack.store().head(key)["ContentLength"] == MAX_BYTES  # type: ignore[index]


def test_presigned_post_wrong_content_type_is_rejected(stack: Stack, small_jpeg: bytes) -> None:
    key = _new_key()
    post = stack.store().presigned_post(key, "image/jpeg", size=len(small_jpeg), expires=300)
    resp = _post(post, small_jpeg, {"Content-Type": "text/plain"})
    assert resp.status_code == 403, resp.text
    assert _error_code(resp) == "AccessDenied", resp.text
    assert not stack.exists(key)


@pytest.mark.parametrize("other", ["other_user", "dot_dot", "uploads_root"])
def test_presigned_post_rekeyed_upload_is_rejected(stack: Stack, small_jpeg: bytes, other: str) -> None:
    key = _new_key("alice")
    other_key = {
        "other_user": _new_key("mallory"),
        "dot_dot": key.rsplit("/", 1)[0] + "/../x",
        "uploads_root": "uploads/x",
    }[other]
    post = stack.store().presigned_post(key, "image/jpeg", size=len(small_jpeg), expires=300)
    resp = _post(post, small_jpeg, {"key": other_key})
    assert resp.status_code == 403, resp.text
    assert _error_code(resp) == "AccessDenied", resp.text
    assert not stack.exists(other_key)
    assert not stack.exists(key)


def test_presigned_post_expired_policy_is_rejected(stack: Stack, small_jpeg: bytes) -> None:
    key = _new_key()
    post = stack.store().presigned_post(key, "image/jpeg", size=len(small_jpeg), expires=1)
    time.sleep(2.1)  # the policy's expiration has second precision
    resp = _post(post, small_jpeg)
    assert resp.status_code == 403, resp.text
    assert _error_code(resp) == "AccessDenied", resp.text
    assert "expired" in resp.text.lower()
    assert not stack.exists(key)


def test_presigned_post_tampered_policy_is_rejected(stack: Stack, small_jpeg: bytes) -> None:
    """A policy that no longer decodes (one byte changed) is refused as a signature mismatch."""
    key = _new_key()
    post = stack.store().presigned_post(key, "image/jpeg", size=len(small_jpeg), expires=300)
    raw = bytearray(base64.b64decode(post["fields"]["policy"]))
    raw[0] ^= 0x80  # '{' -> invalid UTF-8
    resp = _post(post, small_jpeg, {"policy": base64.b64encode(bytes(raw)).decode()})
    assert resp.status_code == 403, resp.text
    assert _error_code(resp) == "SignatureDoesNotMatch", resp.text
    assert not stack.exists(key)


def _get_with(url: str, **replace: str) -> requests.Response:
    """GET ``url`` with some query parameters replaced."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(replace)
    return requests.get(urlunsplit(parts._replace(query=urlencode(query))), timeout=30)


def test_presigned_get_valid_url_downloads_as_attachment(stack: Stack, small_jpeg: bytes) -> None:
    key = _new_key()
    stack.store().write(key, small_jpeg, "image/jpeg")
    resp = requests.get(stack.store().presigned_get(key, 300, download_name='my "photo".jpg'), timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.content == small_jpeg
    assert resp.headers["Content-Disposition"] == "attachment; filename=\"my photo.jpg\"; filename*=UTF-8''my%20%22photo%22.jpg"


def test_presigned_get_tampered_signature_is_rejected(stack: Stack, small_jpeg: bytes) -> None:
    key = _new_key()
    stack.store().write(key, small_jpeg, "image/jpeg")
    url = stack.store().presigned_get(key, 300)
    resp = _get_with(url, **{"X-Amz-Signature": "0" * 64})
    assert resp.status_code == 403, resp.text
    assert _error_code(resp) == "SignatureDoesNotMatch", resp.text


def test_presigned_get_other_key_is_rejected(stack: Stack, small_jpeg: bytes) -> None:
    mine, theirs = _new_key("alice"), _new_key("mallory")
    stack.store().write(theirs, b"not yours", "image/jpeg")
    url = stack.store().presigned_get(mine, 300)
    resp = requests.get(url.replace(mine, theirs), timeout=30)
    assert resp.status_code == 403, resp.text
    assert b"not yours" not in resp.content


def test_presigned_get_expired_url_is_rejected(stack: Stack, small_jpeg: bytes) -> None:
    key = _new_key()
    stack.store().write(key, small_jpeg, "image/jpeg")
    url = stack.store().presigned_get(key, 1)
    time.sleep(2.1)
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 403, resp.text
    assert _error_code(resp) == "AccessDenied", resp.text
    assert "expired" in resp.text.lower()


def test_upload_notification_valid_upload_reaches_upload_events(stack: Stack, small_jpeg: bytes) -> None:
    key = _new_key()
    resp = _post(stack.store().presigned_post(key, "image/jpeg", size=len(small_jpeg), expires=300), small_jpeg)
    assert resp.status_code in (201, 204), resp.text
    record = stack.upload_event(key)
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == stack.bucket
    assert unquote_plus(record["s3"]["object"]["key"]) == key
    assert int(record["s3"]["object"]["size"]) == len(small_jpeg)


def test_upload_notification_encoded_key_decodes_once(stack: Stack) -> None:
    """Keys with spaces, '+', '%' and non-ASCII arrive URL-encoded; unquote_plus restores them."""
    key = f"uploads/odd {uuid.uuid4().hex[:6]}/a+b%20c=ü.jpg"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"x", ContentType="image/jpeg")
    record = stack.upload_event(key)
    raw = record["s3"]["object"]["key"]
    assert raw != key  # encoded on the wire
    assert unquote_plus(raw) == key


def test_upload_notification_other_prefixes_are_filtered(stack: Stack) -> None:
    outside = f"outputs/{uuid.uuid4().hex}.jpg"
    marker = _new_key()
    stack.s3.put_object(Bucket=stack.bucket, Key=outside, Body=b"x", ContentType="image/jpeg")
    stack.s3.put_object(Bucket=stack.bucket, Key=marker, Body=b"x", ContentType="image/jpeg")
    stack.upload_event(marker)  # events arrive in order: the outputs/ one would be here by now
    time.sleep(0.5)
    stack.upload_event(marker, timeout=1)
    assert all(decode_event_key(r["s3"]["object"]["key"]) != outside for r in stack.seen)


# --- `retouch dlq redrive` on AWS: SQS message-move tasks (moto has none, LocalStack does) -----
def _drain(queue: MessageQueue, expected: int, timeout: float = 15) -> list[str]:
    bodies: list[str] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < expected and time.monotonic() < deadline:
        for message in queue.receive(10, wait_seconds=1):
            bodies.append(message["Body"])
            queue.delete(message["ReceiptHandle"])
    return bodies


@pytest.mark.timeout(120)
def test_dlq_redrive_move_task_returns_dead_letters_to_their_queue(stack: Stack) -> None:
    source_id, dlq_id = dlq.QUEUES["requests"]
    source = MessageQueue(stack.sqs, stack.model.queue_url(stack.ls.url, source_id))
    dead = MessageQueue(stack.sqs, stack.model.queue_url(stack.ls.url, dlq_id))
    pairs = [dlq.DeadLetterPair("requests", source, dead)]
    for round_, count in enumerate((3, 2)):  # the second round has the first's finished task listed before it
        bodies = [json.dumps({"job_id": f"j-{round_}{n}", "image_id": "i0000"}) for n in range(count)]
        for body in bodies:
            dead.send(body)
        moved, tasks = dlq.redrive_with_move_tasks(stack.sqs, pairs, poll_seconds=0.2)
        assert [(t.status, t.moved) for t in tasks] == [("COMPLETED", count)] and moved == count
        assert sorted(_drain(source, count)) == sorted(bodies)
        attrs = stack.sqs.get_queue_attributes(QueueUrl=dead.url, AttributeNames=["All"])["Attributes"]
        assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")
    # nothing dead-lettered: no task is started
    assert dlq.redrive_with_move_tasks(stack.sqs, pairs, poll_seconds=0.2) == (0, [])
    latest = stack.sqs.list_message_move_tasks(SourceArn=tasks[0].dlq_arn, MaxResults=10)["Results"]
    assert [t["Status"] for t in latest] == ["COMPLETED", "COMPLETED"]
