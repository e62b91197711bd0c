"""The CLI tried on a messy folder (issue 26): a failed run in --out, wrong tokens and URLs,
commands that need a running service, piped output, help, folders, long names, many threads."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from PIL import Image

from retouch.cli.files import MAX_NAME_BYTES, PART_SUFFIX
from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from tests.helpers import api_args as api
from tests.helpers import manifest
from tests.helpers import run_cli as run


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_samples(tmp_path_factory.mktemp("photos"), 40)


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


LIBRARY_TEXT = ("SSL", "_ssl.c", "OpenCV", "cv2", "Traceback", "HTTPSConnectionPool", "Max retries")


def test_a_job_the_service_refuses_leaves_nothing_to_be_stuck_on(
    stack: EmbeddedStack, photos: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    inputs = [str(p) for p in photos[:2]]
    refused = run("run", *inputs, "--op", "colorize:mode=reference,reference=nothere.jpg", "--out", str(out), *api(stack))
    assert refused.returncode == 2, refused.stderr[-3000:]
    line = error_line(refused.stderr)
    assert "nothere.jpg" in line and "nothing was submitted" in line, line
    assert not (out / "job.json").exists()
    corrected = run("run", *inputs, "--op", f"colorize:mode=reference,reference={photos[1].name}", "--out", str(out), *api(stack))
    assert corrected.returncode == 0, corrected.stderr[-3000:]
    assert manifest(out)["succeeded"] == 2


def test_a_run_that_failed_on_the_service_is_refused_with_the_way_out_and_restart_starts_over(
    stack: EmbeddedStack, photos: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    inputs = [str(p) for p in photos[:3]]
    # valid, but outside every photo: fails when rendered (forced: the photos are in colour already)
    outside = "colorize:mode=hints,force=true,hints=99999,10,#ff0000"
    failed = run("run", *inputs, "--op", outside, "--out", str(out), *api(stack))
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert manifest(out)["failed"] == 3
    assert "--restart" in failed.stderr  # the failed run already says how to try again
    (out / "notes.txt").write_text("mine")  # a file of the user's: kept whatever happens

    corrected = ["--op", "colorize:mode=hints,force=true,hints=10,10,#ff0000"]
    refused = run("run", *inputs, *corrected, "--out", str(out), *api(stack))
    assert refused.returncode == 2
    line = error_line(refused.stderr)
    assert str(out / "job.json") in line and "--restart" in line and "99999" in line, line

    resumed = run("run", "--resume", str(out), *api(stack))
    assert resumed.returncode == 1 and "--restart" in resumed.stderr, resumed.stderr[-3000:]

    typo = run("run", *inputs, "--op", "colorize:mode=nope", "--out", str(out), "--restart", *api(stack))
    assert typo.returncode == 2 and (out / "job.json").exists()  # a typo costs nothing
    missing = run("run", str(tmp_path / "nope.jpg"), *corrected, "--out", str(out), "--restart", *api(stack))
    assert missing.returncode == 2 and (out / "job.json").exists()

    both = run("run", "--resume", str(out), "--restart", *api(stack))
    assert both.returncode == 2 and "give one" in error_line(both.stderr)

    restarted = run("run", *inputs, *corrected, "--out", str(out), "--restart", *api(stack))
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert "Starting over" in restarted.stderr
    m = manifest(out)
    assert (m["state"], m["succeeded"], m["failed"]) == ("complete", 3, 0)
    assert m["operations"][0]["params"]["hints"] == "10,10,#ff0000"
    assert len(m["jobs"]) == 1  # nothing of the failed run's jobs carried over
    assert (out / "notes.txt").read_text() == "mine"
    outputs = [Path(e["output"]).name for e in m["images"]]
    assert sorted(p.name for p in out.iterdir()) == sorted(["job.json", "notes.txt", *outputs])


class _Forbidding(BaseHTTPRequestHandler):
    """Answers as API Gateway does when it refuses a call before the service sees it."""

    def do_GET(self) -> None:
        body = b'{"message":"Forbidden"}'
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def forbidding() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forbidding)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_refusals_and_wrong_urls_say_what_to_do_in_plain_words(
    stack: EmbeddedStack, photos: list[Path], tmp_path: Path, forbidding: str
) -> None:
    port = stack.api_url.rsplit(":", 1)[1]
    photo = str(photos[0])
    wrong_path = ["--api", stack.api_url + "/v1", "--token", stack.token]
    cases = [
        (
            [
                "run",
                photo,
                "--op",
                "thumbnail:width=9",
                "--out",
                str(tmp_path / "o1"),
                "--api",
                stack.api_url,
                "--token",
                "wrong",
            ],
            ["401", "--token", "RETOUCH_TOKEN", "retouch login"],
        ),
        (["jobs", "--api", stack.api_url, "--token", "wrong"], ["401", "--token", "RETOUCH_TOKEN", "retouch login"]),
        (["jobs", "--api", stack.api_url + "/v1", "--token", stack.token], ["API URL looks wrong", "with no path after it"]),
        (
            ["run", photo, "--op", "thumbnail:width=9", "--out", str(tmp_path / "o2"), *wrong_path],
            ["API URL looks wrong", "http://127.0.0.1:8787"],
        ),
        (
            ["jobs", "--api", f"https://127.0.0.1:{port}", "--token", stack.token],
            ["does not speak https here", f"try http://127.0.0.1:{port}"],
        ),
        (["jobs", "--api", forbidding, "--token", "t"], ["403", "--api", "--token", "retouch login"]),
    ]
    for argv, words in cases:
        proc = run(*argv, timeout=300)
        line = error_line(proc.stderr)
        assert proc.returncode in (2, 3), (argv, proc.returncode, proc.stderr[-2000:])
        assert all(w in line for w in words), (argv, line)
        assert not any(t in proc.stderr for t in LIBRARY_TEXT), (argv, proc.stderr[-2000:])
    assert not (tmp_path / "o2" / "job.json").exists() or manifest(tmp_path / "o2")["jobs"] == []


def test_jobs_and_download_without_api_say_they_need_a_running_service(tmp_path: Path) -> None:
    for argv in (["jobs"], ["download", "j-" + "0" * 32, "--out", str(tmp_path / "o")]):
        proc = run(*argv, timeout=120)
        assert proc.returncode == 2, proc.stderr[-2000:]
        line = error_line(proc.stderr)
        assert "--api" in line and "retouch local" in line and "--token" in line, line
        assert "Starting the embedded stack" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_ops_piped_cuts_nothing_and_json_is_what_the_api_answers(stack: EmbeddedStack) -> None:
    listed = requests.get(f"{stack.api_url}/operations", headers={"Authorization": f"Bearer {stack.token}"}, timeout=30)
    assert listed.status_code == 200
    document = listed.json()
    proc = run("ops", env={**os.environ, "COLUMNS": "60"})  # stdout is a pipe here, and narrow
    assert proc.returncode == 0
    for op in document["operations"]:
        assert f"{op['name']} - {op['summary']}" in proc.stdout
        for p in op["params"]:
            line = next(line for line in proc.stdout.splitlines() if line.startswith(f"  {p['name']} (") and p["help"] in line)
            for choice in p.get("choices") or []:
                assert choice in line
    assert "…" not in proc.stdout
    as_json = run("ops", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == document


def option_help(text: str, option: str) -> str:
    """The help of ``option`` in ``--help``'s text (its lines joined)."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.strip().startswith(option))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("   ") or line.strip().startswith("-"):
            break
        block.append(line)
    return " ".join(" ".join(block).split())


