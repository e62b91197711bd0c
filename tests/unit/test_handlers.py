"""The four handlers against moto's in-process mock, resources built from template.yaml."""

from __future__ import annotations

import io
import json

from PIL import Image

from functions.enqueue import app as enqueue_app
from functions.notify import app as notify_app
from functions.process import app as process_app
from retouch.local.events import sqs_event
from retouch.models import ImageStatus, OutputSpec, ProcessRequest, ProcessResult
from tests.conftest import Aws, photo_bytes
from tests.helpers import call_api, context, create_job, job_status, run_consumer

THUMB = [{"op": "thumbnail", "params": {"width": 64}}]
IMAGE = {"name": "a.jpg", "content_type": "image/jpeg", "size": len(photo_bytes())}
"""An image the job declares: the size of the photo most tests upload (``astronaut_jpeg``)."""


def declared(data: bytes, name: str = "a.jpg") -> dict:
    """The image a job declares for uploading ``data``."""
    return {**IMAGE, "name": name, "size": len(data)}


def s3_record_message(aws: Aws, key: str, size: int) -> dict:
    body = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Post",
                "s3": {"bucket": {"name": aws.bucket, "arn": f"arn:aws:s3:::{aws.bucket}"}, "object": {"key": key, "size": size}},
            }
        ]
    }
    return {"MessageId": f"m-{key[-5:]}", "ReceiptHandle": "rh", "Body": json.dumps(body)}


def put_upload(aws: Aws, key: str, data: bytes) -> dict:
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=data)
    return s3_record_message(aws, key, len(data))


def upload_key(job: dict, n: int = 0) -> str:
    return job["uploads"][n]["fields"]["key"]


# --- API ----------------------------------------------------------------------------------------
def test_api_create_job_returns_presigned_posts_pinned_to_keys(aws: Aws) -> None:
    job = create_job([IMAGE, {**IMAGE, "name": "../../etc/passwd +ü.png"}], THUMB)
    assert job["job_id"].startswith("j-") and job["total"] == 2
    keys = [u["fields"]["key"] for u in job["uploads"]]
    assert all(k.startswith("uploads/") and job["job_id"] in k for k in keys)
    assert not any(".." in k or "passwd" in k or " " in k for k in keys)
    policy = json.loads(__import__("base64").b64decode(job["uploads"][0]["fields"]["policy"]))
    conditions = json.dumps(policy["conditions"])
    assert "content-length-range" in conditions and '"image/"' in conditions and keys[0] in conditions
    assert job["operations"] == [{"op": "thumbnail", "params": {"width": 64, "fit": "contain", "upscale": False}}]


def test_api_job_status_only_for_owner(aws: Aws) -> None:
    job = create_job([IMAGE], THUMB)
    status, body = job_status(job["job_id"])
    assert status == 200 and body["status"] == "running" and body["images"][0]["status"] == "pending"
    assert job_status(job["job_id"], sub="mallory")[0] == 404
    assert job_status("j-" + "0" * 32)[0] == 404


def test_api_without_token_is_401(aws: Aws) -> None:
    status, body = call_api("GET", "/operations", sub=None)
    assert status == 401 and "token" in body["error"]["message"]


def test_api_rejects_bad_requests_with_precise_messages(aws: Aws) -> None:
    cases = [
        ({"images": [IMAGE], "operations": [{"op": "sharpen"}]}, "unknown operation 'sharpen'"),
        ({"images": [IMAGE], "operations": [{"op": "thumbnail", "params": {"width": -3}}]}, "at least 1"),
        ({"images": [IMAGE] * 1001, "operations": THUMB}, "at most 1000 images"),
        ({"images": [{**IMAGE, "content_type": "text/plain"}], "operations": THUMB}, "image/*"),
        ({"images": [{**IMAGE, "size": 60 * 1024 * 1024}], "operations": THUMB}, "limit"),
        ({"images": [IMAGE], "operations": THUMB, "output": "gif"}, "output format 'gif'"),
        ("{not json", "not valid JSON"),
        ('{"images": [], "pad": "' + "x" * (1024 * 1024) + '"}', "the limit is 1048576 bytes"),
    ]
    for body, message in cases:
        status, reply = call_api("POST", "/jobs", body=body)
        assert status == 400, (body, reply)
        assert message in reply["error"]["message"], (message, reply)


