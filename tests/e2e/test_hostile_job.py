"""A job full of hostile files on the embedded stack: each bad file fails alone, the rest completes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from retouch_testkit.hostile import corpus
from tests.conftest import photo_bytes


def test_hostile_files_fail_alone_and_the_job_completes(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    expected = {}
    for name, data, outcome in corpus():
        (folder / name).write_bytes(data)
        expected[name] = outcome
    for n, photo in enumerate(("astronaut", "coffee")):
        (folder / f"good-{n}.jpg").write_bytes(photo_bytes(photo))
        expected[f"good-{n}.jpg"] = "succeeded"
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "retouch.cli.main", "run", str(folder), "--op", "thumbnail:width=128", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]  # some images failed, the command says so
    report = json.loads((out / "job.json").read_text())
    by_name = {Path(e["input"]).name: e for e in report["images"]}
    assert set(by_name) == set(expected)
    for name, outcome in expected.items():
        entry = by_name[name]
        if outcome == "succeeded":
            assert entry["status"] == "succeeded" and Path(entry["output"]).is_file()
        elif outcome == "fail":
            assert entry["status"] == "failed" and len(entry["error"]) > 20, entry
        else:
            assert entry["status"] in ("succeeded", "failed"), entry
    assert by_name["empty.jpg"]["error"].endswith("the file is empty")
    assert "limit" in by_name["bomb.png"]["error"]