def test_help_has_examples_and_says_where_operations_are_listed() -> None:
    run_help = run("run", "--help", env={**os.environ, "COLUMNS": "200"}).stdout
    assert "examples:" in run_help and "retouch run photos/ --op" in run_help and "--restart" in run_help
    apply_help = run("apply", "--help", env={**os.environ, "COLUMNS": "200"}).stdout
    assert "examples:" in apply_help and "retouch apply photo.jpg --op" in apply_help
    for text in (run_help, apply_help):
        assert "retouch ops lists the operations" in option_help(text, "--op")
        assert "1-100" in option_help(text, "--quality")
    assert "folders of images" in option_help(apply_help, "INPUT")


def _messy_folder(root: Path, photo: Path) -> Path:
    folder = root / "messy"
    (folder / "sub").mkdir(parents=True)
    (folder / ".cache").mkdir()
    (folder / "a.jpg").write_bytes(photo.read_bytes())
    (folder / ".hidden.jpg").write_bytes(photo.read_bytes())
    (folder / ".cache" / "c.jpg").write_bytes(photo.read_bytes())
    (folder / "notes.txt").write_text("not a photo")
    (folder / "sub" / "b.jpg").write_bytes(photo.read_bytes())
    return folder


def test_apply_and_run_take_a_folder_alike_and_list_what_they_skip(
    stack: EmbeddedStack, photos: list[Path], tmp_path: Path
) -> None:
    folder = _messy_folder(tmp_path, photos[0])
    ops = ["--op", "thumbnail:width=16"]
    run_out, apply_out = tmp_path / "run", tmp_path / "apply"
    served = run("run", str(folder), *ops, "--out", str(run_out), *api(stack))
    applied = run("apply", str(folder), *ops, "-o", str(apply_out))
    assert served.returncode == 0 and applied.returncode == 0, (served.stderr[-2000:], applied.stderr[-2000:])
    assert sorted(p.name for p in run_out.iterdir()) == ["a.jpg", "job.json"]
    assert sorted(p.name for p in apply_out.iterdir()) == ["a.jpg"]
    skipped = {Path(s["path"]).name: s["reason"] for s in manifest(run_out)["skipped"]}
    assert set(skipped) == {".cache", ".hidden.jpg", "notes.txt", "sub"}, skipped
    assert "--recursive" in skipped["sub"]
    for proc in (served, applied):
        for name in skipped:
            assert str(folder / name) in proc.stderr, proc.stderr[-2000:]
    # with --recursive, both take the subfolder's image, keeping the structure
    run_out, apply_out = tmp_path / "run-r", tmp_path / "apply-r"
    assert run("run", str(folder), *ops, "--recursive", "--out", str(run_out), *api(stack)).returncode == 0
    assert run("apply", str(folder), *ops, "--recursive", "-o", str(apply_out)).returncode == 0
    for out in (run_out, apply_out):
        assert (out / "a.jpg").is_file() and (out / "sub" / "b.jpg").is_file() and not (out / ".cache").exists()