def test_api_lists_operations_from_the_registry(aws: Aws) -> None:
    status, body = call_api("GET", "/operations")
    names = {o["name"] for o in body["operations"]}
    assert status == 200 and {"thumbnail", "crop", "contrast"} <= names
    assert body["output_formats"][:4] == ["auto", "jpeg", "png", "webp"]


def test_api_lists_own_jobs_only(aws: Aws) -> None:
    mine = create_job([IMAGE], THUMB)
    create_job([IMAGE], THUMB, sub="bob")
    status, body = call_api("GET", "/jobs")
    assert status == 200 and [j["job_id"] for j in body["jobs"]] == [mine["job_id"]]


# --- enqueue ------------------------------------------------------------------------------------
def test_enqueue_sends_the_image_index(aws: Aws, astronaut_jpeg: bytes) -> None:
    job = create_job([IMAGE], THUMB)
    event = sqs_event([put_upload(aws, upload_key(job), astronaut_jpeg)], aws.queue_arn("UploadEventsQueue"))
    assert enqueue_app.lambda_handler(event, context()) == {"batchItemFailures": []}
    messages = aws.receive("RequestQueue")
    assert len(messages) == 1
    request = ProcessRequest.from_json(messages[0]["Body"])
    assert (request.job_id, request.image_id, request.name, request.key) == (job["job_id"], "i0000", "a.jpg", upload_key(job))
    assert request.operations[0].op == "thumbnail"
    assert job_status(job["job_id"])[1]["images"][0]["status"] == "queued"


def test_enqueue_fails_a_non_image_straight_away(aws: Aws) -> None:
    text = b"hello, I am text pretending to be a JPEG"
    job = create_job([declared(text), IMAGE], THUMB)
    event = sqs_event([put_upload(aws, upload_key(job, 0), text)], aws.queue_arn("UploadEventsQueue"))
    enqueue_app.lambda_handler(event, context())
    assert aws.receive("RequestQueue") == []
    _, body = job_status(job["job_id"])
    assert body["failed"] == 1 and body["images"][0]["status"] == "failed"
    assert "not a supported image" in body["images"][0]["error"] and "text" in body["images"][0]["error"]
    assert body["status"] == "running"  # the other image is still to come


def test_enqueue_decodes_url_encoded_keys_and_ignores_foreign_objects(aws: Aws, astronaut_jpeg: bytes) -> None:
    job = create_job([IMAGE], THUMB)
    key = upload_key(job)
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=astronaut_jpeg)
    encoded = s3_record_message(aws, key.replace("/", "%2F"), len(astronaut_jpeg))
    foreign = put_upload(aws, "uploads/someone/else.jpg", astronaut_jpeg)
    response = enqueue_app.lambda_handler(sqs_event([encoded, foreign], aws.queue_arn("UploadEventsQueue")), context())
    assert response == {"batchItemFailures": []}
    assert len(aws.receive("RequestQueue")) == 1


def test_enqueue_checks_a_batch_together_and_fails_only_the_record_in_trouble(
    aws: Aws, astronaut_jpeg: bytes, monkeypatch
) -> None:
    """Uploads of two jobs (the same image ids in both) in one batch: one send for all the
    requests, and the record whose upload cannot be read right now is the only one retried."""
    from retouch.errors import TransientError
    from retouch.logic import deps

    jobs = [create_job([IMAGE] * 3, THUMB), create_job([IMAGE] * 3, THUMB)]
    messages = [put_upload(aws, upload_key(job, n), astronaut_jpeg) for job in jobs for n in range(3)]
    for n, message in enumerate(messages):
        message["MessageId"] = f"m{n}"  # (SQS's ids are unique; the helper's are per image id)
    enqueue = deps.enqueue_deps()
    troubled, read = upload_key(jobs[1], 2), enqueue.store.read

    def flaky_read(key: str, **kwargs: object) -> bytes | None:
        if key == troubled:
            raise TransientError("S3 read: temporarily unavailable")
        return read(key, **kwargs)

    sends: list[int] = []
    send_batch = enqueue.requests.send_batch
    monkeypatch.setattr(enqueue.store, "read", flaky_read)
    monkeypatch.setattr(
        enqueue.requests, "send_batch", lambda entries: sends.append(len(entries := list(entries))) or send_batch(entries)
    )
    response = enqueue_app.lambda_handler(sqs_event(messages, aws.queue_arn("UploadEventsQueue")), context())
    assert response == {"batchItemFailures": [{"itemIdentifier": messages[-1]["MessageId"]}]}
    assert sends == [5]
    sent = {(r.job_id, r.image_id) for r in (ProcessRequest.from_json(m["Body"]) for m in aws.drain("RequestQueue", 5))}
    assert sent == {(job["job_id"], f"i{n:04d}") for job in jobs for n in range(3)} - {(jobs[1]["job_id"], "i0002")}


