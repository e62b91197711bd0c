"""Fault injection at named points: crash the function process right after a side effect.

Random kills rarely hit the one-call windows between two side effects (a counter committed but
the job not completed, an output written but no result sent). These points let a test hit each
window exactly once: it *arms* a point by creating a file named after it in the directory that
``RETOUCH_FAULT_DIR`` names (optionally scoped to one job: ``<point>@<job id>``), and the first
process to reach that point removes the file and dies at once with ``os._exit`` - no cleanup, no
``finally``, no message deleted, exactly like ``kill -9`` or a Lambda timeout. Removing the file
is atomic, so an armed point fires once however many workers reach it.

A point armed with ``always`` (``<point>@<scope>.always``) is not removed: it fires every time,
like an image that crashes its worker whenever it is rendered (out of memory, a native abort).

Without ``RETOUCH_FAULT_DIR`` (on AWS it is never set) :func:`point` is one environment lookup.
"""

from __future__ import annotations

import os
from pathlib import Path

FAULT_DIR_ENV = "RETOUCH_FAULT_DIR"
CRASH_EXIT_CODE = 137
"""What the process exits with at a fault point (the status of a ``kill -9``)."""

POINTS: dict[str, str] = {
    "enqueue.after_mark_queued": "enqueue marked the image queued, the request not yet sent",
    "enqueue.after_send": "enqueue sent the request messages",
    "record.after_count": "a result (and the job's completion, events) committed, the events not yet pushed",
    "record.after_publish": "a result's events handed to the push paths, the message not yet deleted",
    "process.after_output": "process wrote the output object, no result sent yet",
    "process.after_result": "process sent the result message",
    "process.before_render": "process is about to render an image (scope: the job id, or <job id>.<image id>)",
    "enqueue.before_delete": "enqueue returned; its upload events are not deleted yet",
    "process.before_delete": "process returned; its requests are not deleted yet",
    "notify.before_delete": "notify returned; its results are not deleted yet",
}
"""Every named point, with the window it opens. ``*.before_delete`` points are in the local event
source mapping (on AWS that is Lambda's own poller, which deletes after the function returns)."""


def point(name: str, *scopes: str) -> None:
    """Crash here if ``name`` is armed for any of ``scopes`` (a job id, or another scope the point
    names), or for all."""
    directory = os.environ.get(FAULT_DIR_ENV)
    if not directory:
        return
    for candidate in (*(f"{name}@{scope}" for scope in scopes), name):
        path = os.path.join(directory, candidate)
        if os.path.exists(path + ALWAYS):
            candidate += ALWAYS
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
        os.write(2, f"fault injected: {candidate} (pid {os.getpid()})\n".encode())
        os._exit(CRASH_EXIT_CODE)


ALWAYS = ".always"


def arm(directory: Path, name: str, scope: str | None = None, *, always: bool = False) -> Path:
    """Arm ``name`` (once, or every time with ``always``) for the processes whose
    ``RETOUCH_FAULT_DIR`` is ``directory``."""
    if name not in POINTS:
        raise ValueError(f"unknown fault point {name!r}; known: {', '.join(POINTS)}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ((f"{name}@{scope}" if scope else name) + (ALWAYS if always else ""))
    path.touch()
    return path


def armed(directory: Path) -> list[str]:
    """Points armed once in ``directory`` that have not fired yet."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(ALWAYS)) if directory.is_dir() else []
