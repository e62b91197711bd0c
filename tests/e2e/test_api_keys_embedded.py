"""An API key on the embedded stack, as a server would use it: it creates a job, uploads,
follows the WebSocket and downloads; once revoked it gets 401 on the API and the WebSocket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from retouch.cli.client import ApiError, RetouchClient
from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack

OPS = [{"op": "thumbnail", "params": {"width": 64}}]


def test_an_api_key_does_a_whole_job_and_stops_working_when_revoked(tmp_path: Path) -> None:
    [photo] = write_samples(tmp_path, 1)
    with EmbeddedStack(workdir=tmp_path / "stack") as stack:
        user = RetouchClient(stack.api_url, stack.token)
        created = user._call("POST", "/api-keys", json={"name": "backend"})
        server = RetouchClient(stack.api_url, created["key"])
        job = server.create_job([{"name": photo.name, "content_type": "image/jpeg", "size": photo.stat().st_size}], OPS, {})
        server.upload(job["uploads"][0], photo, "image/jpeg")
        with connect(f"{job['websocket_url']}?token={created['key']}", open_timeout=60) as ws:
            ws.send(json.dumps({"action": "subscribe", "job_id": job["job_id"], "after": 0}))
            event = json.loads(ws.recv(timeout=300))
        assert event["type"] == "image" and event["status"] == "succeeded", event
        got = requests.get(event["download_url"], timeout=60)
        assert got.status_code == 200 and got.content[:3] == b"\xff\xd8\xff"
        assert [j["job_id"] for j in user.jobs()] == [job["job_id"]]  # the key acted as its user

        user._call("DELETE", f"/api-keys/{created['key_id']}")
        with pytest.raises(ApiError) as refused:
            server.job(job["job_id"])
        assert refused.value.status == 401
        with pytest.raises(InvalidStatus) as closed:
            connect(f"{stack.websocket_url}?token={created['key']}", open_timeout=60)
        assert closed.value.response.status_code == 401


def test_the_same_idempotency_key_gives_one_job_and_another_body_a_409(tmp_path: Path) -> None:
    with EmbeddedStack(workdir=tmp_path / "stack") as stack:
        headers = {"Authorization": f"Bearer {stack.token}", "Idempotency-Key": "mobile-retry-7f3a"}
        body = {"images": [{"name": "a.jpg", "content_type": "image/jpeg", "size": 1000}], "operations": OPS}
        first = requests.post(f"{stack.api_url}/jobs", json=body, headers=headers, timeout=60)
        again = requests.post(f"{stack.api_url}/jobs", json=body, headers=headers, timeout=60)
        assert first.status_code == again.status_code == 201
        assert first.json()["job_id"] == again.json()["job_id"]
        assert len(RetouchClient(stack.api_url, stack.token).jobs()) == 1
        changed = {**body, "operations": [{"op": "contrast"}]}
        other = requests.post(f"{stack.api_url}/jobs", json=changed, headers=headers, timeout=60)
        assert other.status_code == 409 and "another request body" in other.json()["error"]["message"]