def test_enqueue_sends_one_request_per_image_however_often_its_upload_is_replayed(aws: Aws, astronaut_jpeg: bytes) -> None:
    """A presigned POST can be replayed within its lifetime (each POST fires ObjectCreated, a new
    event): only the event that queued the image sends its request; its own redelivery sends it
    again (the first send may have been lost); the replays are ignored."""
    job = create_job([IMAGE], THUMB)
    first = put_upload(aws, upload_key(job), astronaut_jpeg)
    replays = [{**put_upload(aws, upload_key(job), astronaut_jpeg), "MessageId": f"replay-{n}"} for n in range(5)]
    queue = aws.queue_arn("UploadEventsQueue")
    assert enqueue_app.lambda_handler(sqs_event([first], queue), context()) == {"batchItemFailures": []}
    for replay in replays:
        assert enqueue_app.lambda_handler(sqs_event([replay], queue), context()) == {"batchItemFailures": []}
    assert len(aws.receive("RequestQueue")) == 1
    enqueue_app.lambda_handler(sqs_event([first], queue), context())  # the first event redelivered
    assert len(aws.receive("RequestQueue")) == 1


def test_enqueue_fails_an_upload_of_another_size_than_declared(aws: Aws, astronaut_jpeg: bytes) -> None:
    job = create_job([{**IMAGE, "size": 1000}, IMAGE], THUMB)
    enqueue_app.lambda_handler(
        sqs_event([put_upload(aws, upload_key(job), astronaut_jpeg)], aws.queue_arn("UploadEventsQueue")), context()
    )
    assert aws.receive("RequestQueue") == []
    _, body = job_status(job["job_id"])
    error = body["images"][0]["error"]
    assert body["images"][0]["status"] == "failed" and f"{len(astronaut_jpeg):,} bytes" in error and "1,000 bytes" in error
    assert "Create a new job" in error


# --- process ------------------------------------------------------------------------------------
def _enqueue(aws: Aws, job: dict, datas: list[bytes]) -> None:
    messages = [put_upload(aws, upload_key(job, n), d) for n, d in enumerate(datas)]
    enqueue_app.lambda_handler(sqs_event(messages, aws.queue_arn("UploadEventsQueue")), context())


def test_process_writes_output_and_result(aws: Aws, astronaut_jpeg: bytes) -> None:
    job = create_job([IMAGE], [{"op": "crop", "params": {"aspect": "2:1"}}, *THUMB], output={"format": "png"})
    _enqueue(aws, job, [astronaut_jpeg])
    response = run_consumer(aws, "RequestQueue", process_app.lambda_handler, 1)
    assert response == {"batchItemFailures": []}
    [message] = aws.receive("ResponseQueue")
    result = ProcessResult.from_json(message["Body"])
    assert result.status is ImageStatus.SUCCEEDED and result.output_key.endswith(".png")
    out = Image.open(io.BytesIO(aws.s3.get_object(Bucket=aws.bucket, Key=result.output_key)["Body"].read()))
    assert out.format == "PNG" and out.size == (64, 32) == (result.width, result.height)


def test_process_fails_a_corrupt_image_and_acknowledges_it(aws: Aws, astronaut_jpeg: bytes) -> None:
    job = create_job([declared(astronaut_jpeg[:2000]), IMAGE], THUMB)
    _enqueue(aws, job, [astronaut_jpeg[:2000], astronaut_jpeg])
    response = run_consumer(aws, "RequestQueue", process_app.lambda_handler, 2)
    assert response == {"batchItemFailures": []}
    results = {r.image_id: r for r in (ProcessResult.from_json(m["Body"]) for m in aws.drain("ResponseQueue", 2))}
    assert results["i0000"].status is ImageStatus.FAILED and "corrupt or truncated" in results["i0000"].error
    assert results["i0001"].status is ImageStatus.SUCCEEDED


