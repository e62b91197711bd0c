"""API keys: made and revoked by a signed-in user, shown once, stored as a hash, acting as that
user through the authorizer (which the routes trust)."""

from __future__ import annotations

import pytest

from functions.authorizer import app as authorizer_app
from retouch.logic import deps
from tests.conftest import Aws
from tests.helpers import call_api, context
from tests.unit.test_handlers import IMAGE, THUMB


@pytest.fixture
def pool_settings(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    monkeypatch.setenv("USER_POOL_ID", "us-east-1_pool")
    monkeypatch.setenv("USER_POOL_CLIENT_IDS", "client")
    deps.reset()
    return aws


def authorize(token: str) -> dict:
    event = {"version": "2.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:1:a/$default/GET/jobs",
             "routeKey": "GET /jobs", "rawPath": "/jobs", "headers": {"authorization": f"Bearer {token}"},
             "requestContext": {"http": {"method": "GET", "path": "/jobs"}}}  # fmt: skip
    return authorizer_app.http_handler(event, context("authorizer"))


def test_a_key_is_shown_once_stored_as_a_hash_and_acts_as_its_user(pool_settings: Aws) -> None:
    status, created = call_api("POST", "/api-keys", body={"name": "nightly batch"})
    assert status == 201 and created["key"].startswith("rk_") and created["name"] == "nightly batch"
    _, listed = call_api("GET", "/api-keys")
    assert listed == {"keys": [{"key_id": created["key_id"], "name": "nightly batch", "created_at": created["created_at"]}]}
    table = next(iter(pool_settings.ddb.list_tables()["TableNames"]))
    stored = str(pool_settings.ddb.scan(TableName=table)["Items"])
    assert created["key"] not in stored and created["key"].rsplit("_", 1)[1] not in stored  # only a hash is kept
    allowed = authorize(created["key"])
    assert allowed == {"isAuthorized": True, "context": {"sub": "alice", "auth": "key"}}
    # the key works like its user on the routes (within the user's limits), but cannot manage keys
    status, job = call_api("POST", "/jobs", body={"images": [IMAGE], "operations": THUMB}, auth="key")
    assert status == 201
    assert call_api("GET", "/jobs", auth="key")[1]["jobs"][0]["job_id"] == job["job_id"]
    status, reply = call_api("POST", "/api-keys", body={"name": "another"}, auth="key")
    assert status == 403 and "sign-in" in reply["error"]["message"]


def test_a_revoked_or_altered_key_is_refused(pool_settings: Aws) -> None:
    _, created = call_api("POST", "/api-keys", body={"name": "ci"})
    key = created["key"]
    assert authorize(key[:-1] + ("A" if key[-1] != "A" else "B"))["isAuthorized"] is False  # a wrong secret
    path, route, params = f"/api-keys/{created['key_id']}", "/api-keys/{key_id}", {"key_id": created["key_id"]}
    assert authorize(key)["isAuthorized"] is True
    assert call_api("DELETE", path, route=route, params=params, sub="bob")[0] == 404  # not bob's to revoke
    assert call_api("DELETE", path, route=route, params=params)[0] == 204
    assert authorize(key)["isAuthorized"] is False
    assert call_api("GET", "/api-keys")[1] == {"keys": []}
    assert call_api("DELETE", path, route=route, params=params)[0] == 404
