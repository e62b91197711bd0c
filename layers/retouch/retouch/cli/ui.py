"""What the commands print while they work: the console, the progress of a run, skipped entries."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from retouch.cli import runner

console = Console(stderr=True, soft_wrap=True)  # never wrap a file name mid-name


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


class CliProgress(runner.Progress):
    """A progress bar on a terminal; plain, unwrapped lines otherwise."""

    def __init__(self) -> None:
        self.bar: Progress | None = _progress() if console.is_terminal else None
        self.tasks: dict[str, Any] = {}
        self.totals: dict[str, list[int]] = {}
        self.last_line = 0.0
        super().__init__(start=self._start, advance=self._advance, note=self._note)

    def __enter__(self) -> CliProgress:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()

    def _start(self, phase: str, total: int) -> None:
        if self.bar:
            if phase in self.tasks:
                self.bar.update(self.tasks[phase], total=total, completed=0)
            else:
                self.tasks[phase] = self.bar.add_task(phase, total=total)
        else:
            self.totals[phase] = [0, total]  # plain lines start with the first image finished

    def _advance(self, phase: str, n: int) -> None:
        if self.bar:
            if phase in self.tasks:
                self.bar.advance(self.tasks[phase], n)
            return
        done = self.totals.setdefault(phase, [0, 0])
        done[0] += n
        if n == 0:
            return
        if phase == "processing" and (time.monotonic() - self.last_line > 5 or done[0] >= done[1]):
            self.last_line = time.monotonic()
            console.print(f"{phase}: {done[0]}/{done[1]} finished", highlight=False)

    def _note(self, message: str) -> None:
        console.print(message, highlight=False, markup=False)


def print_skipped(skipped: list[dict[str, str]], where: str = "") -> None:
    """What a folder held that is not taken (``run`` and ``apply`` alike)."""
    if not skipped:
        return
    console.print(f"Skipped {len(skipped)} entries that are not images to process{where}:", highlight=False)
    for item in skipped[:10]:
        console.print(f"  {item['path']}: {item['reason']}", highlight=False, markup=False)
    if len(skipped) > 10:
        console.print(f"  ... and {len(skipped) - 10} more", highlight=False)