def test_process_reports_transient_failures_for_retry(aws: Aws, astronaut_jpeg: bytes, monkeypatch) -> None:
    job = create_job([IMAGE], THUMB)
    _enqueue(aws, job, [astronaut_jpeg])
    from retouch.errors import TransientError
    from retouch.logic import deps

    def throttled(*args, **kwargs):
        raise TransientError("S3 get: SlowDown")

    monkeypatch.setattr(deps.process_deps().store, "read", throttled)
    response = run_consumer(aws, "RequestQueue", process_app.lambda_handler, 1)
    assert len(response["batchItemFailures"]) == 1 and response["raised"]
    assert aws.receive("ResponseQueue") == []
    attrs = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url("RequestQueue"), AttributeNames=["All"])["Attributes"]
    assert int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 1  # not deleted: it comes back for a retry


def test_process_redelivery_reuses_the_same_output(aws: Aws, astronaut_jpeg: bytes) -> None:
    job = create_job([IMAGE], THUMB)
    _enqueue(aws, job, [astronaut_jpeg])
    [message] = aws.drain("RequestQueue", 1)
    event = sqs_event([message], aws.queue_arn("RequestQueue"))
    process_app.lambda_handler(event, context())
    first = ProcessResult.from_json(aws.drain("ResponseQueue", 1)[0]["Body"])
    etag = aws.s3.head_object(Bucket=aws.bucket, Key=first.output_key)["ETag"]
    process_app.lambda_handler(event, context())  # the same message again
    second = ProcessResult.from_json(aws.drain("ResponseQueue", 1)[0]["Body"])
    assert (first.output_key, first.width, first.height, first.bytes) == (
        second.output_key,
        second.width,
        second.height,
        second.bytes,
    )
    assert aws.s3.head_object(Bucket=aws.bucket, Key=first.output_key)["ETag"] == etag
    listed = aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="outputs/")["KeyCount"]
    assert listed == 1


# --- notify -------------------------------------------------------------------------------------
def test_notify_counts_each_result_once_and_completes_the_job(aws: Aws) -> None:
    job = create_job([IMAGE, IMAGE], THUMB)
    ok = ProcessResult.succeeded(job["job_id"], "i0000", output_key="outputs/x.jpg", width=1, height=1, bytes=10)
    bad = ProcessResult.failed(job["job_id"], "i0001", "the JPEG data is corrupt")
    messages = [{"MessageId": f"m{n}", "ReceiptHandle": "r", "Body": r.to_json()} for n, r in enumerate([ok, ok, bad, ok, bad])]
    response = notify_app.lambda_handler(sqs_event(messages, aws.queue_arn("ResponseQueue")), context())
    assert response == {"batchItemFailures": []}
    _, body = job_status(job["job_id"])
    assert (body["succeeded"], body["failed"], body["remaining"], body["status"]) == (1, 1, 0, "complete")
    assert body["completed_at"]
    assert body["images"][0]["download_url"].startswith("https://") or "outputs/x.jpg" in body["images"][0]["download_url"]


