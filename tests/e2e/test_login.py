"""`retouch login` against a Cognito stand-in (moto's cognito-idp over HTTP), and the cached
sign-in used by `retouch run/jobs --api` without a token."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from retouch.local.stack import EmbeddedStack
from tests.helpers import RETOUCH

EMAIL, PASSWORD = "ada@example.com", "Correct-horse-battery-9"


@pytest.fixture(scope="module")
def pool(stack: EmbeddedStack) -> tuple[str, str]:
    """A user pool like the template's (email user names, SRP and refresh flows) with one user."""
    idp = stack.client("cognito-idp")
    pool_id = idp.create_user_pool(PoolName="retouch-users", UsernameAttributes=["email"])["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="cli", ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool_id, Username=EMAIL)
    idp.admin_set_user_password(UserPoolId=pool_id, Username=EMAIL, Password=PASSWORD, Permanent=True)
    return pool_id, client_id


def cli(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RETOUCH_TOKEN"))}  # no AWS credentials needed
    env["XDG_CONFIG_HOME"] = str(config)
    return subprocess.run([*RETOUCH, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300, check=False)


def login(stack: EmbeddedStack, pool: tuple[str, str], config: Path, email: str = EMAIL) -> subprocess.CompletedProcess[str]:
    return cli(
        config,
        "login",
        "--api",
        stack.api_url,
        "--user-pool-id",
        pool[0],
        "--client-id",
        pool[1],
        "--email",
        email,
        "--password-stdin",
        "--cognito-endpoint",
        stack.endpoint,
        stdin=PASSWORD + "\n",
    )


def test_login_caches_tokens_for_the_owner_only_and_run_uses_them(
    stack: EmbeddedStack, pool: tuple[str, str], tmp_path: Path
) -> None:
    signed = login(stack, pool, tmp_path)
    assert signed.returncode == 0, signed.stderr
    assert f"Signed in to {stack.api_url} as {EMAIL}" in signed.stderr
    creds = tmp_path / "retouch" / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600 and stat.S_IMODE(creds.parent.stat().st_mode) == 0o700
    session = json.loads(creds.read_text())[stack.api_url]
    assert session["username"] == EMAIL and session["refresh_token"] and PASSWORD not in creds.read_text()
    # the API accepts the user's access token (the embedded stack's stand-in for the JWT authorizer)
    stack.tokens[session["access_token"]] = "ada"
    listed = cli(tmp_path, "jobs", "--api", stack.api_url, "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == {"jobs": []}, listed.stderr

    out = cli(tmp_path, "logout", "--api", stack.api_url)
    assert out.returncode == 0 and not creds.exists()
    refused = cli(tmp_path, "jobs", "--api", stack.api_url)
    assert refused.returncode == 2 and "not signed in" in refused.stderr and "retouch login" in refused.stderr


def test_an_expiring_sign_in_is_refreshed(stack: EmbeddedStack, pool: tuple[str, str], tmp_path: Path, monkeypatch) -> None:
    from retouch.cli import auth

    assert login(stack, pool, tmp_path).returncode == 0
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    creds = auth.credentials_path()
    sessions = json.loads(creds.read_text())
    sessions[stack.api_url]["expires_at"] = 0  # as if an hour had passed
    creds.write_text(json.dumps(sessions))
    token = auth.token_for(stack.api_url)
    refreshed = json.loads(creds.read_text())[stack.api_url]
    assert token == refreshed["access_token"] and refreshed["expires_at"] > 0


def test_login_of_an_unknown_user_is_refused_in_one_line(stack: EmbeddedStack, pool: tuple[str, str], tmp_path: Path) -> None:
    proc = login(stack, pool, tmp_path, email="nobody@example.com")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: sign-in refused") and "Traceback" not in proc.stderr
    assert not (tmp_path / "retouch" / "credentials.json").exists()


def test_login_needs_a_stack_or_the_pool(tmp_path: Path) -> None:
    proc = cli(tmp_path, "login", "--email", EMAIL, "--password-stdin", stdin="x\n")
    assert proc.returncode == 2 and "give --stack-name" in proc.stderr


def test_template_user_pool_client_allows_the_flows_login_uses() -> None:
    from retouch.local.template import load_template
    from tests.conftest import TEMPLATE

    client = load_template(TEMPLATE)["Resources"]["UserPoolClient"]["Properties"]
    assert {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} <= set(client["ExplicitAuthFlows"])
    assert client["GenerateSecret"] is False  # a public client: the CLI holds no secret
