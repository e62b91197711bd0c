"""The CLI's error and exit codes (documented in the README), shared by every command."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED_IMAGES, EXIT_USAGE, EXIT_SERVICE, EXIT_INCOMPLETE = 0, 1, 2, 3, 4
"""Exit codes (documented in the README): all succeeded; some images failed; a usage error; the
service unreachable or failing; stopped before the end (Ctrl-C, SIGTERM, --timeout) - resumable."""


class RunError(Exception):
    """A command cannot go on (a usage problem or the service); ``code`` is the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message, self.code = message, code