def test_notify_sends_malformed_results_back_for_dead_lettering(aws: Aws) -> None:
    job = create_job([IMAGE], THUMB)
    good = ProcessResult.failed(job["job_id"], "i0000", "bad").to_json()
    messages = [
        {"MessageId": "m1", "ReceiptHandle": "r", "Body": "{not json"},
        {"MessageId": "m2", "ReceiptHandle": "r", "Body": good},
    ]
    response = notify_app.lambda_handler(sqs_event(messages, aws.queue_arn("ResponseQueue")), context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert job_status(job["job_id"])[1]["status"] == "complete"


# --- colorize with a reference image of the same job -------------------------------------------
def test_colorize_reference_resolves_to_another_image_of_the_job(aws: Aws) -> None:
    gray = photo_bytes("coffee", "PNG")
    gray = Image.open(io.BytesIO(gray)).convert("L")
    buf = io.BytesIO()
    gray.save(buf, "PNG")
    colour = photo_bytes("coffee")
    ops = [{"op": "colorize", "params": {"mode": "reference", "reference": "colour.jpg"}}]
    images = [
        {"name": "old.png", "content_type": "image/png", "size": len(buf.getvalue())},
        {"name": "colour.jpg", "content_type": "image/jpeg", "size": len(colour)},
    ]
    job = create_job(images, ops)
    assert job["operations"][0]["params"]["reference"] == "i0001"
    _enqueue(aws, job, [buf.getvalue(), colour])
    run_consumer(aws, "RequestQueue", process_app.lambda_handler, 2)
    results = {r.image_id: r for r in (ProcessResult.from_json(m["Body"]) for m in aws.drain("ResponseQueue", 2))}
    assert results["i0000"].status is ImageStatus.SUCCEEDED, results["i0000"].error
    out = Image.open(io.BytesIO(aws.s3.get_object(Bucket=aws.bucket, Key=results["i0000"].output_key)["Body"].read()))
    hsv = out.convert("HSV")
    import numpy as np

    assert float(np.asarray(hsv)[:, :, 1].mean()) > 25  # the gray photo came back in colour


def test_colorize_reference_must_name_an_image_of_the_job(aws: Aws) -> None:
    ops = [{"op": "colorize", "params": {"mode": "reference", "reference": "nope.jpg"}}]
    status, body = call_api("POST", "/jobs", body={"images": [IMAGE], "operations": ops})
    assert status == 400 and "'nope.jpg' is not the name of an image in this job" in body["error"]["message"]


def test_avif_in_and_out_when_pillow_has_libavif(aws: Aws) -> None:
    from retouch import imageio, pipeline
    from retouch import ops as registry
    from retouch.models import OutputSpec

    assert imageio.AVIF, "Pillow's wheel is expected to include libavif"
    buf = io.BytesIO()
    Image.open(io.BytesIO(photo_bytes("chelsea"))).save(buf, "AVIF", quality=70)
    out = pipeline.render(
        buf.getvalue(),
        registry.validate_operations([{"op": "thumbnail", "params": {"width": 120}}]),
        OutputSpec("avif", 60),
        max_pixels=10**8,
        max_bytes=10**8,
    )
    assert out.source_format == "avif" and out.content_type == "image/avif"
    assert Image.open(io.BytesIO(out.body)).format == "AVIF" and out.width == 120


# --- dead-letter sweeper ------------------------------------------------------------------------
def test_sweeper_settles_images_from_all_three_dead_letter_queues(aws: Aws, monkeypatch) -> None:
    from functions.sweeper import app as sweeper_app
    from retouch.logic import deps

    for var, logical in (
        ("REQUEST_DLQ_URL", "RequestDLQ"),
        ("RESPONSE_DLQ_URL", "ResponseDLQ"),
        ("UPLOAD_EVENTS_DLQ_URL", "UploadEventsDLQ"),
    ):
        monkeypatch.setenv(var, aws.queue_url(logical))
    deps.reset()
    job = create_job([IMAGE] * 4, THUMB)
    request = ProcessRequest(job["job_id"], "i0000", "a.jpg", aws.bucket, upload_key(job, 0), (), OutputSpec())
    aws.sqs.send_message(QueueUrl=aws.queue_url("RequestDLQ"), MessageBody=request.to_json())
    ok = ProcessResult.succeeded(job["job_id"], "i0001", output_key="o", width=1, height=1, bytes=1)
    aws.sqs.send_message(QueueUrl=aws.queue_url("ResponseDLQ"), MessageBody=ok.to_json())
    aws.sqs.send_message(
        QueueUrl=aws.queue_url("UploadEventsDLQ"), MessageBody=s3_record_message(aws, upload_key(job, 2), 10)["Body"]
    )
    aws.sqs.send_message(QueueUrl=aws.queue_url("RequestDLQ"), MessageBody="not even json")

    assert sweeper_app.lambda_handler({"source": "aws.events"}, context()) == {"failed": 3}
    # idempotent
    assert sweeper_app.lambda_handler({"source": "aws.events"}, context()) == {"failed": 0}
    _, body = job_status(job["job_id"])
    statuses = [(i["status"], i.get("error", "")) for i in body["images"]]
    assert statuses[0][0] == "failed" and statuses[0][1].startswith("gave up after 5 attempts: processing never completed")
    assert statuses[1] == ("succeeded", "")
    assert statuses[2][0] == "failed" and "could not be queued" in statuses[2][1]
    assert statuses[3][0] == "pending"
    # request and upload-event dead letters stay for redrive; the applied result is gone
    depth = {
        q: sum(
            int(v)
            for v in aws.sqs.get_queue_attributes(
                QueueUrl=aws.queue_url(q), AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"].values()
        )
        for q in ("RequestDLQ", "ResponseDLQ", "UploadEventsDLQ")
    }
    assert depth == {"RequestDLQ": 2, "ResponseDLQ": 0, "UploadEventsDLQ": 1}


# --- upload deadline ----------------------------------------------------------------------------
def test_images_never_uploaded_are_failed_when_the_upload_deadline_passes(aws: Aws, astronaut_jpeg: bytes, monkeypatch) -> None:
    from retouch.logic import deps

    monkeypatch.setenv("UPLOAD_URL_TTL_SECONDS", "0")
    monkeypatch.setenv("UPLOAD_GRACE_SECONDS", "0")
    deps.reset()
    job = create_job([IMAGE, IMAGE], THUMB)
    _enqueue(aws, job, [astronaut_jpeg])  # only the first image is uploaded
    run_consumer(aws, "RequestQueue", process_app.lambda_handler, 1)
    run_consumer(aws, "ResponseQueue", notify_app.lambda_handler, 2)  # the result and the due deadline
    _, body = job_status(job["job_id"])
    assert (body["status"], body["succeeded"], body["failed"]) == ("complete", 1, 1)
    assert body["images"][1]["error"] == "the image was never uploaded before its upload URL expired"


def test_an_early_upload_deadline_is_rescheduled_not_applied(aws: Aws) -> None:
    import time

    from retouch.models import UploadDeadline

    job = create_job([IMAGE], THUMB)
    early = UploadDeadline(job["job_id"], time.time() + 3600).to_json()
    notify_app.lambda_handler(
        sqs_event([{"MessageId": "d1", "ReceiptHandle": "r", "Body": early}], aws.queue_arn("ResponseQueue")), context()
    )
    assert job_status(job["job_id"])[1]["images"][0]["status"] == "pending"
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=aws.queue_url("ResponseQueue"), AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert int(attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"]) == 2  # the API's and the re-sent one


# --- push: WebSocket routes and fan-out ---------------------------------------------------------
class _Connections:
    def __init__(self) -> None:
        self.added: list[tuple[str, str]] = []

    def add(self, connection_id: str, owner: str) -> None:
        self.added.append((connection_id, owner))


def test_websocket_connect_takes_the_authorizers_principal_and_refuses_without_one() -> None:
    from types import SimpleNamespace

    from retouch.local.websocket import websocket_event
    from retouch.logic import push

    deps = SimpleNamespace(connections=_Connections())
    assert push.websocket_route(websocket_event("$connect", "c1", sub="alice"), deps) == {"statusCode": 200}  # type: ignore[arg-type]
    assert push.websocket_route(websocket_event("$connect", "c2"), deps) == {"statusCode": 401}  # type: ignore[arg-type]
    assert deps.connections.added == [("c1", "alice")]


def test_push_fan_out_parses_each_signal_once_and_works_a_jobs_last_event_signal_only(monkeypatch) -> None:
    from types import SimpleNamespace

    from retouch.adapters.queue import MessageQueue
    from retouch.events import EventSignal
    from retouch.logic import push

    parsed: list[str] = []
    parse = EventSignal.from_json.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(EventSignal, "from_json", classmethod(lambda cls, text: parsed.append(text) or parse(cls, text)))
    worked: list[EventSignal] = []
    monkeypatch.setattr(push, "fan_out", lambda signal, deps: worked.append(signal) or 1)
    signals = [
        EventSignal("event", "j1", seq=1),
        EventSignal("event", "j2", seq=1),
        EventSignal("event", "j1", seq=2),
        EventSignal("subscribe", "j1", connection_id="c1", after=0),
    ]
    messages = [{"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": s.to_json()} for n, s in enumerate(signals)]
    sqs = SimpleNamespace(change_message_visibility_batch=lambda **_: {})
    deps = SimpleNamespace(events=MessageQueue(sqs, "events.fifo"), settings=SimpleNamespace(visibility_lease_seconds=30))  # type: ignore[arg-type]
    response = push.fan_out_batch(sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:events.fifo"), context(), deps)  # type: ignore[arg-type]
    assert response == {"batchItemFailures": []}
    assert len(parsed) == len(signals)
    assert worked == signals[1:]  # j1's first event signal is covered by its second
