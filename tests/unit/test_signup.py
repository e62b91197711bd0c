"""The Cognito pre sign-up check (SelfSignUp=true with SignUpEmailDomains) and its template wiring."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from functions.signup import app as signup_app
from retouch.errors import SignUpRefused
from retouch.local.template import Resolver, build_model, load_template
from retouch.logic import deps, signup
from retouch.logic.deps import SignUpDeps
from retouch.settings import SignUpSettings
from tests.helpers import context

ROOT = Path(__file__).resolve().parents[2]


def pre_sign_up(email: str | None, trigger: str = "PreSignUp_SignUp") -> dict[str, Any]:
    """A pre sign-up event as Cognito sends it."""
    attributes = {} if email is None else {"email": email}
    return {
        "version": "1",
        "region": "us-east-1",
        "userPoolId": "us-east-1_EXAMPLE",
        "userName": "4d8e1b3c-0000-4000-8000-000000000000",
        "callerContext": {"awsSdkVersion": "aws-sdk-js-3", "clientId": "client"},
        "triggerSource": trigger,
        "request": {"userAttributes": attributes, "validationData": None},
        "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
    }


def settings(domains: str) -> SignUpSettings:
    return SignUpSettings.from_env({"SIGNUP_EMAIL_DOMAINS": domains})


def allowing(domains: str) -> SignUpDeps:
    return SignUpDeps(settings(domains))


def test_signup_allowed_domain_passes_and_confirms_nothing() -> None:
    event = pre_sign_up("ada@example.com")
    answer = signup.handle(copy.deepcopy(event), allowing("example.com,example.org"))
    assert answer == event  # Cognito gets its event back, nothing auto-confirmed or verified
    assert answer["response"] == {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}


def test_signup_other_domain_is_refused_with_a_readable_message() -> None:
    with pytest.raises(SignUpRefused) as refused:
        signup.handle(pre_sign_up("mallory@gmail.com"), allowing("example.com"))
    message = str(refused.value)
    assert message == "Sign-up with an address at gmail.com is not open here. Ask an administrator to create your account."
    assert "example.com" not in message  # the allowed list is not disclosed


@pytest.mark.parametrize("email", ["Ada@EXAMPLE.com", " ada@Example.Com ", "ada@example.com."])
def test_signup_domains_match_case_insensitively(email: str) -> None:
    signup.handle(pre_sign_up(email), allowing(" Example.COM , @example.org"))


@pytest.mark.parametrize("email", ["ada@mail.example.com", "ada@example.com.evil.test", "ada@notexample.com"])
def test_signup_domains_match_exactly_not_as_suffixes(email: str) -> None:
    with pytest.raises(SignUpRefused, match="is not open here"):
        signup.handle(pre_sign_up(email), allowing("example.com"))


def test_signup_last_at_sign_decides_the_domain() -> None:
    with pytest.raises(SignUpRefused, match=r"address at evil\.test"):
        signup.handle(pre_sign_up('"ada@example.com"@evil.test'), allowing("example.com"))


@pytest.mark.parametrize("email", [None, "", "example.com", "@example.com", "ada@"])
def test_signup_without_a_usable_email_is_refused(email: str | None) -> None:
    with pytest.raises(SignUpRefused, match=r"Sign up with your e-mail address \(name@domain\)"):
        signup.handle(pre_sign_up(email), allowing("example.com"))


@pytest.mark.parametrize("domains", ["", " , ,"])
def test_signup_empty_list_refuses_every_self_sign_up(domains: str) -> None:
    assert settings(domains).allowed_domains == frozenset()
    with pytest.raises(SignUpRefused, match=r"Sign-up is closed\. Ask an administrator"):
        signup.handle(pre_sign_up("ada@example.com"), allowing(domains))
    with pytest.raises(SignUpRefused, match="Sign-up is closed"):
        signup.handle(pre_sign_up("ada@example.com", trigger="PreSignUp_ExternalProvider"), allowing(domains))


@pytest.mark.parametrize("domains", ["", "example.com"])
def test_signup_users_an_administrator_creates_are_never_refused(domains: str) -> None:
    event = pre_sign_up("bob@elsewhere.test", trigger="PreSignUp_AdminCreateUser")
    assert signup.handle(copy.deepcopy(event), allowing(domains)) == event


def test_signup_settings_default_to_an_empty_list_when_unset() -> None:
    assert SignUpSettings.from_env({}).allowed_domains == frozenset()
    assert settings("a.test,B.test").allowed_domains == {"a.test", "b.test"}


def test_signup_handler_reads_the_domains_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNUP_EMAIL_DOMAINS", "example.com")
    deps.reset()
    try:
        event = pre_sign_up("ada@example.com")
        assert signup_app.lambda_handler(copy.deepcopy(event), context("signup")) == event
        with pytest.raises(SignUpRefused):
            signup_app.lambda_handler(pre_sign_up("ada@other.test"), context("signup"))
    finally:
        deps.reset()


def _user_pool_lambda_config(overrides: dict[str, str]) -> Any:
    template = load_template(ROOT / "template.yaml")
    resolver = Resolver(template, "s", "us-east-1", overrides, "http://x")
    return resolver.resolve(template["Resources"]["UserPool"]["Properties"]["LambdaConfig"])


@pytest.mark.parametrize(
    ("overrides", "attached"),
    [
        ({}, False),
        ({"SelfSignUp": "true"}, False),
        ({"SignUpEmailDomains": "example.com"}, False),
        ({"SelfSignUp": "true", "SignUpEmailDomains": "example.com,example.org"}, True),
    ],
)
def test_signup_trigger_is_attached_only_with_self_sign_up_and_domains(overrides: dict[str, str], attached: bool) -> None:
    config = _user_pool_lambda_config(overrides)
    assert (config == {"PreSignUp": "local-SignUpFunction-Arn"}) is attached
    assert attached or config is None
    template = load_template(ROOT / "template.yaml")
    for name in ("SignUpFunction", "SignUpFunctionPermission"):
        assert template["Resources"][name]["Condition"] == "CheckSignUpEmailDomains"


def test_signup_function_gets_the_domains_parameter_as_its_setting() -> None:
    model = build_model(
        ROOT / "template.yaml",
        stack="s",
        region="us-east-1",
        endpoint="http://x",
        overrides={"SelfSignUp": "true", "SignUpEmailDomains": "example.com,Example.org"},
    )
    fn = model.functions["SignUpFunction"]
    assert SignUpSettings.from_env(fn.environment).allowed_domains == {"example.com", "example.org"}
    assert fn.timeout <= 5  # Cognito waits at most 5 s for a trigger
