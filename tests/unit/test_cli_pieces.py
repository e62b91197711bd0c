"""Pieces of the CLI, without a stack: its answers to a messy folder (issue 26), and what it says
the operations did to each photo (issue 24.6)."""

from __future__ import annotations

import argparse
import json
import os
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from retouch.cli import hints, runner
from retouch.cli.apply import apply_line
from retouch.cli.client import ApiError
from retouch.cli.files import MAX_NAME_BYTES, PART_SUFFIX, collect_inputs, name_fits, unique_names
from retouch.cli.manifest import FAILED, MANIFEST, SUCCEEDED, Entry, Manifest
from retouch.cli.report import json_summary, outcome_lines, report
from retouch.ops.colorize import PACKAGED_MODEL, predict_with_model
from retouch.outcome import Outcome
from retouch.pipeline import Rendered


def fits(name: str) -> bool:
    return len(os.fsencode(Path(name).name + PART_SUFFIX)) <= MAX_NAME_BYTES


def test_long_names_are_shortened_keeping_extension_folder_and_uniqueness() -> None:
    long = "a" * 300
    wanted = [f"{long}.jpg", f"{long}.jpg", f"sub/{long}.webp", "é" * 200 + ".png", "short.jpg"]
    names = unique_names(wanted, taken=[])
    assert all(fits(n) for n in names), names
    assert len({n.lower() for n in names}) == len(names)
    assert names[0].endswith(".jpg") and names[1].endswith("-2.jpg") and names[1].startswith("aaa")
    assert names[2].startswith("sub/") and names[2].endswith(".webp")
    assert names[3].endswith(".png") and set(Path(names[3]).stem) == {"é"}  # never half a character
    assert names[4] == "short.jpg"
    # a name already taken in its shortened form is told apart too
    assert unique_names([f"{long}.jpg"], taken=[names[0]]) == [names[1]]
    assert name_fits("short.jpg") and not name_fits("x" * 251 + ".jpg")


def test_a_run_recorded_with_a_name_too_long_renames_what_it_has_not_saved(tmp_path: Path) -> None:
    long = "b" * 251 + ".jpg"  # as an older retouch named it
    source = tmp_path / "in" / long
    source.parent.mkdir()
    source.write_bytes(b"x")
    entries = [Entry(input=str(source), output_name=long, status=FAILED, error="x", retry=True)]
    manifest = Manifest(api="", operations=[], output={}, entries=entries)

    class Stopped(Exception):
        pass

    class Client:
        def create_job(self, *args: object, **kwargs: object) -> dict[str, object]:
            raise Stopped

    run = runner.Run(Client(), manifest, tmp_path / "out", parallel=1)  # type: ignore[arg-type]
    (tmp_path / "out").mkdir()
    with pytest.raises(Stopped):
        run.execute()  # stopped at its first job, the names fixed before
    assert fits(entries[0].output_name) and entries[0].output_name.endswith(".jpg")


def test_folders_skip_hidden_entries_and_list_subfolders(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("a.jpg", ".b.jpg", "c.txt", "sub/d.png", ".git/e.jpg"):
        (tmp_path / name).write_bytes(b"x")
    found, skipped = collect_inputs([tmp_path])
    assert [rel for _, rel in found] == ["a.jpg"]
    assert {Path(s["path"]).name for s in skipped} == {".b.jpg", "c.txt", "sub", ".git"}
    found, skipped = collect_inputs([tmp_path], recursive=True)
    assert [rel for _, rel in found] == ["a.jpg", "sub/d.png"]
    assert {Path(s["path"]).name for s in skipped} == {".b.jpg", "c.txt", ".git"}


def test_http_errors_are_explained_without_library_words() -> None:
    api = "http://127.0.0.1:8787/v1"
    assert "looks wrong" in hints.api_error(ApiError(404, "Not Found", request="GET x"), api)
    assert hints.api_error(ApiError(404, "job j-1 not found", envelope=True), api).endswith("job j-1 not found")
    unauthorized = hints.api_error(ApiError(401, "Unauthorized"), api)
    assert all(w in unauthorized for w in ("--token", "RETOUCH_TOKEN", "retouch login"))
    assert "403" in hints.api_error(ApiError(403, "Forbidden"), api)
    try:
        try:
            raise ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)")
        except ssl.SSLError as inner:
            raise OSError("HTTPSConnectionPool: Max retries exceeded") from inner
    except OSError as exc:
        message = hints.connection_error(exc, "https://127.0.0.1:8787", "ignored")
    assert message == "the server at https://127.0.0.1:8787 does not speak https here; try http://127.0.0.1:8787"


def test_one_network_per_thread_gives_every_image_its_own_result() -> None:
    rng = np.random.default_rng(7)
    images = [rng.uniform(0, 100, (96 + 8 * i, 128, 1)).astype(np.float32)[..., 0] for i in range(16)]
    alone = [predict_with_model(im, str(PACKAGED_MODEL)) for im in images]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda im: predict_with_model(im, str(PACKAGED_MODEL)), images * 3))
    for n, ab in enumerate(together):
        assert np.array_equal(ab, alone[n % len(images)]), n


