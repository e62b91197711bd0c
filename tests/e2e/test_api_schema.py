"""schemathesis against the API's own OpenAPI document, over HTTP on the embedded stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from retouch.local.stack import EmbeddedStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    with EmbeddedStack(workdir=tmp_path_factory.mktemp("schema")) as s:
        yield s


@pytest.fixture(scope="module")
def api_schema(stack: EmbeddedStack) -> schemathesis.BaseSchema:
    document = requests.get(f"{stack.api_url}/openapi.json", timeout=30).json()
    return schemathesis.openapi.from_dict(document)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)  # a fixed seed: CI reproducible
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case, stack: EmbeddedStack) -> None:
    # Every check runs but "schema-valid data is accepted": the document cannot express the
    # registry's cross-parameter rules (a parameter that only applies to one method, box *or*
    # aspect, width *or* height), which the API rejects with a precise 400 - tested elsewhere.
    case.call_and_validate(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {stack.token}"},
        excluded_checks=[positive_data_acceptance],
    )


def test_api_openapi_document_is_public_and_lists_every_operation(stack: EmbeddedStack) -> None:
    got = requests.get(f"{stack.api_url}/openapi.json", timeout=30)
    assert got.status_code == 200
    schemas = got.json()["components"]["schemas"]
    variants = schemas["JobRequest"]["properties"]["operations"]["items"]["oneOf"]
    titles = {schemas[v["$ref"].rsplit("/", 1)[-1]]["title"] for v in variants}
    assert titles == {"crop", "thumbnail", "contrast", "red_eye", "teeth_whitening", "colorize"}
    assert requests.get(f"{stack.api_url}/operations", timeout=30).status_code == 401


def test_api_docs_page_serves_swagger_ui_from_the_same_document(stack: EmbeddedStack) -> None:
    page = requests.get(f"{stack.api_url}/docs", timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "SwaggerUIBundle" in page.text and "JobRequest" in page.text
