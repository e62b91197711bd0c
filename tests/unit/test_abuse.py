"""Abuse: requests and operation chains that would exhaust the service are refused cleanly, and
failures that would recur are permanent, with messages that tell nothing private."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from functions.process import app as process_app
from retouch import ops
from retouch.errors import ImageTooLarge, OperationFailed, PermanentError, ValidationError
from retouch.models import ImageStatus, OutputSpec, ProcessResult
from retouch.pipeline import render
from tests.conftest import Aws
from tests.helpers import call_api, create_job, run_consumer
from tests.unit.test_handlers import _enqueue

MAX_PIXELS = 50_000_000
THUMB_UP = [{"op": "thumbnail", "params": {"width": 8192, "upscale": True}}]


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 40)).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_a_tiny_png_asked_for_a_huge_upscale_is_refused_before_any_allocation() -> None:
    with pytest.raises(ImageTooLarge, match=r"thumbnail would make a 8192x20480 image \(168 MP\), over the 50 MP limit"):
        render(png(100, 250), ops.validate_operations(THUMB_UP), OutputSpec("png"), max_pixels=MAX_PIXELS, max_bytes=10**8)
    with pytest.raises(ImageTooLarge, match="over the 50 MP limit"):
        render(png(10, 100_000), ops.validate_operations(THUMB_UP), OutputSpec("png"), max_pixels=MAX_PIXELS, max_bytes=10**8)


def test_an_upscale_of_more_than_four_times_is_refused() -> None:
    chain = ops.validate_operations([{"op": "thumbnail", "params": {"width": 500, "upscale": True}}])
    with pytest.raises(ImageTooLarge, match="enlarge the image more than 4 times"):
        render(png(100, 100), chain, OutputSpec("png"), max_pixels=MAX_PIXELS, max_bytes=10**8)
    ok = ops.validate_operations([{"op": "thumbnail", "params": {"width": 400, "upscale": True}}])
    assert render(png(100, 100), ok, OutputSpec("png"), max_pixels=MAX_PIXELS, max_bytes=10**8).width == 400


def test_out_of_memory_and_opencv_errors_are_permanent_with_a_plain_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import retouch.ops.tone as tone

    chain = ops.validate_operations([{"op": "contrast"}])
    for error in (MemoryError("Unable to allocate 2.00 TiB"), tone.cv2.error("OpenCV(5.0) error: (-215:Assertion failed)")):

        def boom(*args: object, error: Exception = error, **kwargs: object) -> None:
            raise error

        monkeypatch.setattr(tone, "contrast", boom)
        with pytest.raises(OperationFailed) as failed:
            render(png(64, 64), chain, OutputSpec("png"), max_pixels=MAX_PIXELS, max_bytes=10**8)
        assert isinstance(failed.value, PermanentError)
        assert "Error" not in failed.value.message and "OpenCV" not in failed.value.message and "TiB" not in failed.value.message


def test_process_fails_an_oversized_chain_once_and_deletes_its_message(aws: Aws) -> None:
    data = png(100, 250)
    job = create_job([{"name": "tiny.png", "content_type": "image/png", "size": len(data)}], THUMB_UP)
    _enqueue(aws, job, [data])
    response = run_consumer(aws, "RequestQueue", process_app.lambda_handler, 1)
    assert response == {"batchItemFailures": []}  # not retried
    [result] = [ProcessResult.from_json(m["Body"]) for m in aws.drain("ResponseQueue", 1)]
    assert result.status is ImageStatus.FAILED and result.error is not None and "over the 50 MP limit" in result.error


HOSTILE_BODIES = [
        ('{"images": [{"name": "a.jpg", "content_type": "image/jpeg", "size": 1}], '
         '"operations": [{"op": "crop", "params": {"box": [' + "9" * 400 + ", 1, 1, 1]}}]}", "no larger than"),
        ('{"images": [{"name": "a.jpg", "content_type": "image/jpeg", "size": ' + "9" * 400 + "}], "
         '"operations": [{"op": "thumbnail", "params": {"width": 5}}]}', "whole number of bytes"),
        ('{"images": [{"name": "a.jpg", "content_type": "image/jpeg", "size": ' + "9" * 5000 + "}], "
         '"operations": [{"op": "thumbnail", "params": {"width": 5}}]}', "number in the request body is too long"),
        ('{"images": [{"name": "a.jpg", "content_type": "image/jpeg", "size": 1}], '
         '"operations": [{"op": "thumbnail", "params": {"width": -' + "1" * 4301 + "}}]}", "request body is too long"),
        ('{"images": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"images": [{"name": "\\ud800.png", "content_type": "image/png", "size": 1}], '
         '"operations": [{"op": "thumbnail", "params": {"width": 5}}]}', "unpaired surrogates"),
        ('{"images": [{"name": "a\\u0007.png", "content_type": "image/png", "size": 1}], '
         '"operations": [{"op": "thumbnail", "params": {"width": 5}}]}', "control characters"),
        ('{"images": [{"name": "a.png", "content_type": "image/png", "size": 1}], '
         '"operations": [{"op": "thumbnail", "params": {"width": 8192, "height": 8192, "upscale": true}}]}',
         "over the 50 MP limit"),
    ]  # fmt: skip
HOSTILE_IDS = [
    "400-digit box",
    "400-digit size",
    "5000-digit size",
    "4301-digit negative width",
    "100000 nested arrays",
    "lone surrogate",
    "control character",
    "8192x8192 upscale",
]


@pytest.mark.parametrize(("body", "message"), HOSTILE_BODIES, ids=HOSTILE_IDS)  # fmt: skip
def test_api_refuses_hostile_bodies_with_a_precise_400(aws: Aws, body: str, message: str) -> None:
    status, reply = call_api("POST", "/jobs", body=body)
    assert status == 400 and message in reply["error"]["message"], reply
    assert len(reply["error"]["message"]) < 300


PRIVATE = re.compile(r"arn:aws|\b[A-Z][a-z]+(Error|Exception)\b|botocore|Traceback|retouch-local-|123456789012")


def test_errors_name_no_resource_and_no_exception_class(aws: Aws) -> None:
    """What clients read (API errors, image errors) never names our resources or our code."""
    bodies = [
        call_api("POST", "/jobs", body="{not json")[1],
        call_api("POST", "/jobs", body={"images": "x"})[1],
        call_api("GET", "/jobs/../../etc", route="/jobs/{job_id}", params={"job_id": "../../etc"})[1],
        call_api("GET", "/nowhere")[1],
    ]
    for body in bodies:
        text = body["error"]["message"]  # (the type is the documented error kind: ValidationError, NotFound...)
        assert not PRIVATE.search(text), text
        assert aws.bucket not in text


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {"op": st.just("thumbnail"), "params": st.fixed_dictionaries(
                    {"width": st.integers(1, 8192), "upscale": st.booleans()},
                    optional={"height": st.integers(1, 8192), "fit": st.sampled_from(["contain", "cover"])})}
            ),
            st.fixed_dictionaries(
                {"op": st.just("crop"), "params": st.fixed_dictionaries({"aspect": st.sampled_from(["1:1", "16:9", "1:40"])})}
            ),
            st.fixed_dictionaries({"op": st.just("contrast"), "params": st.just({})}),
        ),
        min_size=1,
        max_size=4,
    ),
    st.tuples(st.integers(1, 3000), st.integers(1, 3000)),
)  # fmt: skip
def test_any_chain_is_refused_up_front_or_stays_within_the_pixel_limit(chain: list[dict], size: tuple[int, int]) -> None:
    specs = ops.validate_operations(chain)
    try:
        ops.specs.check_request(specs, MAX_PIXELS)
        final = ops.check_chain(specs, size, MAX_PIXELS)
    except (ValidationError, ImageTooLarge) as refused:
        assert refused.message and len(refused.message) < 200
        return
    # accepted: every step's size (as the specs predict) stays within the limit
    current = size
    for spec in specs:
        current = ops.get(spec.op).output_size(spec.params, current)
        assert current[0] * current[1] <= MAX_PIXELS
    assert current == final


def test_per_user_limits_answer_429_with_retry_after_and_free_a_slot_on_completion(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retouch.logic import deps
    from retouch.logic.results import record

    monkeypatch.setenv("MAX_JOBS_IN_FLIGHT", "2")
    monkeypatch.setenv("MAX_IMAGES_PER_DAY", "5")
    deps.reset()
    image = {"name": "a.jpg", "content_type": "image/jpeg", "size": 10}
    first = create_job([image], [{"op": "thumbnail", "params": {"width": 5}}])
    create_job([image], [{"op": "thumbnail", "params": {"width": 5}}])
    status, body = call_api("POST", "/jobs", body={"images": [image], "operations": [{"op": "contrast"}]})
    assert status == 429 and "2 jobs running" in body["error"]["message"]
    # another user is not affected
    assert call_api("POST", "/jobs", sub="bob", body={"images": [image], "operations": [{"op": "contrast"}]})[0] == 201
    # completing a job frees its slot
    notify = deps.notify_deps()
    done = ProcessResult.succeeded(first["job_id"], "i0000", output_key="o", width=1, height=1, bytes=1)
    assert record(done, notify.jobs, notify.publisher).completed
    assert call_api("POST", "/jobs", body={"images": [image], "operations": [{"op": "contrast"}]})[0] == 201
    # bob sent 1 image today; 5 more would pass the day's 5 (and the refusal takes no slot)
    status, body = call_api("POST", "/jobs", sub="bob", body={"images": [image] * 5, "operations": [{"op": "contrast"}]})
    assert status == 429 and "today's limit of 5 images" in body["error"]["message"]


def test_a_429_carries_retry_after() -> None:
    from retouch.errors import TooManyRequests
    from retouch.logic.http import error_response

    response = error_response(TooManyRequests("slow down", 42))
    assert response.status_code == 429 and response.headers["Retry-After"] == "42"


def test_a_body_that_is_not_json_is_a_400_not_a_crash(aws: Aws) -> None:
    from functions.upload_url import app
    from retouch.local.events import http_api_event
    from tests.helpers import context

    for content_type in ("multipart/form-data", "text/plain", "application/x-www-form-urlencoded"):
        event = http_api_event(
            method="POST", route_path="/jobs", path="/jobs", body='{"images": []}', sub="alice",
            headers={"content-type": content_type},
        )  # fmt: skip
        response = app.lambda_handler(event, context("api"))
        assert response["statusCode"] == 400 and "must be JSON" in response["body"], content_type
