"""Each image reports what changed: one :class:`Outcome`, reported by the operations through the
chain's context, carried by the worker's result, stored with the image, and shown by
``GET /jobs/{id}`` and the image events as facts and one plain sentence."""

from __future__ import annotations

import dataclasses
import json

import pytest

from functions.notify import app as notify_app
from functions.process import app as process_app
from retouch import apimodels, pipeline
from retouch.local.events import sqs_event
from retouch.models import ImageStatus, OutputSpec, ProcessResult
from retouch.outcome import Outcome
from tests.conftest import Aws, photo_bytes
from tests.helpers import call_api, context, create_job, job_status, run_consumer
from tests.unit.test_handlers import _enqueue, declared

RED_EYE = [{"op": "red_eye"}]


@pytest.mark.parametrize(
    ("outcome", "sentence"),
    [
        (Outcome(), "Done."),
        (Outcome(faces_found=1, eyes_looked_at=2, red_eyes_fixed=2), "2 red eyes fixed."),
        (Outcome(faces_found=1, eyes_looked_at=2, red_eyes_fixed=1), "1 red eye fixed."),
        (Outcome(faces_found=0, eyes_looked_at=0, red_eyes_fixed=0), "No face found: no red eyes to fix."),
        (Outcome(faces_found=1, eyes_looked_at=2, red_eyes_fixed=0), "No red eyes: left as they were."),
        (Outcome(faces_found=3, teeth_whitened=2), "Teeth whitened on 2 faces."),
        (Outcome(faces_found=2, teeth_whitened=0), "No teeth visible: nothing whitened."),
        (Outcome(faces_found=0, teeth_whitened=0), "No face found: no teeth to whiten."),
        (
            Outcome(faces_found=0, eyes_looked_at=0, red_eyes_fixed=0, teeth_whitened=0, colorized=True),
            "No face found: no red eyes or teeth to fix; coloured.",
        ),
        (
            Outcome(faces_found=0, eyes_looked_at=2, red_eyes_fixed=2, teeth_whitened=0),
            "No face found: no teeth to whiten; 2 red eyes fixed.",
        ),
        (Outcome(already_in_colour=True, colorized=False), "Already in colour: left as it was."),
        (Outcome(colorized=True), "Coloured."),
        (Outcome(faces_found=5, faces_outside=1), "1 face could not fit in the frame."),
        (
            Outcome(faces_found=2, eyes_looked_at=4, red_eyes_fixed=3, teeth_whitened=1),
            "3 red eyes fixed; teeth whitened on 1 face.",
        ),
    ],
)
def test_the_sentence_says_what_changed_and_what_was_not_there(outcome: Outcome, sentence: str) -> None:
    assert outcome.sentence() == sentence


def test_facts_add_up_over_a_chain_and_the_first_face_count_stays() -> None:
    o = Outcome().merge(faces_found=2, eyes_looked_at=4, red_eyes_fixed=1)
    o = o.merge(faces_found=2, eyes_looked_at=1, red_eyes_fixed=1, teeth_whitened=None)
    assert (o.faces_found, o.eyes_looked_at, o.red_eyes_fixed, o.teeth_whitened) == (2, 5, 2, None)
    assert Outcome.from_dict(o.to_dict()) == o
    assert Outcome.from_dict({"red_eyes_fixed": -1, "colorized": "yes", "unknown": 3}) == Outcome()
    assert Outcome.from_dict(None) == Outcome()


def test_the_api_model_names_every_fact_of_the_outcome() -> None:
    facts = {f.name for f in dataclasses.fields(Outcome)}
    assert set(apimodels.OutcomeOut.model_fields) == facts | {"summary"}


def test_a_result_message_carries_its_outcome_and_old_messages_still_parse() -> None:
    outcome = Outcome(faces_found=1, eyes_looked_at=2, red_eyes_fixed=2)
    result = ProcessResult.succeeded("j-" + "0" * 32, "i0000", output_key="o", width=1, height=1, bytes=1, outcome=outcome)
    body = json.loads(result.to_json())
    assert body["outcome"]["summary"] == "2 red eyes fixed."
    assert ProcessResult.from_json(result.to_json()).outcome == outcome
    del body["outcome"]
    assert ProcessResult.from_dict(body).outcome is None


