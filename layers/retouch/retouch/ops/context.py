"""What travels with one image through its chain of operations (Thumbor's request context).

A :class:`ChainContext` is made per image by the pipeline and handed to every operation whose
spec asks for it (``Operation.uses_context``). It carries:

* the **settings** operations need (:class:`OperationSettings`: model and library paths), read
  once by the caller - the process function, the preview function or the CLI - never from the
  environment inside an operation;
* the **deadline** of the whole chain, which long operations check between their own steps
  (colorize, smart framing, face analysis), not only the pipeline between operations;
* **per-image state**: the faces found in the image, analysed once and reused by every later
  operation while the image keeps its geometry (red-eye then teeth whitening analyse one photo
  once), and forgotten as soon as an operation changes its size (a crop, a thumbnail);
* the resolver for ``reference`` images (another image of the same job);
* the image's **outcome**: what each operation reports doing (:meth:`ChainContext.report`),
  which travels with the result as one :class:`retouch.outcome.Outcome`.

Importing this module is light (no numpy, OpenCV or models): faces are analysed by
:mod:`retouch.ops.faces`, imported on first use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retouch.errors import OperationTimeout
from retouch.outcome import Outcome
from retouch.settings import OperationSettings

if TYPE_CHECKING:
    from retouch.ops.faces import Face


@dataclass
class ChainContext:
    """Per-image state and settings for one chain of operations (see the module docstring)."""

    settings: OperationSettings = field(default_factory=OperationSettings)
    deadline: float | None = None
    """``time.monotonic()`` after which the chain has run out of time (None: no limit)."""
    budget_seconds: float | None = None
    """The chain's whole budget (for the message when it runs out)."""
    resolve_image: Callable[[str], Any] | None = None
    """Pixels of another image of the job, by name (``reference`` parameters)."""
    outcome: Outcome = field(default_factory=Outcome)
    """What the operations reported doing so far (see :mod:`retouch.outcome`)."""
    _faces: tuple[tuple[int, ...], list[Face]] | None = None

    @classmethod
    def with_budget(cls, budget_seconds: float | None, **kwargs: Any) -> ChainContext:
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        return cls(deadline=deadline, budget_seconds=budget_seconds, **kwargs)

    def check_time(self, where: str) -> None:
        """Raise :class:`OperationTimeout` if the chain is past its deadline (``where``: "in
        colorize", "after crop"..., for the message)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            budget = f"{self.budget_seconds:.0f} s" if self.budget_seconds is not None else "its time"
            raise OperationTimeout(f"the operations ran past their budget of {budget} (stopped {where})")

    def faces(self, image: Any) -> list[Face]:
        """The faces in ``image``: analysed on first use, then reused while the image keeps the
        size it was analysed at (an operation that changes the size forgets them)."""
        shape = tuple(image.shape[:2])
        if self._faces is None or self._faces[0] != shape:
            from retouch.ops.faces import detect_faces

            self.check_time("in face analysis")
            self._faces = (shape, detect_faces(image))
        return list(self._faces[1])

    def report(self, **facts: Any) -> None:
        """Add what an operation did to the image's outcome (``red_eyes_fixed=2``...)."""
        self.outcome = self.outcome.merge(**facts)

    def after_operation(self, before: Any, after: Any) -> None:
        """Called between operations: per-image state that no longer holds is dropped."""
        if tuple(before.shape[:2]) != tuple(after.shape[:2]):
            self._faces = None


def faces_in(image: Any, context: ChainContext | None) -> list[Face]:
    """Faces through the chain's context, or analysed afresh when an operation runs on its own."""
    if context is not None:
        return context.faces(image)
    from retouch.ops.faces import detect_faces

    return detect_faces(image)


def check_time(context: ChainContext | None, where: str) -> None:
    """:meth:`ChainContext.check_time`, for an operation that may run without a chain."""
    if context is not None:
        context.check_time(where)


def report(context: ChainContext | None, **facts: Any) -> None:
    """:meth:`ChainContext.report`, for an operation that may run without a chain."""
    if context is not None:
        context.report(**facts)