# --- what the operations did to each photo (issue 24.6) ---------------------------------------
RED_EYES = {"faces_found": 1, "red_eyes_fixed": 2, "eyes_looked_at": 2, "summary": "2 red eyes fixed."}
NO_FACE = {"faces_found": 0, "red_eyes_fixed": 0, "summary": "No face found: no red eyes to fix."}


def finished(name: str, outcome: dict[str, object] | None, status: str = SUCCEEDED) -> Entry:
    return Entry(input=f"in/{name}", output_name=name, status=status, outcome=outcome)


def test_the_summary_says_what_changed_photo_by_photo_and_groups_a_big_run() -> None:
    entries = [
        finished("a.jpg", RED_EYES),
        finished("b.jpg", NO_FACE),
        finished("c.jpg", {"summary": "Done."}),  # a chain that reports nothing (a thumbnail) says nothing
        finished("d.jpg", None),  # a service that does not report outcomes yet
        finished("e.jpg", RED_EYES, status=FAILED),
    ]
    assert outcome_lines(entries) == [
        "What changed, photo by photo:",
        "  in/a.jpg: 2 red eyes fixed.",
        "  in/b.jpg: No face found: no red eyes to fix.",
    ]
    assert outcome_lines(entries[2:4]) == []
    many = [finished(f"{n}.jpg", RED_EYES if n % 3 else NO_FACE) for n in range(30)]
    assert outcome_lines(many) == [
        "What changed (30 photos; each one's in job.json):",
        "  20 photos: 2 red eyes fixed.",
        "  10 photos: No face found: no red eyes to fix.",
    ]
    one = [*many[:21], finished("x.jpg", {"colorized": True, "summary": "Coloured."})]
    assert outcome_lines(one)[-1] == "  1 photo: Coloured."


def test_a_runs_report_and_json_summary_carry_the_outcomes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = [finished("a.jpg", RED_EYES), finished("b.jpg", NO_FACE), finished("c.jpg", RED_EYES)]
    manifest = Manifest(api="", operations=[{"op": "red_eye", "params": {}}], output={}, entries=entries)
    args = argparse.Namespace(command="run", json=True)
    assert report(manifest, tmp_path, args) == 0
    captured = capsys.readouterr()
    assert "3/3 images succeeded" in captured.err
    assert "  in/b.jpg: No face found: no red eyes to fix." in captured.err.splitlines()
    summary = json.loads(captured.out)
    assert summary["outcomes"] == {"2 red eyes fixed.": 2, "No face found: no red eyes to fix.": 1}
    plain = Manifest(api="", operations=[], output={}, entries=[finished("t.jpg", {"summary": "Done."})])
    assert "outcomes" not in json_summary(plain, tmp_path, 0)


def test_job_json_keeps_each_images_outcome_as_the_service_reported_it(tmp_path: Path) -> None:
    """A run against a service that reports outcomes (and one that does not) writes each image's
    ``outcome`` into job.json, and a resumed run reads it back."""
    sources = []
    for name in ("a.jpg", "b.jpg"):
        sources.append(tmp_path / name)
        sources[-1].write_bytes(b"x")
    out = tmp_path / "out"
    out.mkdir()

    class Client:
        def create_job(self, images: list[dict[str, object]], *args: object) -> dict[str, object]:
            uploads = [{"image_id": f"i{n}"} for n in range(len(images))]
            return {"job_id": "j1", "uploads": uploads, "operations": [{"op": "red_eye"}]}

        def upload(self, *args: object) -> None:
            pass

        def job(self, job_id: str) -> dict[str, object]:
            done = {"status": SUCCEEDED, "format": "jpeg", "width": 4, "height": 3}
            return {
                "images": [
                    {"image_id": "i0", "download_url": "u0", "outcome": RED_EYES, **done},
                    {"image_id": "i1", "download_url": "u1", **done},  # no outcome: left out
                ]
            }

        def download(self, url: str, dest: Path) -> None:
            dest.write_bytes(b"y")

    entries = [Entry(input=str(p), output_name=p.name) for p in sources]
    manifest = Manifest(api="", operations=[{"op": "red_eye", "params": {}}], output={}, entries=entries)
    runner.Run(Client(), manifest, out, parallel=1).execute()  # type: ignore[arg-type]
    images = json.loads((out / MANIFEST).read_text())["images"]
    assert images[0]["outcome"] == RED_EYES and images[0]["outcome"]["summary"] == "2 red eyes fixed."
    assert "outcome" not in images[1]
    again = Manifest.load(out / MANIFEST)
    assert again is not None and again.entries[0].outcome == RED_EYES and again.entries[1].outcome is None


def test_retouch_apply_prints_what_the_operations_did() -> None:
    def rendered(outcome: Outcome) -> Rendered:
        return Rendered(b"", 64, 48, "image/jpeg", "jpeg", 0.012, outcome)

    fixed = apply_line(Path("a.jpg"), Path("out/a.jpg"), rendered(Outcome(faces_found=1, red_eyes_fixed=2)))
    assert fixed == "a.jpg -> out/a.jpg (64x48, 12 ms): 2 red eyes fixed."
    assert apply_line(Path("t.jpg"), Path("out/t.jpg"), rendered(Outcome())) == "t.jpg -> out/t.jpg (64x48, 12 ms)"
