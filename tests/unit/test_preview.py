"""POST /preview (the web page's preview) and the site's deploy-time configuration."""

from __future__ import annotations

import base64
import io
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from PIL import Image

from functions.preview import app
from retouch.adapters.quotas import PreviewLimits
from retouch.local.events import http_api_event
from retouch.logic import deps, site
from tests.conftest import Aws
from tests.helpers import context


def preview_event(body: bytes, content_type: str, operations: Any, sub: str | None = "alice") -> dict[str, Any]:
    event = http_api_event(
        method="POST",
        route_path="/preview",
        path="/preview",
        query=urlencode({"operations": json.dumps(operations), "format": "png"}),
        headers={"content-type": content_type},
        sub=sub,
    )
    event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    return event


def jpeg(size: tuple[int, int] = (320, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 80, 40)).save(out, "JPEG")
    return out.getvalue()


def test_preview_renders_the_operations_on_the_image(aws: Aws) -> None:
    ops = [{"op": "thumbnail", "params": {"width": 160}}]
    response = app.lambda_handler(preview_event(jpeg(), "image/jpeg", ops), context("preview"))
    assert response["statusCode"] == 200, response
    assert response["isBase64Encoded"] is True
    with Image.open(io.BytesIO(base64.b64decode(response["body"]))) as out:
        assert (out.format, out.size) == ("PNG", (160, 100))


def test_preview_refuses_text_bad_operations_and_non_images(aws: Aws) -> None:
    ok_ops = [{"op": "contrast", "params": {}}]
    cases = [
        (b"hello, not an image", "image/jpeg", ok_ops),
        (jpeg(), "image/jpeg", [{"op": "sharpen_everything", "params": {}}]),
        (jpeg(), "application/json", ok_ops),
        (jpeg(), "image/jpeg", []),
    ]
    for body, content_type, ops in cases:
        response = app.lambda_handler(preview_event(body, content_type, ops), context("preview"))
        assert response["statusCode"] == 400, (content_type, ops, response)
        assert json.loads(response["body"])["error"]["message"]


def test_preview_needs_a_caller(aws: Aws) -> None:
    response = app.lambda_handler(preview_event(jpeg(), "image/jpeg", [{"op": "contrast"}], sub=None), context("preview"))
    assert response["statusCode"] == 401


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    deps.reset()


def test_preview_over_the_users_rate_is_429_with_retry_after(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, PREVIEWS_PER_MINUTE="3")
    ops = [{"op": "thumbnail", "params": {"width": 32}}]
    statuses = [app.lambda_handler(preview_event(jpeg(), "image/jpeg", ops), context("preview")) for _ in range(4)]
    assert [r["statusCode"] for r in statuses] in ([200, 200, 200, 429], [200, 200, 429, 200])  # (a minute may turn)
    refused = next(r for r in statuses if r["statusCode"] == 429)
    assert 1 <= int(refused["headers"]["Retry-After"]) <= 60
    assert "previews in a minute" in json.loads(refused["body"])["error"]["message"]
    other = app.lambda_handler(preview_event(jpeg(), "image/jpeg", ops, sub="bob"), context("preview"))
    assert other["statusCode"] == 200  # one user's limit is theirs alone


def test_preview_slots_limit_previews_running_at_once(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, PREVIEWS_AT_ONCE="2")
    quotas, limits = deps.preview_deps().quotas, PreviewLimits(per_minute=100, at_once=2, lease_seconds=30)
    held = [quotas.start_preview("alice", limits), quotas.start_preview("alice", limits)]
    response = app.lambda_handler(preview_event(jpeg(), "image/jpeg", [{"op": "contrast"}]), context("preview"))
    assert response["statusCode"] == 429, response
    assert "running" in json.loads(response["body"])["error"]["message"]
    quotas.end_preview("alice", held[0])
    response = app.lambda_handler(preview_event(jpeg(), "image/jpeg", [{"op": "contrast"}]), context("preview"))
    assert response["statusCode"] == 200, response  # and it gave its slot back:
    assert quotas.start_preview("alice", limits) not in held[1:]


def test_preview_slot_of_a_killed_preview_frees_itself_when_its_lease_ends(aws: Aws) -> None:
    quotas = deps.preview_deps().quotas
    quotas.start_preview("alice", PreviewLimits(per_minute=100, at_once=1, lease_seconds=-1))  # never ended
    quotas.start_preview("alice", PreviewLimits(per_minute=100, at_once=1, lease_seconds=30))  # the lease ran out


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"operations": json.dumps([{"op": "contrast"}] * 7)}, "at most 6 operations"),
        ({"operations": '[{"op": "thumbnail", "params": {"width": ' + "9" * 5000 + "}}]"}, "too long"),
        ({"operations": '[{"op": "contrast"}]', "quality": "9" * 5000}, "quality"),
    ],
)
def test_preview_refuses_long_chains_and_huge_numbers_with_400(aws: Aws, query: dict[str, str], expected: str) -> None:
    event = preview_event(jpeg(), "image/jpeg", [])
    event["rawQueryString"] = urlencode(query)
    event["queryStringParameters"] = query
    response = app.lambda_handler(event, context("preview"))
    assert response["statusCode"] == 400, response
    assert expected in json.loads(response["body"])["error"]["message"]


def test_preview_answer_over_the_response_limit_is_a_plain_400(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, MAX_PREVIEW_RESPONSE_BYTES="20000")
    noise = Image.effect_noise((320, 200), 80).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "PNG")
    response = app.lambda_handler(preview_event(out.getvalue(), "image/png", [{"op": "contrast"}]), context("preview"))
    assert response["statusCode"] == 400, response
    assert "more than a preview can send back" in json.loads(response["body"])["error"]["message"]


def test_site_config_points_the_page_at_the_api_and_the_hosted_ui() -> None:
    config = site.page_config(
        {
            "SiteUrl": "https://d1.cloudfront.net",
            "ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com/",
            "CognitoDomain": "retouch-dev-1.auth.us-east-1.amazoncognito.com",
            "ClientId": "client123",
        }
    )
    assert config["api_url"] == "https://abc.execute-api.us-east-1.amazonaws.com"
    assert config["auth"] == {
        "mode": "cognito",
        "domain": "retouch-dev-1.auth.us-east-1.amazoncognito.com",
        "client_id": "client123",
        "redirect_uri": "https://d1.cloudfront.net/",
        "scopes": ["openid", "email", "aws.cognito.signin.user.admin"],
    }
    names = {name for name, _ in site.site_files()}
    assert {"index.html", "app.js", "api.js", "style.css", "vendor/client-zip/index.js", "vendor/client-zip/LICENSE.txt"} <= names
