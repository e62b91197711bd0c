"""``GET /jobs/{id}`` reads what it returns: the whole job's counters from its item and one page of
its images, with a cursor to the next (issue 28)."""

from __future__ import annotations

from typing import Any

from retouch.logic import deps
from tests.conftest import Aws
from tests.helpers import call_api, create_job

IMAGE = {"name": "a.jpg", "content_type": "image/jpeg", "size": 1000}
THUMB = [{"op": "thumbnail", "params": {"width": 64}}]


def status(job_id: str, **query: str) -> tuple[int, dict[str, Any]]:
    return call_api("GET", f"/jobs/{job_id}", route="/jobs/{job_id}", params={"job_id": job_id}, query=query)


def test_a_big_job_comes_in_pages_that_together_hold_every_image_once(aws: Aws, monkeypatch) -> None:
    job = create_job([{**IMAGE, "name": f"p{n}.jpg"} for n in range(250)], THUMB)
    jobs = deps.api_deps().jobs
    whole_reads: list[str] = []
    real_get = jobs.get

    def get(job_id: str, *, with_images: bool = True):
        if with_images:
            whole_reads.append(job_id)
        return real_get(job_id, with_images=with_images)

    monkeypatch.setattr(jobs, "get", get)
    code, first = status(job["job_id"])
    assert code == 200 and len(first["images"]) == 100 and first["next_cursor"]
    assert (first["total"], first["remaining"]) == (250, 250)  # the counters are the whole job's
    seen = [i["image_id"] for i in first["images"]]
    cursor = first["next_cursor"]
    while cursor:
        code, page = status(job["job_id"], cursor=cursor)
        assert code == 200 and page["total"] == 250
        seen += [i["image_id"] for i in page["images"]]
        cursor = page.get("next_cursor")
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 250
    assert whole_reads == []  # no page read the whole job
    code, everything = status(job["job_id"], limit="1000")
    assert code == 200 and len(everything["images"]) == 250 and everything["next_cursor"] is None


def test_a_small_job_is_one_page_without_a_cursor(aws: Aws) -> None:
    job = create_job([IMAGE, IMAGE], THUMB)
    code, body = status(job["job_id"])
    assert code == 200 and len(body["images"]) == 2 and body.get("next_cursor") is None


def test_a_cursor_works_only_for_its_own_job_and_as_given(aws: Aws) -> None:
    big = create_job([IMAGE] * 3, THUMB)
    other = create_job([IMAGE] * 3, THUMB)
    _, first = status(big["job_id"], limit="1")
    assert first["next_cursor"]
    code, body = status(other["job_id"], cursor=first["next_cursor"])
    assert code == 400 and "cursor" in body["error"]["message"]
    code, body = status(big["job_id"], cursor="not-a-cursor")
    assert code == 400 and "cursor" in body["error"]["message"]
    code, _ = status(big["job_id"], limit="1001")
    assert code == 400
