"""The authorizers (the WebSocket's ``$connect`` and the HTTP API's) accept an access token of
this stack's user pool, from one of its app clients - not a valid token of another pool in the
same region, an ID token, or a token of another client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from functions.authorizer import app
from retouch.adapters.aws import client
from retouch.logic import deps
from tests.helpers import context

REGION = "us-east-1"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connect"


class Pool:
    def __init__(self, cognito: Any, name: str) -> None:
        self.cognito = cognito
        self.id = cognito.create_user_pool(PoolName=name)["UserPool"]["Id"]
        self.client_id = self.new_client()
        cognito.admin_create_user(UserPoolId=self.id, Username="alice", TemporaryPassword="Temp-pass-1!")
        cognito.admin_set_user_password(UserPoolId=self.id, Username="alice", Password="Real-pass-1!", Permanent=True)

    def new_client(self) -> str:
        client = self.cognito.create_user_pool_client(
            UserPoolId=self.id, ClientName="app", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
        )
        return str(client["UserPoolClient"]["ClientId"])

    def tokens(self, client_id: str | None = None) -> dict[str, str]:
        got = self.cognito.admin_initiate_auth(
            UserPoolId=self.id,
            ClientId=client_id or self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": "Real-pass-1!"},
        )
        return dict(got["AuthenticationResult"])


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Pool, Pool]]:
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        deps.reset()
        cognito = client("cognito-idp")
        ours, theirs = Pool(cognito, "ours"), Pool(cognito, "theirs")
        monkeypatch.setenv("USER_POOL_ID", ours.id)
        monkeypatch.setenv("USER_POOL_CLIENT_IDS", f"{ours.client_id}, other-client")
        monkeypatch.setenv("AWS_REGION", REGION)
        monkeypatch.setenv("JOBS_TABLE", "jobs")
        client("dynamodb").create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        deps.reset()
        yield ours, theirs
    deps.reset()


def connect(token: str | None) -> dict[str, Any]:
    event = {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {},
        "queryStringParameters": {"token": token} if token is not None else {},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c1"},
    }
    return app.websocket_handler(event, context("authorizer"))


def effect(response: dict[str, Any]) -> str:
    [statement] = response["policyDocument"]["Statement"]
    return str(statement["Effect"])


def test_an_access_token_of_this_pool_and_client_connects_as_its_user(pools: tuple[Pool, Pool]) -> None:
    ours, _ = pools
    response = connect(ours.tokens()["AccessToken"])
    assert effect(response) == "Allow"
    sub = next(
        a["Value"]
        for a in ours.cognito.admin_get_user(UserPoolId=ours.id, Username="alice")["UserAttributes"]
        if a["Name"] == "sub"
    )
    assert response["principalId"] == sub


def test_a_valid_token_of_another_pool_in_the_region_is_refused(pools: tuple[Pool, Pool]) -> None:
    _, theirs = pools
    token = theirs.tokens()["AccessToken"]
    assert theirs.cognito.get_user(AccessToken=token)["Username"] == "alice"  # Cognito itself accepts it
    assert effect(connect(token)) == "Deny"


def test_an_id_token_or_a_token_of_another_client_is_refused(pools: tuple[Pool, Pool]) -> None:
    ours, _ = pools
    assert effect(connect(ours.tokens()["IdToken"])) == "Deny"
    assert effect(connect(ours.tokens(ours.new_client())["AccessToken"])) == "Deny"


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "a.b.c", "x." + "e30" + ".y"])
def test_no_token_or_garbage_is_refused(pools: tuple[Pool, Pool], token: str | None) -> None:
    assert effect(connect(token)) == "Deny"


def http_call(token: str | None) -> dict[str, Any]:
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/$default/GET/jobs",
        "identitySource": [f"Bearer {token}"] if token else [],
        "routeKey": "GET /jobs",
        "rawPath": "/jobs",
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {token}"} if token else {},
        "requestContext": {"http": {"method": "GET", "path": "/jobs"}},
    }
    return app.http_handler(event, context("authorizer"))


def test_the_http_authorizer_passes_this_pools_user_on_and_refuses_another_pools(pools: tuple[Pool, Pool]) -> None:
    ours, theirs = pools
    allowed = http_call(ours.tokens()["AccessToken"])
    assert allowed["isAuthorized"] is True and allowed["context"]["auth"] == "user" and allowed["context"]["sub"]
    for token in (theirs.tokens()["AccessToken"], ours.tokens()["IdToken"], "rk_0123456789abcdef_" + "x" * 43, None):
        assert http_call(token)["isAuthorized"] is False, token
