"""``retouch login`` / ``logout``: sign in to a deployed stack's Cognito user pool.

The sign-in is Cognito's SRP flow (pycognito), so the password never leaves this machine in any
form Cognito could replay, and never touches Retouch's code on AWS. The tokens are cached per
API URL in ``$XDG_CONFIG_HOME/retouch/credentials.json`` (``~/.config`` by default), readable by
the owner only, and refreshed with the refresh token when the access token is about to expire.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

REFRESH_MARGIN_SECONDS = 120
_REFUSED = {"NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException", "UserNotConfirmedException"}


class SignInError(Exception):
    """Sign-in failed; ``refused`` when Cognito turned the credentials down (not a fault)."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.message, self.refused = message, refused


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "retouch" / "credentials.json"


@dataclass
class Session:
    """One signed-in user of one stack."""

    api: str
    user_pool_id: str
    client_id: str
    region: str
    username: str
    access_token: str
    id_token: str
    refresh_token: str
    expires_at: float
    endpoint: str | None = None
    """Cognito endpoint override (an emulator in tests); ``None`` on AWS."""


def _load() -> dict[str, dict[str, Any]]:
    try:
        raw = json.loads(credentials_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _store(sessions: dict[str, dict[str, Any]]) -> None:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner only, from the first byte
    with os.fdopen(fd, "w") as fh:
        json.dump(sessions, fh, indent=2)
    os.replace(tmp, path)


def _expiry(token: str) -> float:
    import jwt  # pyjwt, a dependency of pycognito

    return float(jwt.decode(token, options={"verify_signature": False}).get("exp", 0))


def stack_outputs(stack_name: str, region: str) -> dict[str, str]:
    """The deployed stack's outputs (``ApiUrl``, ``UserPoolId``, ``UserPoolClientId`` ...)."""
    import boto3

    from retouch.cli import dlq
    from retouch.cli.errors import RunError

    try:
        return dlq.stack_outputs(boto3.client("cloudformation", region_name=region), stack_name, region)
    except (ClientError, BotoCoreError, RunError) as exc:
        raise SignInError(f"cannot read the outputs of stack {stack_name!r} in {region}: {exc}", refused=False) from exc


def _cognito(session: Session) -> Any:
    from pycognito import Cognito

    user = Cognito(
        session.user_pool_id,
        session.client_id,
        user_pool_region=session.region,
        username=session.username,
        access_token=session.access_token or None,
        id_token=session.id_token or None,
        refresh_token=session.refresh_token or None,
    )
    if session.endpoint:
        # an emulator: its tokens name AWS's issuer, so only the client and the signing keys
        # (which the token checks fetch from the issuer) come from the endpoint
        import boto3
        import requests

        user.client = boto3.client("cognito-idp", region_name=session.region, endpoint_url=session.endpoint)
        jwks_url = f"{session.endpoint.rstrip('/')}/{session.user_pool_id}/.well-known/jwks.json"
        user.pool_jwk = requests.get(jwks_url, timeout=15).json()
    return user


def login(
    api: str, user_pool_id: str, client_id: str, region: str, username: str, password: str, endpoint: str | None = None
) -> Session:
    """Sign in with SRP and cache the tokens for ``api``."""
    session = Session(api.rstrip("/"), user_pool_id, client_id, region, username, "", "", "", 0.0, endpoint)
    user = _cognito(session)
    try:
        user.authenticate(password=password)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _REFUSED:
            raise SignInError("sign-in refused: wrong email or password, or the account is not confirmed", refused=True) from exc
        raise SignInError(f"sign-in failed: {exc.response.get('Error', {}).get('Message', code)}", refused=False) from exc
    except (BotoCoreError, OSError) as exc:
        raise SignInError(f"cannot reach Cognito: {exc}", refused=False) from exc
    session.access_token, session.id_token, session.refresh_token = user.access_token, user.id_token, user.refresh_token
    session.expires_at = _expiry(user.access_token)
    sessions = _load()
    sessions[session.api] = asdict(session)
    _store(sessions)
    return session


def token_for(api: str) -> str | None:
    """A valid access token for ``api`` from the cache (refreshed if it is about to expire), or
    ``None`` when nobody signed in to it."""
    sessions = _load()
    raw = sessions.get(api.rstrip("/"))
    if raw is None:
        return None
    session = Session(**raw)
    if session.expires_at - REFRESH_MARGIN_SECONDS > time.time():
        return session.access_token
    user = _cognito(session)
    try:
        user.renew_access_token()
    except ClientError as exc:
        raise SignInError("your sign-in has expired; run retouch login again", refused=True) from exc
    except (BotoCoreError, OSError) as exc:
        raise SignInError(f"cannot reach Cognito to refresh the sign-in: {exc}", refused=False) from exc
    session.access_token, session.id_token = user.access_token, user.id_token
    session.expires_at = _expiry(user.access_token)
    sessions[session.api] = asdict(session)
    _store(sessions)
    return session.access_token


def logout(api: str | None = None) -> list[str]:
    """Forget the cached sign-in for ``api`` (all of them if ``None``); returns the APIs forgotten."""
    sessions = _load()
    gone = [a for a in sessions if api is None or a == api.rstrip("/")]
    for a in gone:
        del sessions[a]
    if sessions:
        _store(sessions)
    else:
        credentials_path().unlink(missing_ok=True)
    return gone
