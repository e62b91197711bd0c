"""How a run (``retouch run``, ``retouch download``) ends: its summary, what the operations did
to each photo, its failures, where things went and its exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from retouch.cli import runner
from retouch.cli.errors import EXIT_FAILED_IMAGES, EXIT_INCOMPLETE, EXIT_OK
from retouch.cli.manifest import FAILED, MANIFEST, PENDING, SUBMITTED, SUCCEEDED, Entry, Manifest
from retouch.cli.ui import CliProgress, console

MOST_LINES = 20
"""Past this many photos (or failures), the summary groups them (job.json has each one)."""


def describe_run(manifest: Manifest) -> str:
    """A run in a few words: its operations, its output settings and how it ended."""
    ops_text = " ".join(
        o["op"] + (":" + ",".join(f"{k}={v}" for k, v in o.get("params", {}).items()) if o.get("params") else "")
        for o in manifest.operations
    )
    c = manifest.counts()
    return (
        f"--op {ops_text or '?'}, --format {manifest.output.get('format')}, --quality {manifest.output.get('quality')}; "
        f"{c[SUCCEEDED]} succeeded, {c[FAILED]} failed, {c[PENDING] + c[SUBMITTED]} pending"
    )


def outcome_sentence(entry: Entry) -> str | None:
    """What the operations did to the entry's photo, when the service said something worth
    saying (an outcome with facts; a chain that reports none, like a thumbnail, says nothing)."""
    outcome = entry.outcome
    if entry.status != SUCCEEDED or not isinstance(outcome, dict):
        return None
    summary = outcome.get("summary")
    if not isinstance(summary, str) or not summary or set(outcome) <= {"summary"}:
        return None
    return summary


def outcome_lines(entries: list[Entry]) -> list[str]:
    """The summary's lines on what changed: one per photo for a few photos, else one per
    distinct outcome with its number of photos (most first)."""
    said = [(e, s) for e in entries if (s := outcome_sentence(e))]
    if not said:
        return []
    if len(said) <= MOST_LINES:
        return ["What changed, photo by photo:", *(f"  {e.input}: {s}" for e, s in said)]
    counts = Counter(s for _, s in said)
    lines = [f"What changed ({len(said)} photos; each one's in {MANIFEST}):"]
    for sentence, n in counts.most_common(MOST_LINES):
        lines.append(f"  {n} {'photo' if n == 1 else 'photos'}: {sentence}")
    if len(counts) > MOST_LINES:
        lines.append(f"  ... and {len(counts) - MOST_LINES} other outcomes")
    return lines


def finish(run: runner.Run, out_dir: Path, args: argparse.Namespace) -> int:
    """Execute ``run``, then report it: the summary, failures, where things went, the exit code."""
    assert isinstance(run.progress, CliProgress)
    try:
        with run.progress:
            manifest = run.execute()
    except KeyboardInterrupt:
        manifest = run.manifest
        c = manifest.counts()
        console.print(
            f"Interrupted: {c[SUCCEEDED]} outputs saved, {c[PENDING] + c[SUBMITTED]} pending; "
            f"run the same command again (or retouch run --resume {out_dir}) to finish",
            highlight=False,
        )
        report(manifest, out_dir, args, print_failures=False)
        return EXIT_INCOMPLETE
    return report(manifest, out_dir, args)


def _print_summary(manifest: Manifest, out_dir: Path, args: argparse.Namespace) -> None:
    c = manifest.counts()
    pending = c[PENDING] + c[SUBMITTED]
    failed = [e for e in manifest.entries if e.status == FAILED]
    t = manifest.timings
    console.print(
        f"{c[SUCCEEDED]}/{len(manifest.entries)} images succeeded in {t.get('total_seconds', 0):.1f} s "
        f"({t.get('images_per_second', 0):.1f} images/s)" + (f"; {pending} still pending" if pending else ""),
        highlight=False,
    )
    for line in outcome_lines(manifest.entries):
        console.print(line, highlight=False, markup=False)
    for e in failed[:MOST_LINES]:
        console.print(f"  failed {e.input}: {e.error}", highlight=False, markup=False)
    if len(failed) > MOST_LINES:
        console.print(f"  ... and {len(failed) - MOST_LINES} more (see job.json)")
    if pending:
        console.print(f"Not finished: run the same command again (or retouch run --resume {out_dir}) to go on")
    elif failed and getattr(args, "command", "") == "run":
        console.print(
            f"To run the failed images again with other operations in {out_dir}, give the corrected command with --restart",
            highlight=False,
        )
    console.print(f"Outputs in {out_dir}, report in {out_dir / MANIFEST}", highlight=False)


def json_summary(manifest: Manifest, out_dir: Path, code: int) -> dict[str, Any]:
    """``--json``'s summary on stdout."""
    c = manifest.counts()
    failed = [e for e in manifest.entries if e.status == FAILED]
    summary: dict[str, Any] = {
        "state": manifest.state,
        "exit_code": code,
        "total": len(manifest.entries),
        "succeeded": c[SUCCEEDED],
        "failed": len(failed),
        "pending": c[PENDING] + c[SUBMITTED],
        "out": str(out_dir),
        "manifest": str(out_dir / MANIFEST),
        "jobs": manifest.jobs,
        "failures": [{"input": e.input, "error": e.error} for e in failed],
    }
    outcomes = Counter(s for e in manifest.entries if (s := outcome_sentence(e)))
    if outcomes:
        summary["outcomes"] = dict(outcomes.most_common())
    return summary


def report(manifest: Manifest, out_dir: Path, args: argparse.Namespace, *, print_failures: bool = True) -> int:
    c = manifest.counts()
    pending = c[PENDING] + c[SUBMITTED]
    failed = c[FAILED]
    if print_failures:
        _print_summary(manifest, out_dir, args)
    code = EXIT_INCOMPLETE if pending else (EXIT_FAILED_IMAGES if failed else EXIT_OK)
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(json_summary(manifest, out_dir, code), indent=2) + "\n")
    return code
