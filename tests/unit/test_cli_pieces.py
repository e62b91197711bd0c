"""Pieces of the CLI's answers to a messy folder (issue 26), without a stack."""

from __future__ import annotations

import os
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from retouch.cli import hints, runner
from retouch.cli.manifest import FAILED, Entry, Manifest
from retouch.cli.client import ApiError
from retouch.cli.files import MAX_NAME_BYTES, PART_SUFFIX, collect_inputs, name_fits, unique_names
from retouch.ops.colorize import PACKAGED_MODEL, predict_with_model


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