def test_render_reports_what_red_eye_did_on_a_photo_with_a_face() -> None:
    rendered = pipeline.render(
        photo_bytes("astronaut"),
        [pipeline_spec("red_eye"), pipeline_spec("teeth_whitening")],
        OutputSpec("jpeg"),
        max_pixels=50_000_000,
        max_bytes=50_000_000,
    )
    outcome = rendered.outcome
    assert outcome.faces_found == 1 and outcome.eyes_looked_at == 2
    assert outcome.red_eyes_fixed == 0  # her eyes are not red: nothing to fix
    assert outcome.teeth_whitened is not None


def test_render_of_a_photo_without_faces_says_so() -> None:
    rendered = pipeline.render(
        photo_bytes("coffee"), [pipeline_spec("red_eye")], OutputSpec("jpeg"), max_pixels=50_000_000, max_bytes=50_000_000
    )
    assert rendered.outcome.sentence() == "No face found: no red eyes to fix."


def pipeline_spec(op: str):
    from retouch.models import OperationSpec

    return OperationSpec(op, {})


def test_the_outcome_is_stored_with_the_image_shown_in_status_and_sent_in_its_event(aws: Aws) -> None:
    face, scenery = photo_bytes("astronaut"), photo_bytes("coffee")
    job = create_job([declared(face, "face.jpg"), declared(scenery, "cup.jpg")], RED_EYE, output={"format": "jpeg"})
    _enqueue(aws, job, [face, scenery])
    assert run_consumer(aws, "RequestQueue", process_app.lambda_handler, 2) == {"batchItemFailures": []}
    messages = aws.drain("ResponseQueue", 2)
    results = {r.image_id: r for r in (ProcessResult.from_json(m["Body"]) for m in messages)}
    assert results["i0000"].status is ImageStatus.SUCCEEDED
    assert results["i0000"].outcome == Outcome(faces_found=1, eyes_looked_at=2, red_eyes_fixed=0)
    notify_app.lambda_handler(sqs_event(messages, aws.queue_arn("ResponseQueue")), context())

    _, body = job_status(job["job_id"])
    by_name = {i["name"]: i for i in body["images"]}
    assert by_name["face.jpg"]["outcome"] == {
        "faces_found": 1,
        "eyes_looked_at": 2,
        "red_eyes_fixed": 0,
        "summary": "No red eyes: left as they were.",
    }
    assert by_name["cup.jpg"]["outcome"]["summary"] == "No face found: no red eyes to fix."
    job_id = job["job_id"]
    status, events = call_api("GET", f"/jobs/{job_id}/events", route="/jobs/{job_id}/events", params={"job_id": job_id})
    assert status == 200
    image_events = {e["name"]: e for e in events["events"] if e["type"] == "image"}
    assert image_events["face.jpg"]["outcome"]["summary"] == "No red eyes: left as they were."


def test_a_redelivered_request_resends_the_outcome_of_the_output_already_written(aws: Aws) -> None:
    face = photo_bytes("astronaut")
    job = create_job([declared(face)], RED_EYE)
    _enqueue(aws, job, [face])
    [message] = aws.drain("RequestQueue", 1)
    event = sqs_event([message], aws.queue_arn("RequestQueue"))
    process_app.lambda_handler(event, context())
    first = ProcessResult.from_json(aws.drain("ResponseQueue", 1)[0]["Body"])
    message["Attributes"] = {**message.get("Attributes", {}), "ApproximateReceiveCount": "2"}
    process_app.lambda_handler(sqs_event([message], aws.queue_arn("RequestQueue")), context())
    again = ProcessResult.from_json(aws.drain("ResponseQueue", 1)[0]["Body"])
    assert again.outcome == first.outcome and first.outcome is not None and first.outcome.faces_found == 1
