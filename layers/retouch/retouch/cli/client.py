"""A small client for the Retouch HTTP API and its presigned URLs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from retouch.cli.files import PART_SUFFIX


class ApiError(RuntimeError):
    """An HTTP error. ``envelope``: the answer was the service's own error (its JSON envelope),
    not the gateway's (an unknown route, a refused token) or another server's; ``request``:
    ``METHOD URL`` of the call."""

    def __init__(self, status: int, message: str, *, envelope: bool = False, request: str = "") -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.envelope = envelope
        self.request = request


class RetouchClient:
    def __init__(self, api_url: str, token: str, timeout: float = 60) -> None:
        import requests  # here: `retouch apply` and `retouch ops` never talk to the service

        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.token = token
        self.session.headers["Authorization"] = f"Bearer {token}"
        adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=3)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # presigned URLs carry their own authorisation; they get a session without the token
        self.plain = requests.Session()
        self.plain.mount("http://", adapter)
        self.plain.mount("https://", adapter)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, self.api_url + path, timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            envelope = False
            try:
                body = response.json()
                error = body.get("error") if isinstance(body, dict) else None
                if isinstance(error, dict) and error.get("message"):
                    envelope, message = True, error["message"]
                else:
                    message = (body.get("message") if isinstance(body, dict) else None) or response.reason or response.text[:300]
            except ValueError:
                message = response.reason or response.text[:300]
            raise ApiError(response.status_code, str(message), envelope=envelope, request=f"{method} {self.api_url}{path}")
        return response.json() if response.content else None

    def operations(self) -> dict[str, Any]:
        """``GET /operations``: ``operations`` (with their words), ``output_formats``, ``limits``."""
        return self._call("GET", "/operations")  # type: ignore[no-any-return]

    def create_job(
        self, images: list[dict[str, Any]], operations: list[dict[str, Any]], output: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        """``POST /jobs``; ``fields`` are further job fields (``callback_url``)."""
        body = {"images": images, "operations": operations, "output": output, **fields}
        return self._call("POST", "/jobs", json=body)  # type: ignore[no-any-return]

    def jobs(self) -> list[dict[str, Any]]:
        """All the caller's jobs, newest first (``GET /jobs``, every page)."""
        jobs: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self._call("GET", "/jobs", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
            jobs += page["jobs"]
            cursor = page.get("next_cursor")
            if not cursor:
                return jobs

    def cancel(self, job_id: str) -> dict[str, Any]:
        """``POST /jobs/{id}/cancel``: the job as it ended."""
        return self._call("POST", f"/jobs/{job_id}/cancel")  # type: ignore[no-any-return]

    def delete(self, job_id: str) -> None:
        """``DELETE /jobs/{id}``: its photos, outputs and records, for good."""
        self._call("DELETE", f"/jobs/{job_id}")

    def job(self, job_id: str) -> dict[str, Any]:
        """``GET /jobs/{id}``, every page of its images (the counters come with the first)."""
        job: dict[str, Any] = self._call("GET", f"/jobs/{job_id}")
        while job.get("next_cursor"):
            page = self._call("GET", f"/jobs/{job_id}", params={"cursor": job["next_cursor"]})
            job = {**job, "images": job["images"] + page["images"], "next_cursor": page.get("next_cursor")}
        return job

    def events(self, job_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The job's events after ``after``, in ``seq`` order (``GET /jobs/{id}/events``)."""
        out: list[dict[str, Any]] = []
        while True:
            page = self._call("GET", f"/jobs/{job_id}/events", params={"after": after})["events"]
            out += page
            if not page:
                return out
            after = page[-1]["seq"]

    def deliveries(self, job_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/jobs/{job_id}/deliveries")["deliveries"]  # type: ignore[no-any-return]

    def webhook_secret(self, rotate: bool = False) -> dict[str, Any]:
        return self._call("POST" if rotate else "GET", "/webhook-secret")  # type: ignore[no-any-return]

    def follow(
        self,
        websocket_url: str,
        job_id: str,
        after: int = 0,
        timeout: float | None = 30,
        stop: threading.Event | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Events of a job over the WebSocket, from ``after`` on, in ``seq`` order (a repeated
        ``seq`` is dropped). Ends after the job event, or when ``stop`` is set; raises
        ``OSError`` or ``websockets.exceptions.WebSocketException`` when the connection fails
        (fall back to polling then), ``TimeoutError`` after ``timeout`` s without a message
        (``None``: wait as long as it takes)."""
        from websockets.sync.client import connect

        url = f"{websocket_url}?{urlencode({'token': self.token})}"
        with connect(url, open_timeout=self.timeout, close_timeout=2) as ws:
            ws.send(json.dumps({"action": "subscribe", "job_id": job_id, "after": after}))
            last = after
            quiet_since = time.monotonic()
            while stop is None or not stop.is_set():
                try:
                    text = ws.recv(timeout=1)
                except TimeoutError:
                    if timeout is not None and time.monotonic() - quiet_since > timeout:
                        raise
                    continue
                quiet_since = time.monotonic()
                event = json.loads(text)
                if event.get("type") == "error":
                    raise ApiError(404, str(event.get("message")))
                if int(event.get("seq", 0)) <= last:
                    continue
                last = int(event["seq"])
                yield event
                if event["type"] == "job":
                    return

    def upload(self, upload: dict[str, Any], path: Path, content_type: str) -> None:
        """POST a file to S3 with its presigned form (the service never sees the bytes)."""
        with path.open("rb") as fh:
            response = self.plain.post(
                upload["url"], data=upload["fields"], files={"file": (path.name, fh, content_type)}, timeout=self.timeout * 5
            )
        if response.status_code >= 300:
            raise ApiError(response.status_code, f"upload of {path.name} refused: {response.text[:300]}")

    def download(self, url: str, dest: Path) -> int:
        with self.plain.get(url, stream=True, timeout=self.timeout * 5) as response:
            if response.status_code >= 300:
                raise ApiError(response.status_code, f"download failed: {response.text[:300]}")
            tmp = dest.with_name(dest.name + PART_SUFFIX)
            size = 0
            with tmp.open("wb") as fh:
                for chunk in response.iter_content(1 << 20):
                    fh.write(chunk)
                    size += len(chunk)
            tmp.replace(dest)
            return size
