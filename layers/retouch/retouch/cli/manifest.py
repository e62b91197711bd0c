"""A run's state: ``<out>/job.json`` (the *manifest*), one entry per input.

A *run* is every input of one command, however many jobs it takes. Its state lives in one file,
``<out>/job.json``, rewritten atomically as the run goes (:mod:`retouch.cli.runner` drives it):

* every input has one entry, with its output name - unique across the whole run (not per job)
  and stable, since a resumed run reads the names back from the manifest;
* an entry is ``pending`` (not in a job yet), ``submitted`` (in a job; ``uploaded`` once its
  bytes are in), ``succeeded`` (its output is saved) or ``failed`` (the service's reason, or a
  client-side failure marked ``retry``, which a resumed run submits again);
* a finished entry keeps what the operations did to its image (``outcome``: the facts and a
  ``summary`` sentence, :mod:`retouch.outcome`), when the service reports it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from retouch.cli.errors import EXIT_USAGE, RunError
from retouch.cli.files import PART_SUFFIX, unique_names

MANIFEST = "job.json"
MANIFEST_VERSION = 2

PENDING, SUBMITTED, SUCCEEDED, FAILED = "pending", "submitted", "succeeded", "failed"


@dataclass
class Entry:
    """One input of the run."""

    input: str
    output_name: str
    """The output's path inside the output folder (unique in the run, case-insensitively)."""
    status: str = PENDING
    job_id: str | None = None
    image_id: str | None = None
    uploaded: bool = False
    output: str | None = None
    """Where the output was saved (set once it is)."""
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    duration_ms: int | None = None
    error: str | None = None
    retry: bool = False
    """A client-side failure (upload or download): a resumed run tries again."""
    outcome: dict[str, Any] | None = None
    """What the operations did to the image (``Outcome.to_dict()``: the facts and ``summary``)."""

    @property
    def name(self) -> str:
        return Path(self.input).name

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, **asdict(self)}
        return {k: v for k, v in out.items() if v is not None and not (k == "retry" and not v)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Entry:
        known = {f: raw[f] for f in cls.__dataclass_fields__ if f in raw}
        return cls(**known)


@dataclass
class Manifest:
    """The run's state (``job.json``)."""

    api: str
    operations: list[dict[str, Any]]
    output: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    timings: dict[str, float] = field(default_factory=dict)
    state: str = "running"

    def counts(self) -> dict[str, int]:
        c = {PENDING: 0, SUBMITTED: 0, SUCCEEDED: 0, FAILED: 0}
        for e in self.entries:
            c[e.status] += 1
        return c

    def to_dict(self) -> dict[str, Any]:
        c = self.counts()
        return {
            "version": MANIFEST_VERSION,
            "state": self.state,
            "api": self.api,
            "operations": self.operations,
            "output": self.output,
            "total": len(self.entries),
            "succeeded": c[SUCCEEDED],
            "failed": c[FAILED],
            "pending": c[PENDING] + c[SUBMITTED],
            "jobs": self.jobs,
            "timings": self.timings,
            "images": [e.to_dict() for e in self.entries],
            "skipped": self.skipped,
        }

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise RunError(
                f"{path} is not a readable run manifest ({exc}); choose another --out, or add --restart to start over there",
                EXIT_USAGE,
            ) from exc
        if not isinstance(raw, dict) or raw.get("version") != MANIFEST_VERSION:
            raise RunError(
                f"{path} was written by another version of retouch; choose another --out, or add --restart to start over there",
                EXIT_USAGE,
            )
        return cls(
            api=raw["api"],
            operations=raw["operations"],
            output=raw["output"],
            entries=[Entry.from_dict(e) for e in raw["images"]],
            skipped=raw.get("skipped", []),
            jobs=list(raw.get("jobs", [])),
        )

    def save(self, out_dir: Path) -> None:
        """Atomically: a reader (or a crash) never sees half a file."""
        tmp = out_dir / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        os.replace(tmp, out_dir / MANIFEST)


def has_work(manifest: Manifest) -> bool:
    """Whether anything is left to submit, follow or download (a finished run has none)."""
    return any(
        e.status in (PENDING, SUBMITTED)
        or (e.status == FAILED and e.retry)
        or (e.status == SUCCEEDED and not (e.output and Path(e.output).is_file()))
        for e in manifest.entries
    )


def plan(inputs: list[tuple[Path, str]], extension: Callable[[Path], str], existing: Manifest | None) -> list[Entry]:
    """Entries for ``(path, relative name)`` inputs, keeping those ``existing`` already has (with
    their names and state) and naming new ones (``extension(path)``) so that no two outputs
    collide."""
    known = {e.input: e for e in existing.entries} if existing else {}
    entries: list[Entry] = []
    new: list[tuple[Path, str]] = []
    for path, rel in inputs:
        if str(path) in known:
            entries.append(known[str(path)])
        else:
            new.append((path, rel))
    wanted = [str(Path(rel).with_suffix("." + extension(path))) for path, rel in new]
    names = unique_names(wanted, taken=[e.output_name for e in entries])
    entries += [Entry(input=str(p), output_name=n) for (p, _), n in zip(new, names, strict=True)]
    order = {str(p): n for n, (p, _) in enumerate(inputs)}
    return sorted(entries, key=lambda e: order.get(e.input, len(order)))


def clear_run(out_dir: Path) -> list[Path]:
    """Forget the run in ``out_dir`` (``--restart``): its outputs (those its manifest lists inside
    ``out_dir``, never one of its inputs), their partial downloads and the manifest. Other files
    are left alone. Returns what was removed."""
    path = out_dir / MANIFEST
    try:
        old = Manifest.load(path)
    except RunError:
        old = None  # unreadable: only the manifest goes
    removed: list[Path] = []
    folder = out_dir.resolve()
    if old is not None:
        inputs = {Path(e.input).resolve() for e in old.entries}
        for e in old.entries:
            for candidate in {e.output, str(out_dir / e.output_name)} - {None}:
                target = Path(str(candidate))
                for f in (target, target.with_name(target.name + PART_SUFFIX)):
                    resolved = f.resolve()
                    if resolved.is_relative_to(folder) and resolved not in inputs and f.is_file():
                        f.unlink()
                        removed.append(f)
    for f in (path, out_dir / f".{MANIFEST}.tmp"):
        if f.exists():
            f.unlink()
            removed.append(f)
    return removed