def test_a_255_byte_file_name_is_saved_under_a_shortened_unique_name(
    stack: EmbeddedStack, photos: list[Path], tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["x" * 250 + "1.jpg", "x" * 250 + "2.jpg", "é" * 125 + "x.png"]  # 255 bytes each
    for name in names:
        assert len(name.encode()) == MAX_NAME_BYTES
        (folder / name).write_bytes(photos[0].read_bytes())
    ops = ["--op", "thumbnail:width=16", "--format", "webp"]  # a longer extension than the inputs'
    out, local = tmp_path / "out", tmp_path / "local"
    proc = run("run", str(folder), *ops, "--out", str(out), *api(stack))
    assert proc.returncode == 0, proc.stderr[-3000:]
    applied = run("apply", str(folder), *ops, "-o", str(local))
    assert applied.returncode == 0, applied.stderr[-3000:]
    for where in (out, local):
        made = sorted(p.name for p in where.iterdir() if p.name != "job.json")
        assert len(made) == 3 and all(n.endswith(".webp") for n in made), made
        assert all(len((n + PART_SUFFIX).encode()) <= MAX_NAME_BYTES for n in made), made
        assert any(n.startswith("é") for n in made)
        for n in made:
            with Image.open(where / n) as im:
                assert im.format == "WEBP" and im.width == 16


def test_apply_colorizes_40_photos_with_the_default_threads(photos: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run("apply", str(photos[0].parent), "--op", "colorize", "-o", str(out), timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list(out.iterdir())) == 40
    assert "40/40 written" in proc.stderr


def test_a_broken_model_is_reported_without_paths_or_library_text(photos: list[Path], tmp_path: Path) -> None:
    model = tmp_path / "models" / "broken.onnx"
    model.parent.mkdir()
    model.write_bytes(b"not a model")
    proc = run(
        "apply",
        str(photos[0]),
        "--op",
        "colorize:force=true",  # the photo is in colour: only a forced colorize needs the model
        "-o",
        str(tmp_path / "out"),
        env={**os.environ, "COLORIZE_MODEL_PATH": str(model)},
    )
    assert proc.returncode == 1
    failed = [line for line in proc.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and "the colorization model could not be loaded" in failed[0], proc.stderr
    assert str(model.parent) not in proc.stderr and not any(t in proc.stderr for t in LIBRARY_TEXT), proc.stderr
