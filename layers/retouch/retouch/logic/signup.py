"""signup: the Cognito pre sign-up check that keeps self sign-up to the allowed email domains.

With ``SelfSignUp=true`` and ``SignUpEmailDomains`` set, the user pool calls this before it
creates a self-registered user. An address at a listed domain passes unchanged (nothing is
auto-confirmed or auto-verified: the e-mailed code still proves the user owns the inbox, which
is what makes the domain check mean anything); any other address is refused with
:class:`SignUpRefused`, whose message Cognito shows to the person signing up. Users an
administrator creates (``PreSignUp_AdminCreateUser``) are never refused here.

Domains match exactly and case-insensitively: ``example.com`` does not admit
``mail.example.com``. An empty list refuses every self sign-up (fail closed); the template
attaches the trigger only when the list is non-empty, so that happens only if the function is
invoked misconfigured.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import PreSignUpTriggerEvent

from retouch.errors import SignUpRefused
from retouch.logic.deps import SignUpDeps
from retouch.observability import logger
from retouch.settings import normalize_domain

ADMIN_CREATE_USER = "PreSignUp_AdminCreateUser"
ASK_AN_ADMINISTRATOR = "Ask an administrator to create your account."


def email_domain(email: str) -> str | None:
    """The normalized domain of ``email``, or None when it is not ``local@domain``."""
    local, at, domain = email.strip().rpartition("@")
    domain = normalize_domain(domain)
    return domain if at and local and domain else None


def check_sign_up(event: PreSignUpTriggerEvent, allowed: frozenset[str]) -> None:
    """Refuse a self sign-up whose e-mail domain is not in ``allowed``.

    :raises SignUpRefused: no usable e-mail address, a domain not listed, or an empty list.
    """
    if event.trigger_source == ADMIN_CREATE_USER:
        logger.info("sign-up created by an administrator: not checked", extra={"trigger": event.trigger_source})
        return
    if not allowed:
        logger.warning("sign-up refused: SIGNUP_EMAIL_DOMAINS is empty", extra={"trigger": event.trigger_source})
        raise SignUpRefused(f"Sign-up is closed. {ASK_AN_ADMINISTRATOR}")
    domain = email_domain(event.request.user_attributes.get("email", ""))
    if domain is None:
        logger.info("sign-up refused: no e-mail address", extra={"trigger": event.trigger_source})
        raise SignUpRefused("Sign up with your e-mail address (name@domain).")
    # the domain only: the address itself stays out of the logs
    if domain not in allowed:
        logger.info("sign-up refused: domain not allowed", extra={"domain": domain, "trigger": event.trigger_source})
        raise SignUpRefused(f"Sign-up with an address at {domain} is not open here. {ASK_AN_ADMINISTRATOR}")
    logger.info("sign-up allowed", extra={"domain": domain, "trigger": event.trigger_source})


def handle(raw: dict[str, Any], deps: SignUpDeps) -> dict[str, Any]:
    """The pre sign-up trigger: the event back unchanged when allowed (Cognito requires it)."""
    event = PreSignUpTriggerEvent(raw)
    check_sign_up(event, deps.settings.allowed_domains)
    return event.raw_event
