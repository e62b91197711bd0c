"""`retouch run` end to end against the embedded stack (moto server + worker processes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from retouch.cli.samples import write_samples
from retouch.local.stack import EmbeddedStack
from tests.helpers import run_cli as run


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_samples(tmp_path_factory.mktemp("samples"), 24)


def run_on(stack: EmbeddedStack, *args: str) -> subprocess.CompletedProcess[str]:
    """``retouch run ARGS`` against ``stack``'s API."""
    return run("run", *args, "--api", stack.api_url, "--token", stack.token)


def upright_size(path: Path) -> tuple[int, int]:
    from PIL import ImageOps

    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).size


def test_run_processes_24_photos_with_every_output_at_the_right_size(
    stack: EmbeddedStack, samples: list[Path], tmp_path: Path
) -> None:
    folder = samples[0].parent
    out = tmp_path / "out"
    proc = run_on(
        stack,
        str(folder),
        "--op",
        "crop:aspect=1:1",
        "--op",
        "contrast:method=auto",
        "--op",
        "thumbnail:width=256",
        "--format",
        "png",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "job.json").read_text())
    assert (report["total"], report["succeeded"], report["failed"]) == (24, 24, 0)
    for entry, src in zip(report["images"], samples, strict=True):
        assert entry["status"] == "succeeded" and entry["input"] == str(src)
        output = Path(entry["output"])
        assert output.name == src.stem + ".png"
        with Image.open(output) as im:
            w, h = upright_size(src)
            side = min(256, min(w, h))
            assert im.format == "PNG" and im.size == (side, side) == (entry["width"], entry["height"])
        assert entry["bytes"] == output.stat().st_size and entry["duration_ms"] >= 0
    assert set(report["timings"]) >= {"total_seconds", "images_per_second"} and report["state"] == "complete"
    assert "24/24 images succeeded" in proc.stderr


def test_run_saves_good_images_and_fails_bad_ones_with_reasons(stack: EmbeddedStack, samples: list[Path], tmp_path: Path) -> None:
    bad_text = tmp_path / "notes.jpg"
    bad_text.write_text("this is not a photo")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(samples[0].read_bytes()[:1500])
    out = tmp_path / "out"
    proc = run_on(
        stack,
        str(samples[1]),
        str(bad_text),
        str(truncated),
        str(samples[2]),
        "--op",
        "thumbnail:width=100,height=100,fit=cover",
        "--out",
        str(out),
    )
    assert proc.returncode == 1
    report = json.loads((out / "job.json").read_text())
    by_name = {Path(e["input"]).name: e for e in report["images"]}
    assert "not a supported image" in by_name["notes.jpg"]["error"]
    assert "corrupt or truncated" in by_name["cut.jpg"]["error"]
    for good in (samples[1], samples[2]):
        assert by_name[good.name]["status"] == "succeeded"
        with Image.open(out / f"{good.stem}.jpg") as im:
            assert im.size == (100, 100)
    assert "2/4 images succeeded" in proc.stderr and "notes.jpg" in proc.stderr


def test_run_without_api_starts_its_own_embedded_stack(samples: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run("run", *(str(p) for p in samples[:3]), "--op", "crop:box=0.25,0.25,0.5,0.5", "--format", "webp", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Starting the embedded stack" in proc.stderr
    for src in samples[:3]:
        w, h = upright_size(src)
        with Image.open(out / f"{src.stem}.webp") as im:
            assert abs(im.width - w / 2) <= 1 and abs(im.height - h / 2) <= 1


def test_ops_lists_the_registry() -> None:
    proc = run("ops", "--json")
    names = {o["name"] for o in json.loads(proc.stdout)["operations"]}
    assert proc.returncode == 0 and {"crop", "thumbnail", "contrast"} <= names


def test_run_rejects_an_invalid_operation_before_uploading(tmp_path: Path, samples: list[Path]) -> None:
    proc = run(
        "run",
        str(samples[0]),
        "--op",
        "thumbnail:width=abc",
        "--out",
        str(tmp_path),
        "--api",
        "http://127.0.0.1:9",
        "--token",
        "t",
    )
    assert proc.returncode == 2 and "thumbnail: parameter 'width' must be a number" in proc.stderr


def _retouch_inputs(folder: Path) -> dict[str, Path]:
    """A portrait with red eyes painted over the real irises, a grey photo and its colour reference."""
    import cv2
    import numpy as np
    from skimage import data

    from retouch.ops.faces import detect_faces
    from retouch_testkit.portrait import paint_red_eyes

    folder.mkdir(parents=True, exist_ok=True)
    astronaut = data.astronaut()
    red, _ = paint_red_eyes(astronaut, detect_faces(astronaut))
    coffee = data.coffee()
    paths = {"portrait": folder / "portrait.png", "grey": folder / "grey.jpg", "reference": folder / "reference.jpg"}
    Image.fromarray(red).save(paths["portrait"])
    Image.fromarray(cv2.cvtColor(coffee, cv2.COLOR_RGB2GRAY)).save(paths["grey"], quality=92)
    Image.fromarray(np.ascontiguousarray(coffee[:, ::-1])).save(paths["reference"], quality=92)
    return paths


def _redness_in_eyes(path: Path) -> float:
    import numpy as np

    from retouch.ops.faces import detect_faces
    from retouch.ops.portrait.pupils import redness

    image = np.asarray(Image.open(path).convert("RGB"))
    red = redness(image)
    values = [
        red[int(e.center[1]) - 2 : int(e.center[1]) + 3, int(e.center[0]) - 2 : int(e.center[0]) + 3].mean()
        for f in detect_faces(image)
        for e in f.eyes
    ]
    return float(max(values))


def test_retouching_operations_work_through_run_and_apply_alike(stack: EmbeddedStack, tmp_path: Path) -> None:
    import numpy as np

    paths = _retouch_inputs(tmp_path / "in")
    assert _redness_in_eyes(paths["portrait"]) > 0.5
    run_out, apply_out = tmp_path / "run", tmp_path / "apply"
    proc = run_on(
        stack,
        str(paths["portrait"]),
        "--op",
        "red_eye",
        "--op",
        "teeth_whitening",
        "--format",
        "png",
        "--out",
        str(run_out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    local = run(
        "apply", str(paths["portrait"]), "--op", "red_eye", "--op", "teeth_whitening", "--format", "png", "-o", str(apply_out)
    )
    assert local.returncode == 0, local.stderr[-3000:]
    said = next(line for line in local.stderr.splitlines() if " -> " in line)
    assert "red eye" in said and "fixed" in said, said  # what the operations did, said per photo
    served, applied = Image.open(run_out / "portrait.png"), Image.open(apply_out / "portrait.png")
    assert np.array_equal(np.asarray(served), np.asarray(applied))  # the same code in the service and locally
    assert _redness_in_eyes(run_out / "portrait.png") < 0.2
    (image,) = json.loads((run_out / "job.json").read_text())["images"]
    outcome = image["outcome"]  # what the operations did, as GET /jobs/{id} reported it
    assert outcome["red_eyes_fixed"] >= 1 and "red eye" in outcome["summary"], outcome
    assert f"{paths['portrait']}: {outcome['summary']}" in proc.stderr  # and said in the run's summary

    proc = run_on(
        stack,
        str(paths["grey"]),
        str(paths["reference"]),
        "--op",
        "colorize:mode=reference,reference=reference.jpg",
        "--out",
        str(tmp_path / "colour"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    hsv = np.asarray(Image.open(tmp_path / "colour" / "grey.jpg").convert("HSV"))
    assert hsv[:, :, 1].mean() > 40  # the grey photo came back in colour
