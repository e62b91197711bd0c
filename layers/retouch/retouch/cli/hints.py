"""What to tell a user when the service refuses a call or cannot be reached: a plain sentence
that says what to do, never a library's words (``--debug`` shows those)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from retouch.cli.client import ApiError

API_URL_EXAMPLES = (
    "https://ID.execute-api.REGION.amazonaws.com (the stack's ApiUrl output) "
    "or http://127.0.0.1:8787 (as retouch local prints it), with no path after it"
)
SIGN_IN_HINT = "pass a valid token with --token or RETOUCH_TOKEN, or sign in with retouch login"


def api_error(exc: ApiError, api: str | None) -> str:
    """One line for an HTTP error of the API at ``api`` (``None``: the embedded stack)."""
    where = api or "the service"
    if exc.status == 401:
        return f"{where} refused the token (401 Unauthorized): {SIGN_IN_HINT}"
    if exc.status == 403 and not exc.envelope:
        return (
            f"{where} refused access (403 Forbidden): check that --api is the stack's API URL ({API_URL_EXAMPLES}) "
            f"and that the token is for that stack ({SIGN_IN_HINT})"
        )
    if exc.status == 404 and not exc.envelope:
        return (
            f"there is no Retouch API at {where} ({exc.request or 'the request'} answered 404 Not Found): "
            f"the API URL looks wrong; give it as {API_URL_EXAMPLES}"
        )
    return f"the service answered {exc.status}: {exc.message}"


def connection_error(exc: BaseException, api: str | None, reason: str) -> str:
    """One line for a call that got no HTTP answer; ``reason`` is the innermost cause in a line."""
    where = api or "the service"
    text = " ".join(str(e) for e in _chain(exc))
    if _is_tls(exc):
        if any(mark in text for mark in ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure", "http request")):
            plain = _with_scheme(api, "http") if api else "an http:// URL"
            return f"the server at {where} does not speak https here; try {plain}"
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return f"the certificate of {where} could not be verified: is the host name right (the stack's ApiUrl output)?"
        return f"a secure (https) connection to {where} failed; check the API URL (run with --debug for details)"
    return f"cannot reach {where}: {reason}"


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        todo += [e.__cause__, e.__context__, *(a for a in e.args if isinstance(a, BaseException))]
        reason = getattr(e, "reason", None)  # urllib3's MaxRetryError keeps its cause here
        if isinstance(reason, BaseException):
            todo.append(reason)
    return out


def _is_tls(exc: BaseException) -> bool:
    import ssl

    return any(isinstance(e, ssl.SSLError) or type(e).__name__ == "SSLError" for e in _chain(exc))


def _with_scheme(api: str, scheme: str) -> str:
    parts = urlsplit(api)
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))
