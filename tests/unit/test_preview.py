"""POST /preview (the web page's preview) and the site's deploy-time configuration."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from PIL import Image

from functions.preview import app
from retouch.local.events import http_api_event
from retouch.logic import site
from tests.helpers import context


def preview_event(body: bytes, content_type: str, operations: Any, sub: str | None = "alice") -> dict[str, Any]:
    from urllib.parse import urlencode

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


def test_preview_renders_the_operations_on_the_image() -> None:
    ops = [{"op": "thumbnail", "params": {"width": 160}}]
    response = app.lambda_handler(preview_event(jpeg(), "image/jpeg", ops), context("preview"))
    assert response["statusCode"] == 200, response
    assert response["isBase64Encoded"] is True
    with Image.open(io.BytesIO(base64.b64decode(response["body"]))) as out:
        assert (out.format, out.size) == ("PNG", (160, 100))


def test_preview_refuses_text_bad_operations_and_non_images() -> None:
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


def test_preview_needs_a_caller() -> None:
    response = app.lambda_handler(preview_event(jpeg(), "image/jpeg", [{"op": "contrast"}], sub=None), context("preview"))
    assert response["statusCode"] == 401


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
