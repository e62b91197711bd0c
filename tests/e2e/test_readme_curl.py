"""The README's curl walkthrough (every route), run as it is against the embedded stack with
bash, curl and jq: if the README and the API disagree, this fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- curl-walkthrough -->\n```sh\n(.*?)```\n<!-- /curl-walkthrough -->", text, re.S)
    assert found, "the README's curl walkthrough is missing"
    return found.group(1)


def test_the_readme_curl_walkthrough_runs_as_written(tmp_path: Path) -> None:
    for tool in ("bash", "curl", "jq"):
        assert shutil.which(tool), f"{tool} is missing: `make setup` installs it"
    [photo] = write_samples(tmp_path / "photos", 1)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(photo, work / "beach.jpg")
    script = "set -euo pipefail\n" + walkthrough()
    with EmbeddedStack(workdir=tmp_path / "stack") as stack:
        env = {**os.environ, "API": stack.api_url, "TOKEN": stack.token}
        done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
        assert (work / "beach.jpg").stat().st_size > 0 and (work / "preview.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
        assert (work / "retouched" / "beach.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # downloaded as output_name
        assert '"operations"' in done.stdout and '"secret"' in done.stdout and '"deliveries"' in done.stdout
