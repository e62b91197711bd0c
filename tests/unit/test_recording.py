"""What recording results changes, planned without a table (logic/recording.plan)."""

from __future__ import annotations

from retouch.logic import recording
from retouch.models import ProcessResult
from retouch.outcome import Outcome

JOB = "j-" + "0" * 32
NOW = "2026-12-07T00:00:00Z"


def head(**over: object) -> dict:
    base = {"job_id": JOB, "owner": "alice", "total": 3, "succeeded": 0, "failed": 0, "remaining": 3, "status": "running"}
    return {**base, **over}


def image(status: str = "queued", **over: object) -> dict:
    return {"status": status, "name": "Holiday 1.HEIC", **over}


def ok(image_id: str) -> ProcessResult:
    return ProcessResult.succeeded(
        JOB, image_id, output_key=f"outputs/x/{image_id}.jpg", width=2, height=1, bytes=9, outcome=Outcome(colorized=True)
    )


def test_results_of_unfinished_images_count_and_are_numbered_after_the_jobs_last_event() -> None:
    plan = recording.plan(
        head(seq=4), {"i0000": image(), "i0001": image()}, [ok("i0000"), ProcessResult.failed(JOB, "i0001", "bad")], NOW
    )
    assert plan is not None and not plan.completes
    assert plan.counters == {"succeeded": 1, "failed": 1, "remaining": -2}
    assert [e["seq"] for e in plan.events] == [5, 6] and plan.seq == 6 and plan.prev_seq == 4
    first = plan.changes[0].event
    assert first["output_name"] == "Holiday 1.jpg" and first["outcome"]["summary"] == "Coloured."
    assert "output_key" not in first  # ours, not the client's
    assert [c.counted for c in plan.counted()] == [True, True]


def test_the_last_result_completes_the_job_with_its_event_reported_by_the_last_image() -> None:
    plan = recording.plan(head(remaining=1, succeeded=2, seq=2), {"i0002": image()}, [ok("i0002")], NOW)
    assert plan is not None and plan.completes and plan.job_event is not None
    assert plan.job_event["succeeded"] == 3 and plan.job_event["seq"] == 4
    [counted] = plan.counted()
    assert counted.completed and counted.stored == [(3, "image"), (4, "job")]


def test_a_duplicate_changes_nothing_and_reports_what_its_first_recording_stored() -> None:
    done = image("succeeded", event_seq=7)
    plan = recording.plan(
        head(completed_seq=9, callback_url="https://x", callback_events=["image", "job"]), {"i0000": done}, [ok("i0000")], NOW
    )
    assert plan is not None and plan.changes == [] and not plan.counters
    [verdict] = plan.counted()
    assert not verdict.counted and verdict.stored == [(7, "image"), (9, "job")] and verdict.webhook_types == ("image", "job")


def test_a_given_up_image_that_succeeds_after_a_redrive_moves_from_failed_to_succeeded() -> None:
    plan = recording.plan(
        head(remaining=0, failed=1, status="complete"), {"i0000": image("failed", gave_up=True)}, [ok("i0000")], NOW
    )
    assert plan is not None and plan.counters == {"succeeded": 1, "failed": -1} and not plan.completes


def test_an_unknown_job_or_image_counts_nothing() -> None:
    assert recording.plan(None, {}, [ok("i0000")], NOW) is None
    plan = recording.plan(head(), {}, [ok("i0009")], NOW)
    assert plan is not None and plan.changes == [] and [c.counted for c in plan.counted()] == [False]
