"""What the retouch layer ships is what runs on Lambda.

The layer is built by ``sam build`` with ``BuildMethod: makefile``: SAM runs the
``build-RetouchLayer`` rule of ``layers/retouch/Makefile`` with ``ARTIFACTS_DIR`` set. The tests
run that same rule (its pip step, which only adds Powertools, skipped with ``PYTHON=true``: no
Docker, no network, a second) and compare what lands under ``python/retouch/`` with what the
Lambda functions of ``template.yaml`` import, following every import from their handlers
(function-level ones and the operations' ``"module:function"`` references too). Nothing the
functions never use ships (the CLI, the embedded stack, the sample photos), and nothing they use
is missing.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from retouch.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "retouch"
MODULE_REFERENCE = re.compile(r"retouch(\.\w+)+(:\w+)?")
"""A module named in a string (``"retouch.ops.tone:contrast"``), imported on first use."""

DATA = {
    "web/": "retouch/logic/site.py",  # the page the site function publishes to its bucket
    "ops/colorize/model/": "retouch/ops/colorize/auto.py",  # colorize auto's packaged model
}
"""The files other than modules that ship: where they live, and the module that reads them."""


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The layer's ``python/retouch/`` files, relative to it, as the Makefile rule builds them."""
    resource = load_template(ROOT / "template.yaml")["Resources"]["RetouchLayer"]
    assert resource["Properties"]["ContentUri"].rstrip("/") == "layers/retouch"
    assert resource["Metadata"]["BuildMethod"] == "makefile"
    artifacts = tmp_path_factory.mktemp("layer")
    subprocess.run(
        ["make", "--no-print-directory", "-C", str(LAYER), "build-RetouchLayer", f"ARTIFACTS_DIR={artifacts}", "PYTHON=true"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    package = artifacts / "python" / "retouch"
    return {f"retouch/{p.relative_to(package).as_posix()}" for p in package.rglob("*") if p.is_file()}


def handlers() -> list[Path]:
    """The handler module of every function in the template."""
    template = load_template(ROOT / "template.yaml")
    default = template["Globals"]["Function"]["Handler"]
    paths = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            module = props.get("Handler", default).rsplit(".", 1)[0]
            paths.append(ROOT / props["CodeUri"] / (module.replace(".", "/") + ".py"))
    return paths


def module_file(name: str) -> Path | None:
    """The file of ``retouch.x.y`` in the source tree, or None (not ours, or not a module)."""
    if name.split(".")[0] != "retouch":
        return None
    base = LAYER.joinpath(*name.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def imported(path: Path) -> set[str]:
    """Every module name ``path`` may import, at load or later."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}: a relative import (the package imports absolutely)"
            names |= {node.module or ""} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_REFERENCE.fullmatch(node.value):
            names.add(node.value.partition(":")[0])
    # importing a.b.c runs a/__init__ and a/b/__init__ first
    return {".".join(name.split(".")[:n]) for name in names for n in range(1, name.count(".") + 2)}


def used_by_functions() -> set[str]:
    """The ``retouch/...`` files the functions' handlers reach through imports."""
    seen: set[Path] = set()
    todo = list(handlers())
    while todo:
        path = todo.pop()
        for name in imported(path):
            found = module_file(name)
            if found is not None and found not in seen:
                seen.add(found)
                todo.append(found)
    return {p.relative_to(LAYER).as_posix() for p in seen}


def test_the_layer_ships_no_module_the_functions_do_not_use(shipped: set[str]) -> None:
    unused = sorted(p for p in shipped if p.endswith(".py") and p not in used_by_functions())
    assert not unused, f"shipped to Lambda but used by no function: {unused}"


def test_every_module_the_functions_use_ships(shipped: set[str]) -> None:
    missing = sorted(used_by_functions() - shipped)
    assert not missing, f"imported by a function but not in the layer: {missing}"


def test_development_only_code_stays_out_of_the_layer(shipped: set[str]) -> None:
    for dev in ("retouch/cli/", "retouch/local/", "retouch/cli/samples.py", "retouch/samples.py"):
        assert not any(p.startswith(dev) for p in shipped), dev
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in shipped)


def test_the_only_other_files_are_data_a_used_module_reads(shipped: set[str]) -> None:
    used = used_by_functions()
    for path in sorted(p for p in shipped if not p.endswith(".py")):
        owner = next((module for prefix, module in DATA.items() if path.startswith(f"retouch/{prefix}")), None)
        assert owner is not None, f"{path} ships but is not data any function reads"
        assert owner in used, f"{path} ships for {owner}, which no function uses"
    assert any(p.startswith("retouch/web/") for p in shipped), "the site function publishes retouch/web"
