"""``Idempotency-Key`` on ``POST /jobs`` (Powertools' idempotency utility on the jobs table): a
retried request answers the job the first one created; the same key with another body is a 409."""

from __future__ import annotations

from tests.conftest import Aws
from tests.helpers import call_api
from tests.unit.test_handlers import IMAGE, THUMB

BODY = {"images": [IMAGE], "operations": THUMB}


def post(body: dict, key: str | None, sub: str = "alice") -> tuple[int, dict]:
    return call_api("POST", "/jobs", body=body, sub=sub, headers={"Idempotency-Key": key} if key else None)


def test_the_same_key_and_body_answer_the_same_job_once(aws: Aws) -> None:
    first = post(BODY, "b8a4c1e2-retry-1")
    again = post(BODY, "b8a4c1e2-retry-1")
    assert first[0] == again[0] == 201
    assert again[1]["job_id"] == first[1]["job_id"] and again[1]["uploads"] == first[1]["uploads"]
    _, listed = call_api("GET", "/jobs")
    assert [j["job_id"] for j in listed["jobs"]] == [first[1]["job_id"]]  # one job, not two


def test_the_same_key_with_another_body_is_a_409_that_says_so(aws: Aws) -> None:
    assert post(BODY, "key-1")[0] == 201
    status, reply = post({**BODY, "operations": [{"op": "contrast"}]}, "key-1")
    assert status == 409 and "Idempotency-Key was used for another request body" in reply["error"]["message"]


def test_keys_are_per_user_and_optional(aws: Aws) -> None:
    mine, theirs = post(BODY, "shared-key")[1], post(BODY, "shared-key", sub="bob")[1]
    assert mine["job_id"] != theirs["job_id"]
    assert post(BODY, None)[1]["job_id"] != post(BODY, None)[1]["job_id"]


def test_a_malformed_key_is_a_400(aws: Aws) -> None:
    status, reply = post(BODY, "x" * 256)
    assert status == 400 and "Idempotency-Key" in reply["error"]["message"]


def test_jobs_are_paged_newest_first_each_exactly_once(aws: Aws) -> None:
    created = [post(BODY, None)[1]["job_id"] for _ in range(7)]
    post(BODY, None, sub="bob")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        status, page = call_api("GET", "/jobs", query=params)
        assert status == 200, page
        seen += [j["job_id"] for j in page["jobs"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
    assert pages in (3, 4)  # 3 + 3 + 1 (a last empty page only if DynamoDB cannot tell it is the last)


def test_a_cursor_that_was_not_given_out_is_a_400(aws: Aws) -> None:
    for cursor in ("nonsense", "W10", "WyJ4IiwgIi4uLyJd"):
        status, reply = call_api("GET", "/jobs", query={"cursor": cursor})
        assert status == 400 and "cursor" in reply["error"]["message"], (cursor, reply)
