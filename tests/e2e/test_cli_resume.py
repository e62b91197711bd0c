"""`retouch run` never loses work: unique names across jobs, interrupt and resume, plain errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from tests.helpers import RETOUCH, manifest
from tests.helpers import api_args as api
from tests.helpers import run_cli as run

SLOW_OPS = ["--op", "contrast:method=clahe", "--op", "thumbnail:width=320"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_samples(tmp_path_factory.mktemp("photos"), 30)


def outputs(out: Path) -> list[str]:
    """The stems of the output files in ``out`` (each once, or it fails)."""
    stems = [p.stem for p in out.iterdir() if p.name != "job.json"]
    assert len(stems) == len(set(stems)), stems
    return sorted(stems)


def tiny(path: Path, shade: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 8), (shade % 256, 40, 90)).save(path)
    return path


def test_run_over_several_jobs_gives_every_input_its_own_output_and_one_manifest(stack: EmbeddedStack, tmp_path: Path) -> None:
    # 6 folders holding the same 10 file names, 3 images per job: same names in different jobs
    folders = [tmp_path / "in" / f"d{n}" for n in range(6)]
    for n, folder in enumerate(folders):
        for k in range(10):
            tiny(folder / f"img-{k:02d}.png", n * 10 + k)
    out = tmp_path / "out"
    proc = run("run", *map(str, folders), "--op", "thumbnail:width=4", "--job-size", "3", "--out", str(out), *api(stack))
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = manifest(out)
    assert (m["state"], m["total"], m["succeeded"], m["failed"], m["pending"]) == ("complete", 60, 60, 0, 0)
    assert len(m["jobs"]) == 20 and len(set(m["jobs"])) == 20
    outputs = [Path(e["output"]) for e in m["images"]]
    assert len({p.name.lower() for p in outputs}) == 60 and all(p.is_file() for p in outputs)
    assert sorted(p.name for p in out.iterdir()) == sorted([p.name for p in outputs] + ["job.json"])
    # each output is its own input's (the shade survives a 12x8 -> 4x3 thumbnail)
    for e in m["images"]:
        with Image.open(e["input"]) as src, Image.open(e["output"]) as dst:
            assert abs(src.getpixel((6, 4))[0] - dst.convert("RGB").getpixel((2, 1))[0]) <= 8, e


def test_run_names_colliding_inputs_apart(stack: EmbeddedStack, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    a = tiny(folder / "a.jpg", 10)
    tiny(folder / "a-2.jpg", 20)
    Image.open(a).save(folder / "a.png")
    out = tmp_path / "out"
    proc = run("run", str(folder), "--op", "thumbnail:width=4", "--format", "jpeg", "--out", str(out), *api(stack))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "3/3 images succeeded" in proc.stderr
    assert len(list(out.glob("*.jpg"))) == 3
    assert len({e["output"] for e in manifest(out)["images"]}) == 3


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_interrupted_midway_saves_what_is_done_and_resumes_to_every_output_once(
    stack: EmbeddedStack, photos: list[Path], tmp_path: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*RETOUCH, "run", str(photos[0].parent), *SLOW_OPS, "--out", str(out), *api(stack)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not list(out.glob("*.jpg")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert "Traceback" not in stderr
    first = manifest(out)
    if proc.returncode == 4:  # stopped midway (on a fast machine the run may have finished first)
        assert first["state"] == "incomplete" and first["pending"] > 0, stderr
        assert "Interrupted:" in stderr and "--resume" in stderr
        saved = [e for e in first["images"] if e["status"] == "succeeded"]
        assert saved and all(Path(e["output"]).is_file() for e in saved)
    else:
        assert proc.returncode == 0, stderr
    again = run("run", "--resume", str(out), *api(stack))
    assert again.returncode == 0, again.stderr[-3000:]
    m = manifest(out)
    assert (m["state"], m["succeeded"], m["pending"]) == ("complete", 30, 0)
    assert outputs(out) == sorted(p.stem for p in photos)
    assert m["jobs"][0] == first["jobs"][0]  # the job is followed again, not submitted twice
    if proc.returncode == 4:  # the job is followed again (or, if it finished meanwhile, its outputs fetched)
        assert "following job" in again.stderr or "is finished: fetching" in again.stderr


def test_run_resumed_without_the_old_stack_resubmits_what_it_lost(photos: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run("run", *map(str, photos[:6]), *SLOW_OPS, "--out", str(out), "--timeout", "0")
    assert first.returncode == 4 and "Traceback" not in first.stderr, first.stderr[-3000:]
    left = manifest(out)
    assert left["state"] == "incomplete" and left["pending"] == 6
    followed = [e for e in left["images"] if e["status"] == "submitted"]  # uploaded before the stop
    # the same command again: its embedded stack is new, the old job is gone, the images go again
    again = run("run", *map(str, photos[:6]), *SLOW_OPS, "--out", str(out), "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    assert (summary["state"], summary["succeeded"], summary["pending"]) == ("complete", 6, 0)
    assert ("is no longer on the service" in again.stderr) == bool(followed)
    assert outputs(out) == sorted(p.stem for p in photos[:6])


def test_jobs_lists_and_download_fetches_a_finished_job(stack: EmbeddedStack, photos: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run("run", *map(str, photos[:3]), "--op", "thumbnail:width=50", "--out", str(out), *api(stack)).returncode == 0
    job_id = manifest(out)["jobs"][0]
    listed = run("jobs", *api(stack), "--json")
    assert listed.returncode == 0 and job_id in {j["job_id"] for j in json.loads(listed.stdout)["jobs"]}
    fetched = tmp_path / "fetched"
    got = run("download", job_id, "--out", str(fetched), *api(stack))
    assert got.returncode == 0, got.stderr[-3000:]
    assert "unfinished" not in got.stderr and "still processing" not in got.stderr  # the job is finished
    assert f"job {job_id} is finished: fetching its 3 outputs" in got.stderr
    assert outputs(fetched) == sorted(p.stem for p in photos[:3])
    for e in manifest(out)["images"]:
        assert (fetched / Path(e["output"]).name).read_bytes() == Path(e["output"]).read_bytes()


def test_every_user_error_is_one_line_and_its_exit_code(stack: EmbeddedStack, photos: list[Path], tmp_path: Path) -> None:
    photo = str(photos[0])
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
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
                    "http://127.0.0.1:9",
                    "--token",
                    "t",
                ],
                3,
                "cannot reach",
            ),
            (
                [
                    "run",
                    photo,
                    "--op",
                    "thumbnail:width=9",
                    "--out",
                    str(tmp_path / "o2"),
                    "--api",
                    "127.0.0.1:9",
                    "--token",
                    "t",
                ],
                2,
                "is not a URL",
            ),
            (["run", photo, "--op", "thumbnail:width=9", "--out", str(a_file)], 2, "is a file, not a folder"),
            (["run", photo, "--op", "thumbnail:width=9", "--out", "/proc/no/such"], 2, "cannot write to --out"),
            (["run", photo, "--op", "thumbnail:width=abc", "--out", str(tmp_path / "o3")], 2, "must be a number"),
            (
                ["run", str(tmp_path / "missing.jpg"), "--op", "thumbnail:width=9", "--out", str(tmp_path / "o4")],
                2,
                "no such file",
            ),
            (
                [
                    "run",
                    photo,
                    "--op",
                    "thumbnail:width=9",
                    "--out",
                    str(tmp_path / "o5"),
                    "--api",
                    stack.api_url,
                    "--token",
                    "wrong",
                ],
                2,
                "401",
            ),
            (["run", "--resume", str(tmp_path / "nothing")], 2, "nothing to resume"),
            (["run", photo, "--op", "thumbnail:width=9", "--quality", "0", "--out", str(tmp_path / "o7")], 2, "quality"),
            (["local", "--port", port], 2, f"port {port} is not free"),
            (["download", "j-" + "0" * 32, "--out", str(tmp_path / "o6"), *api(stack)], 2, "not found"),
        ]
        for argv, code, message in cases:
            proc = run(*argv, timeout=300)
            lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
            assert proc.returncode == code, (argv, proc.returncode, proc.stderr[-2000:])
            assert len(lines) == 1 and message in lines[0], (argv, proc.stderr[-2000:])
            assert "Traceback" not in proc.stderr, argv
    # the embedded stack's dead-letter queues need no AWS credentials
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    where = ["--endpoint", stack.endpoint, "--stack-name", stack.stack_name]
    dlq = subprocess.run([*RETOUCH, "dlq", "list", *where], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert dlq.returncode == 0 and "dead-lettered message(s)" in dlq.stderr, dlq.stderr[-2000:]


def test_output_that_is_not_a_terminal_is_never_wrapped(stack: EmbeddedStack, tmp_path: Path) -> None:
    long_name = "holiday-" + "x" * 150 + ".jpg"
    bad = tmp_path / "in" / long_name
    bad.parent.mkdir()
    bad.write_text("not a photo")
    proc = run("run", str(bad), "--op", "thumbnail:width=9", "--out", str(tmp_path / "out"), *api(stack))
    assert proc.returncode == 1
    assert any(long_name in line for line in proc.stderr.splitlines()), proc.stderr


def test_run_reads_iphone_heic_and_bigtiff(stack: EmbeddedStack, photos: list[Path], tmp_path: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    folder = tmp_path / "in"
    folder.mkdir()
    with Image.open(photos[0]) as src:
        photo = src.convert("RGB")
        photo.save(folder / "IMG_0001.HEIC", "HEIF", quality=90)  # as an iPhone names them
        photo.save(folder / "scan.tif", "TIFF", big_tiff=True)
        size = photo.size
    assert (folder / "IMG_0001.HEIC").read_bytes()[4:12] == b"ftypheic" and (folder / "scan.tif").read_bytes()[:4] == b"II+\x00"
    out = tmp_path / "out"
    proc = run("run", str(folder), "--op", "thumbnail:width=64", "--out", str(out), *api(stack))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("IMG_0001.jpg", "scan.jpg"):
        with Image.open(out / name) as im:
            assert im.format == "JPEG" and im.width == 64 and abs(im.height - round(64 * size[1] / size[0])) <= 1


def test_run_keeps_each_source_format_by_default(stack: EmbeddedStack, photos: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    logo = Image.new("RGBA", (40, 20), (200, 30, 30, 255))
    logo.paste((0, 0, 0, 0), (20, 0, 40, 20))  # transparent right half
    logo.save(folder / "logo.png")
    (folder / "photo.jpg").write_bytes(photos[1].read_bytes())
    with Image.open(photos[2]) as src:
        src.convert("RGB").save(folder / "scan.bmp")
    out = tmp_path / "out"
    proc = run("run", str(folder), "--op", "thumbnail:width=20", "--out", str(out), *api(stack))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir() if p.name != "job.json") == ["logo.png", "photo.jpg", "scan.jpg"]
    with Image.open(out / "logo.png") as im:
        assert im.format == "PNG" and im.mode == "RGBA" and im.getpixel((15, 5))[3] == 0 and im.getpixel((2, 5))[3] == 255
    with Image.open(out / "photo.jpg") as im, Image.open(out / "scan.jpg") as bmp:
        assert im.format == "JPEG" and bmp.format == "JPEG"
    fetched = tmp_path / "fetched"
    got = run("download", manifest(out)["jobs"][0], "--out", str(fetched), *api(stack))
    assert got.returncode == 0 and sorted(p.name for p in fetched.glob("*.*") if p.name != "job.json") == [
        "logo.png",
        "photo.jpg",
        "scan.jpg",
    ]
