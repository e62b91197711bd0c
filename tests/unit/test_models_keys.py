"""Messages (retouch.models) and bucket keys (retouch.keys)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, quote_plus

import pytest

from retouch import keys
from retouch.errors import PermanentError, ValidationError
from retouch.models import (
    SCHEMA_VERSION,
    ImageStatus,
    OperationSpec,
    OutputSpec,
    ProcessRequest,
    ProcessResult,
    image_id_for,
    valid_image_id,
    valid_job_id,
)
from retouch.ops import validate_operations

JOB = "j-" + "0123456789abcdef" * 2
UP = "uploads/"
OUT = "outputs/"
NASTY_NAMES = [
    "../../etc/passwd",
    "holiday photo +1.jpg",
    "ünïcödé 写真.png",
    "a/b\\c.jpg",
    "%2F..%2Fx.jpg",
    "name?x=1#frag.webp",
]


def request(**overrides: object) -> ProcessRequest:
    values: dict = {
        "job_id": JOB,
        "image_id": "i0003",
        "name": "../../etc/passwd +ü.jpg",
        "bucket": "retouch-bucket",
        "key": keys.upload_key(UP, "alice", JOB, "i0003"),
        "operations": validate_operations(
            [{"op": "crop", "params": {"box": "0.1,0.1,0.8,0.8"}}, {"op": "thumbnail", "params": {"width": 64}}]
        ),
        "output": OutputSpec(format="webp", quality=80),
    }
    values.update(overrides)
    return ProcessRequest(**values)


# --- OutputSpec -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "alpha", "chosen"),
    [
        ("jpeg", False, "jpeg"),
        ("png", True, "png"),
        ("png", False, "png"),
        ("webp", True, "webp"),
        ("avif", False, "avif"),
        ("gif", True, "png"),
        ("gif", False, "jpeg"),
        ("tiff", True, "png"),
        ("tiff", False, "jpeg"),
        ("bmp", False, "jpeg"),
        ("heic", False, "jpeg"),
        (None, False, "jpeg"),
    ],
)
def test_output_auto_keeps_the_source_format_where_it_can(source: str | None, alpha: bool, chosen: str) -> None:
    assert OutputSpec("auto", 70).resolve(source, alpha) == OutputSpec(chosen, 70)
    assert OutputSpec("webp").resolve(source, alpha) == OutputSpec("webp")  # an explicit format wins


def test_output_spec_defaults_and_properties() -> None:
    spec = OutputSpec()
    assert (spec.format, spec.quality) == ("auto", 88)
    with pytest.raises(ValueError, match="resolved"):
        _ = spec.extension
    jpeg = OutputSpec("jpeg")
    assert (jpeg.extension, jpeg.content_type) == ("jpg", "image/jpeg")
    assert (OutputSpec("png").extension, OutputSpec("png").content_type) == ("png", "image/png")
    assert (OutputSpec("webp", 1).extension, OutputSpec("webp", 100).content_type) == ("webp", "image/webp")


@pytest.mark.parametrize(
    ("fmt", "quality", "message"),
    [
        ("gif", 88, "format 'gif' is not supported"),
        ("JPEG", 88, "not supported"),
        ("jpg", 88, "not supported"),
        ("jpeg", 0, "quality"),
        ("jpeg", 101, "quality"),
        ("jpeg", True, "quality"),
        ("jpeg", 88.0, "quality"),
        ("jpeg", "88", "quality"),
        ("png", None, "quality"),
    ],
)
def test_output_spec_validation(fmt: object, quality: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OutputSpec(format=fmt, quality=quality)  # type: ignore[arg-type]


# --- OperationSpec ----------------------------------------------------------------------------
def test_operation_spec_round_trip_and_errors() -> None:
    spec = OperationSpec("thumbnail", {"width": 5})
    assert OperationSpec.from_dict(spec.to_dict()) == spec
    assert OperationSpec.from_dict({"op": "contrast"}) == OperationSpec("contrast", {})
    assert OperationSpec.from_dict({"op": "contrast", "params": None}) == OperationSpec("contrast", {})
    for bad in (None, "thumbnail", ["thumbnail"], {"op": None}, {"name": "crop"}, {"op": "crop", "params": "box=1"}):
        with pytest.raises(ValidationError):
            OperationSpec.from_dict(bad)


def test_operation_spec_to_dict_copies_params() -> None:
    spec = OperationSpec("thumbnail", {"width": 5})
    spec.to_dict()["params"]["width"] = 999
    assert spec.params == {"width": 5}


# --- ProcessRequest ---------------------------------------------------------------------------
def test_process_request_json_round_trip() -> None:
    original = request()
    text = original.to_json()
    back = ProcessRequest.from_json(text)
    assert back == original
    assert back.operations[0].params["box"] == [0.1, 0.1, 0.8, 0.8]
    assert isinstance(back.output, OutputSpec) and back.output.extension == "webp"
    assert isinstance(back.operations, tuple) and all(isinstance(o, OperationSpec) for o in back.operations)
    assert back.to_json() == text


def test_process_request_json_is_plain_and_versioned() -> None:
    body = json.loads(request().to_json())
    assert body["schema"] == SCHEMA_VERSION
    assert body["operations"][1] == {"op": "thumbnail", "params": {"width": 64, "fit": "contain", "upscale": False}}
    assert body["output"] == {"format": "webp", "quality": 80}
    assert body["name"] == "../../etc/passwd +ü.jpg"


def test_process_request_without_schema_defaults_to_current() -> None:
    body = json.loads(request().to_json())
    del body["schema"]
    assert ProcessRequest.from_json(json.dumps(body)).schema == SCHEMA_VERSION


def _mutated(change) -> str:  # type: ignore[no-untyped-def]
    body = json.loads(request().to_json())
    change(body)
    return json.dumps(body)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "{",
        "null",
        "[]",
        "42",
        '"a string"',
        "{}",
        _mutated(lambda b: b.pop("key")),
        _mutated(lambda b: b.pop("operations")),
        _mutated(lambda b: b.pop("output")),
        _mutated(lambda b: b.update(operations=5)),
        _mutated(lambda b: b.update(operations=["thumbnail"])),
        _mutated(lambda b: b.update(operations=[{"op": "thumbnail", "params": [1]}])),
        _mutated(lambda b: b.update(output="jpeg")),
        _mutated(lambda b: b.update(output={"format": "bmp"})),
        _mutated(lambda b: b.update(output={"quality": 0})),
        _mutated(lambda b: b.update(output={"format": "png", "dpi": 72})),
    ],
)
def test_process_request_malformed_json_is_invalid_parameters(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        ProcessRequest.from_json(text)
    assert isinstance(info.value, PermanentError)


# --- ProcessResult ----------------------------------------------------------------------------
def test_process_result_json_round_trip_succeeded() -> None:
    result = ProcessResult(
        job_id=JOB,
        image_id="i0000",
        status=ImageStatus.SUCCEEDED,
        output_key="outputs/x.jpg",
        width=64,
        height=43,
        bytes=1234,
        duration_ms=87,
    )
    text = result.to_json()
    assert json.loads(text)["status"] == "succeeded"
    back = ProcessResult.from_json(text)
    assert back == result
    assert back.status is ImageStatus.SUCCEEDED and back.status.terminal


def test_process_result_json_round_trip_failed() -> None:
    result = ProcessResult.failed(JOB, "i0001", "the JPEG data is corrupt", 12, gave_up=True)
    back = ProcessResult.from_json(result.to_json())
    assert back == result
    assert back.status is ImageStatus.FAILED and back.gave_up is True and back.output_key is None
    assert back.error == "the JPEG data is corrupt"


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "",
        "null",
        "[]",
        "{}",
        json.dumps({"job_id": JOB, "image_id": "i0000"}),
        json.dumps({"job_id": JOB, "image_id": "i0000", "status": "exploded"}),
        json.dumps({"job_id": JOB, "image_id": "i0000", "status": "queued"}),
        json.dumps({"job_id": JOB, "image_id": "i0000", "status": "pending"}),
        json.dumps({"job_id": JOB, "image_id": "i0000", "status": "failed", "colour": "blue"}),
        json.dumps({"image_id": "i0000", "status": "failed"}),
    ],
)
def test_process_result_malformed_json_is_invalid_parameters(text: str) -> None:
    with pytest.raises(ValidationError, match=r"malformed (result|response) message"):
        ProcessResult.from_json(text)


def test_the_response_queue_carries_two_kinds_told_apart_by_kind() -> None:
    from retouch.models import UploadDeadline, parse_response

    result = ProcessResult.given_up(JOB, "i0002", 5, "processing never completed")
    assert parse_response(result.to_json()) == result
    assert result.error == "gave up after 5 attempts: processing never completed" and result.gave_up
    legacy = json.dumps({"job_id": JOB, "image_id": "i0000", "status": "failed", "error": "x"})  # before `kind`
    assert parse_response(legacy) == ProcessResult.failed(JOB, "i0000", "x")
    deadline = UploadDeadline(JOB, 1_800_000_000.0)
    assert parse_response(deadline.to_json()) == deadline
    with pytest.raises(ValidationError, match="it is a 'upload-deadline' message"):
        ProcessResult.from_json(deadline.to_json())
    with pytest.raises(ValidationError, match="unknown kind 'surprise'"):
        parse_response(json.dumps({"kind": "surprise", "job_id": JOB}))
    with pytest.raises(ValidationError, match="malformed upload deadline"):
        parse_response(json.dumps({"kind": "upload-deadline", "job_id": JOB}))


def test_image_status_terminal() -> None:
    assert {s for s in ImageStatus if s.terminal} == {ImageStatus.SUCCEEDED, ImageStatus.FAILED}


# --- ids ----------------------------------------------------------------------------------------
def test_ids_format_and_validation() -> None:
    assert image_id_for(0) == "i0000" and image_id_for(42) == "i0042" and image_id_for(123456) == "i123456"
    assert all(valid_image_id(image_id_for(n)) for n in (0, 9999, 10000, 999999))
    for bad in ("i12", "i1234567", "x0000", "i00a0", "i0000/", "../i0000", ""):
        assert not valid_image_id(bad), bad
    assert valid_job_id(JOB)
    for bad in ("j-" + "0" * 31, "j-" + "0" * 33, "j-" + "A" * 32, "k-" + "0" * 32, "../" + JOB, JOB + "/x", ""):
        assert not valid_job_id(bad), bad


def test_ids_reject_trailing_newline_and_non_ascii_digits() -> None:
    """Ids become DynamoDB keys and S3 key segments: exactly ASCII, nothing after the end."""
    assert not valid_image_id("i0000\n")
    assert not valid_job_id(JOB + "\n")
    assert not valid_image_id("i\u0660\u0660\u0660\u0661")  # ARABIC-INDIC DIGITs: str.isdecimal, but not 0-9
    assert keys.parse_upload_key(keys.upload_key(UP, "alice", JOB, "i0001") + "\n", UP) is None


# --- keys --------------------------------------------------------------------------------------
SAFE_KEY = re.compile(r"^[a-z]+/u[0-9a-f]{20}/j-[0-9a-f]{32}/i\d{4,6}(\.(jpg|png|webp))?$")


@pytest.mark.parametrize("owner", ["alice", "bob@example.com", "../../root", "ünïcödé user", "a/b+c d"])
def test_keys_upload_and_output_keys_are_safe(owner: str) -> None:
    up = keys.upload_key(UP, owner, JOB, "i0007")
    out = keys.output_key_for(up, UP, OUT, "webp")
    assert SAFE_KEY.match(up) and up.startswith(UP), up
    assert SAFE_KEY.match(out) and out.startswith(OUT) and out.endswith("/i0007.webp"), out
    assert owner not in up and owner not in out


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_keys_never_contain_the_users_file_name(name: str) -> None:
    """Names travel in the message (and the job record), never in a key."""
    req = request(name=name)
    assert SAFE_KEY.match(req.key)
    up = keys.upload_key(UP, "alice", JOB, image_id_for(3))
    out = keys.output_key_for(up, UP, OUT, OutputSpec("png").extension)
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    for key in (up, out):
        assert SAFE_KEY.match(key), key
        assert stem not in key and name not in key
    assert ProcessRequest.from_json(req.to_json()).name == name


def test_keys_owner_prefix_is_stable_and_distinct() -> None:
    assert keys.owner_prefix("alice") == keys.owner_prefix("alice")
    assert keys.owner_prefix("alice") != keys.owner_prefix("bob")
    assert re.fullmatch(r"u[0-9a-f]{20}", keys.owner_prefix("alice"))


def test_keys_an_output_sits_under_its_uploads_owner_and_job() -> None:
    up = keys.upload_key(UP, "alice", JOB, "i0002")
    assert keys.output_key_for(up, UP, OUT, "jpg") == f"{OUT}{keys.owner_prefix('alice')}/{JOB}/i0002.jpg"


def test_keys_parse_upload_key_round_trip() -> None:
    for image_id in ("i0000", "i0123", "i999999"):
        ref = keys.parse_upload_key(keys.upload_key(UP, "alice", JOB, image_id), UP)
        assert ref == keys.UploadRef(job_id=JOB, image_id=image_id)


def test_keys_parse_upload_key_with_other_prefix() -> None:
    key = keys.upload_key("in/", "alice", JOB, "i0001")
    assert keys.parse_upload_key(key, "in/") == keys.UploadRef(JOB, "i0001")
    assert keys.parse_upload_key(key, UP) is None


@pytest.mark.parametrize(
    "key",
    [
        keys.output_key_for(keys.upload_key(UP, "alice", JOB, "i0001"), UP, OUT, "jpg"),  # an output, not an upload
        "outputs/" + keys.owner_prefix("alice") + f"/{JOB}/i0001",
        f"uploads/{JOB}/i0001",  # owner segment missing
        f"uploads/{keys.owner_prefix('alice')}/{JOB}/i0001/extra",
        f"uploads/{keys.owner_prefix('alice')}/{JOB}/i0001.jpg",
        f"uploads/{keys.owner_prefix('alice')}/{JOB}/photo.jpg",
        f"uploads/{keys.owner_prefix('alice')}/j-123/i0001",
        f"uploads/{keys.owner_prefix('alice')}/{JOB}/../i0001",
        f"uploads/{keys.owner_prefix('alice')}/{JOB}/",
        f"Uploads/{keys.owner_prefix('alice')}/{JOB}/i0001",
        f"/uploads/{keys.owner_prefix('alice')}/{JOB}/i0001",
        "uploads/",
        "",
        "some/random/object.txt",
    ],
)
def test_keys_parse_upload_key_rejects_foreign_keys(key: str) -> None:
    assert keys.parse_upload_key(key, UP) is None


def test_keys_decode_event_key_handles_encoded_slash_and_plus() -> None:
    key = keys.upload_key(UP, "alice", JOB, "i0004")
    assert keys.decode_event_key(key) == key  # nothing to decode
    assert keys.decode_event_key(key.replace("/", "%2F")) == key
    assert keys.decode_event_key(key.replace("/", "%2f")) == key
    assert keys.decode_event_key(quote(key, safe="")) == key
    assert keys.parse_upload_key(keys.decode_event_key(quote(key, safe="")), UP) == keys.UploadRef(JOB, "i0004")


def test_keys_decode_event_key_plus_is_space_and_decodes_once() -> None:
    assert keys.decode_event_key("a+b") == "a b"
    assert keys.decode_event_key("a%2Bb") == "a+b"
    assert keys.decode_event_key(quote_plus("my photo+1.jpg")) == "my photo+1.jpg"
    assert keys.decode_event_key("a%252Fb") == "a%2Fb"  # decoded once, not twice
    assert keys.decode_event_key("caf%C3%A9") == "café"


def test_run_renames_a_provisional_output_to_the_format_the_service_chose(tmp_path) -> None:
    from retouch.cli import runner

    entries = [runner.Entry("in/logo.gif", "logo.jpg"), runner.Entry("in/logo.png", "logo.png")]
    run = runner.Run(None, runner.Manifest(api="", operations=[], output={}, entries=entries), tmp_path)  # type: ignore[arg-type]
    run._name_for_format(entries[0], "png")  # auto kept the GIF's transparency: a PNG
    assert [e.output_name for e in entries] == ["logo-2.png", "logo.png"]
    run._name_for_format(entries[1], "png")  # already right
    run._name_for_format(entries[0], None)  # not known yet
    assert [e.output_name for e in entries] == ["logo-2.png", "logo.png"]
