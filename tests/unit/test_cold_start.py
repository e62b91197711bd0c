"""What each handler module loads at import (issue 12's cold-start budget), by module set and count.

Timing is measured by ``bench/importtime.py``; this keeps the causes from coming back: the X-Ray
SDK (the tracer is built on the first invocation), boto3 and s3transfer (clients come from
botocore, made on first use), botocore's session and client machinery, and the image libraries
outside the image functions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retouch.local.template import build_model

ROOT = Path(__file__).resolve().parents[2]
MODEL = build_model(ROOT / "template.yaml", stack="s", region="us-east-1", endpoint="http://x")

NEVER_AT_IMPORT = ("aws_xray_sdk", "boto3", "s3transfer", "botocore.session", "botocore.client", "awscrt")
IMAGE_LIBRARIES = ("numpy", "cv2", "PIL")
IMAGE_FUNCTIONS = {"ProcessFunction", "PreviewFunction"}
MODULE_BUDGET = {"UploadUrlFunction": 520, "ProcessFunction": 540, "PreviewFunction": 560}
"""At most this many modules after the import (measured 446, 460 and 486 on 2026-12-03); 400 for
the others (measured 223-329)."""
LIGHT_BUDGET = 400


def loaded_modules(logical_id: str) -> list[str]:
    fn = MODEL.functions[logical_id]
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('handler', {str(fn.module_path)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        f"assert callable(getattr(module, {fn.handler_name!r}))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    # As deployed: tracing on (the template's Tracing: Active), inside a Lambda task root.
    env = {**os.environ, **fn.environment, "LAMBDA_TASK_ROOT": str(ROOT), "POWERTOOLS_TRACE_DISABLED": "false"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert proc.returncode == 0, f"{logical_id}: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("logical_id", sorted(MODEL.functions))
def test_handler_import_loads_nothing_heavy(logical_id: str) -> None:
    modules = loaded_modules(logical_id)
    forbidden = NEVER_AT_IMPORT if logical_id in IMAGE_FUNCTIONS else NEVER_AT_IMPORT + IMAGE_LIBRARIES
    heavy = sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))
    assert not heavy, f"{logical_id} imports {heavy[:8]} at load; import them on first use"
    budget = MODULE_BUDGET.get(logical_id, LIGHT_BUDGET)
    assert len(modules) <= budget, f"{logical_id} loads {len(modules)} modules at import (budget {budget})"


def test_the_first_invocation_still_gets_its_tracer_and_clients() -> None:
    """Lazy is not absent: the tracer wraps the handler on its first call, and clients work."""
    from retouch.observability import LazyTracer

    calls = []
    tracer = LazyTracer(service="test")

    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event: dict, context: object) -> str:
        calls.append(event)
        return "done"

    assert tracer._tracer is None
    assert handler({"n": 1}, None) == "done" and handler({"n": 2}, None) == "done"
    assert tracer._tracer is not None and calls == [{"n": 1}, {"n": 2}]


def test_retouch_apply_loads_no_service_client(tmp_path: Path) -> None:
    """`retouch apply` renders locally: no HTTP client, no AWS SDK (issue 12: its start-up is
    what made 40 thumbnails slower than a pyvips script)."""
    from tests.conftest import photo_bytes

    (tmp_path / "a.jpg").write_bytes(photo_bytes(size=(64, 48)))
    code = (
        "import json, sys\n"
        "from retouch.cli.main import main\n"
        f"code = main(['apply', {str(tmp_path / 'a.jpg')!r}, '--op', 'thumbnail:width=32', '-o', {str(tmp_path / 'out')!r}])\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    exit_code, modules = json.loads(proc.stdout.splitlines()[-1])
    assert exit_code == 0 and (tmp_path / "out" / "a.jpg").is_file()
    loaded = sorted(m for m in modules if m.split(".")[0] in ("requests", "boto3", "s3transfer", "aws_xray_sdk"))
    assert not loaded, f"retouch apply imports {loaded[:8]}"


def test_retouch_apply_renders_in_threads_and_keeps_going_past_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from retouch.cli.main import main
    from tests.conftest import photo_bytes

    names = [f"p{n}.jpg" for n in range(5)]
    for n, name in enumerate(names):
        (tmp_path / name).write_bytes(photo_bytes(size=(80 + 8 * n, 60)))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    inputs = [str(tmp_path / n) for n in [*names[:2], "broken.jpg", *names[2:]]]
    out = tmp_path / "out"
    assert main(["apply", *inputs, "--op", "thumbnail:width=40", "--jobs", "3", "-o", str(out)]) == 1
    printed = capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == names
    lines = [line for line in printed.splitlines() if " -> " in line or line.startswith("failed")]
    assert [line.split()[1 if line.startswith("failed") else 0].rstrip(":").rsplit("/", 1)[-1] for line in lines] == [
        Path(i).name for i in inputs
    ]  # reported in the order given
    assert "broken.jpg" in printed and "5/6 written" in printed
