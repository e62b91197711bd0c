"""Process lifetimes of the embedded stack's children."""

from __future__ import annotations

import os
import signal

SERVER_POLL_SECONDS = 0.05
"""How often a local server's ``serve_forever`` loop looks for a shutdown request (the
standard library's default, 0.5 s, was most of the time a stack took to stop)."""


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Get ``signum`` when the process that started this one dies (Linux; call it in the child).

    The signal fires when the parent *thread* that forked or started the child ends, so start
    children from a thread that outlives them. A parent already gone before the call is caught
    by the check that follows."""
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signum)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)


def die_with_parent_at_once() -> None:
    """:func:`die_with_parent` with SIGKILL: for processes with nothing to clean up (the emulators)."""
    die_with_parent(signal.SIGKILL)
