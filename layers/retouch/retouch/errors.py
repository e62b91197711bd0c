"""Domain errors.

Two families matter to the queue consumers:

* :class:`PermanentError` - retrying cannot help (bad image, bad parameters). The image is
  failed with a readable reason and the message is deleted.
* :class:`TransientError` - retrying may help (throttling, timeouts). The message is left on
  the queue and comes back after its visibility timeout.

API errors carry an HTTP status; they are mapped to responses in one place
(:func:`retouch.logic.http.error_response`).
"""

from __future__ import annotations


class RetouchError(Exception):
    """Base class of every error Retouch raises on purpose."""

    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermanentError(RetouchError):
    """Processing this input can never succeed; fail the image, do not retry."""

    http_status = 400


class InvalidImage(PermanentError):
    """The bytes are not a decodable image (corrupt, truncated, not an image)."""


class UnsupportedImage(PermanentError):
    """The file is an image, but of a type or shape Retouch does not process."""


class ImageTooLarge(PermanentError):
    """The image exceeds a configured byte or pixel limit."""


class ValidationError(PermanentError):
    """The input is invalid - a request to the API, an operation's name or parameters, a queue
    message: the one input error. Answered 400 by the API; an image it concerns fails with its
    message (retrying cannot help)."""


class TransientError(RetouchError):
    """Retrying may succeed (throttling, timeouts, an unavailable dependency)."""

    http_status = 503


class ConfigurationError(RetouchError):
    """The stack is misconfigured (access denied, a missing resource): an error of ours, not
    retried in a loop, answered as 500 and logged with its cause."""

    http_status = 500


class OperationTimeout(PermanentError):
    """The operations ran past their time budget: they would again on a retry, so the image
    fails once, with a readable reason."""


class OperationFailed(PermanentError):
    """An operation failed on this input in a way that would recur on every retry (out of
    memory, an OpenCV error); the detail goes to the logs."""


class Unauthorized(RetouchError):
    """No or invalid credentials."""

    http_status = 401


class Forbidden(RetouchError):
    """The caller is known but may not do this."""

    http_status = 403


class TooManyRequests(RetouchError):
    """A per-user limit is reached; ``retry_after`` says when trying again makes sense (s)."""

    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(RetouchError):
    """The resource does not exist, or belongs to somebody else."""

    http_status = 404


class Conflict(RetouchError):
    """The request contradicts an earlier one (an idempotency key reused with another body)."""

    http_status = 409


class SignUpRefused(RetouchError):
    """Self sign-up with this e-mail address is not allowed (Cognito shows the message)."""

    http_status = 403
