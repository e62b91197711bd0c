"""Benchmark every registered image operation on 12 MP and 24 MP JPEGs, on one core, beside
pyvips and Pillow thumbnail baselines.

    .venv/bin/python -m bench.bench_ops              (from the repository root; a few minutes)
    .venv/bin/python -m bench.bench_ops --quick      (12 MP only, one run each: CI smoke)
    .venv/bin/python -m bench.bench_ops --runs 5 --photos astronaut,coffee

What is measured
----------------
* Test images: scikit-image's ``astronaut`` (a face, so red_eye and teeth_whitening do their full
  work) and ``coffee`` (no face), cropped to the target aspect and upscaled with Pillow's LANCZOS
  to 4000x3000 (12 MP) and 6000x4000 (24 MP), JPEG quality 90, built in memory (handed to the
  workers through a temporary directory). Upscaled photos are smoother than camera output, so
  their JPEGs are smaller and entropy decoding is cheaper than on real 12 MP files; the printed
  file sizes say by how much.
* Cases: every registered operation with representative parameters (thumbnail w=256 contain,
  256x256 cover with the default face gravity and with center gravity, crop 16:9 centred and
  with smart gravity, contrast auto/clahe/linear, red_eye, teeth_whitening, colorize auto and
  hints); a case whose parameters the registry rejects shows as an ERROR row.
* Each retouch row is ``retouch.pipeline.render`` (decode -> operation -> JPEG encode, quality 85),
  exactly what the process function runs. The face-detection cache (which lets later operations
  of one pipeline reuse the detections on the same photo) is cleared before every run, or runs 2..N
  on the same bytes would skip detection; per-process caches (models, colorize library, lookup
  tables) stay warm, as in a warm Lambda container. Baselines, also including the JPEG encode: pyvips
  ``thumbnail_buffer(data, 256)`` (libvips operation cache off, so repeated runs really decode),
  Pillow full decode + LANCZOS resize to 256 px wide, and Pillow ``draft()`` + ``thumbnail()``.
* ms/image is the median wall time of N runs (``--runs``, default 3); CPU ms is the median process
  CPU time of the same runs (less sensitive to other jobs on a loaded machine; a CPU time above the
  wall time would reveal a second thread). MP/s is source megapixels / median wall seconds.
  The last column lists every run's wall time in order (the first pays fresh-allocation page faults).
* Every (case, photo, size) runs in a fresh worker process (``subprocess``, this module with
  ``--worker``). The worker imports what the case needs, warms up on a 640x480 copy of the photo
  (so lazy loads such as the face models and the colorize library are not timed), then times N
  runs. "peak MB" is the worker's lifetime peak RSS (whole process, as Lambda's "Max Memory
  Used"): ``VmHWM`` from ``/proc/self/status``, because on Linux ``ru_maxrss`` (RUSAGE_SELF of the
  worker, and so RUSAGE_CHILDREN of the parent) keeps the parent's peak across fork + exec: a
  parent that built the 24 MP test images passes its ~180 MB on to every worker's ``ru_maxrss``
  (``ru_maxrss`` is the fallback where ``/proc`` is missing). "+MB" is the peak during the timed
  runs (``VmHWM`` after resetting it through ``/proc/self/clear_refs``) minus the resident size
  just before them (after imports, warm-up and reading the input bytes). MB here are MiB, as
  Lambda's memory sizes.
* One core: the worker runs with ``OMP_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``,
  ``MKL_NUM_THREADS=1``, ``OPENCV_FOR_THREADS_NUM=1`` and ``VIPS_CONCURRENCY=1`` in its
  environment (set before any import) and calls ``cv2.setNumThreads(1)``. It is not pinned to a
  CPU, so a loaded machine slows wall times; the load average is printed before and after.
* ``colorize mode=auto`` uses the reference library: the packaged ``colorize_library.npz`` if the
  layer build put one next to the module, else one built once here from scikit-image's photos and
  passed through ``$COLORIZE_LIBRARY_PATH`` (as the Lambda layer ships it), so workers never
  import scikit-image. ``mode=reference`` needs a second image of the job and is not benchmarked.

Targets (printed as PASS / FAIL / N/A lines, never asserted): the retouch thumbnail's throughput
>= pyvips ``thumbnail_buffer``'s; every operation on 24 MP within 1 GB (1024 MiB) peak RSS;
red_eye and teeth_whitening under 1 s per 12 MP image on one core.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SIZES: dict[str, tuple[int, int]] = {"12MP": (4000, 3000), "24MP": (6000, 4000), "50MP": (8660, 5773)}
DEFAULT_SIZES = ("12MP", "24MP")
"""50MP (the default ``MaxPixels``: the largest image the service accepts, which sizes the process
function's memory and timeout) only when asked: ``--sizes 50MP``."""
PHOTOS = ("astronaut", "coffee")
WARMUP_SIZE = (640, 480)
SOURCE_QUALITY = 90
OUTPUT_QUALITY = 85
THUMB_SIDE = 256
MAX_PIXELS = 50_000_000  # ProcessSettings.max_pixels
MAX_BYTES = 50 * 1024 * 1024  # ProcessSettings.max_upload_bytes
MEMORY_LIMIT_MB = 1024.0
PORTRAIT_LIMIT_MS = 1000.0
WORKER_TIMEOUT_S = 900
ONE_CORE_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENCV_FOR_THREADS_NUM": "1",
    "VIPS_CONCURRENCY": "1",
}
HINTS = "0.2,0.2,#cc3322;0.8,0.8,#2244cc"
PYVIPS = "pyvips thumbnail_buffer 256"


@dataclass(frozen=True)
class Case:
    """One benchmarked operation: retouch operations through ``render``, or a baseline."""

    label: str
    kind: str  # "render", "pyvips", "pillow_lanczos" or "pillow_draft"
    operations: tuple[dict[str, Any], ...] = ()
    thumbnail: bool = False


CASES: tuple[Case, ...] = (
    Case("thumbnail w=256 contain", "render", ({"op": "thumbnail", "params": {"width": 256, "fit": "contain"}},), True),
    Case(
        "thumbnail 256x256 cover",  # default gravity (face: runs face detection on the small image)
        "render",
        ({"op": "thumbnail", "params": {"width": 256, "height": 256, "fit": "cover"}},),
        True,
    ),
    Case(
        "thumbnail 256x256 cover center",
        "render",
        ({"op": "thumbnail", "params": {"width": 256, "height": 256, "fit": "cover", "gravity": "center"}},),
        True,
    ),
    Case("crop aspect=16:9", "render", ({"op": "crop", "params": {"aspect": "16:9"}},)),
    Case("crop aspect=16:9 gravity=smart", "render", ({"op": "crop", "params": {"aspect": "16:9", "gravity": "smart"}},)),
    Case("contrast auto", "render", ({"op": "contrast", "params": {"method": "auto"}},)),
    Case("contrast clahe", "render", ({"op": "contrast", "params": {"method": "clahe"}},)),
    Case(
        "contrast linear",
        "render",
        ({"op": "contrast", "params": {"method": "linear", "brightness": 0.05, "contrast": 1.2, "gamma": 1.1}},),
    ),
    Case("red_eye", "render", ({"op": "red_eye", "params": {}},)),
    Case("teeth_whitening", "render", ({"op": "teeth_whitening", "params": {}},)),
    Case(
        "portrait chain (red_eye + teeth_whitening + contrast)",
        "render",
        ({"op": "red_eye", "params": {}}, {"op": "teeth_whitening", "params": {}}, {"op": "contrast", "params": {}}),
    ),
    Case("colorize auto", "render", ({"op": "colorize", "params": {"mode": "auto"}},)),
    Case("colorize hints", "render", ({"op": "colorize", "params": {"mode": "hints", "hints": HINTS}},)),
    Case(PYVIPS, "pyvips", thumbnail=True),
    Case("Pillow decode + LANCZOS 256", "pillow_lanczos", thumbnail=True),
    Case("Pillow draft + thumbnail 256", "pillow_draft", thumbnail=True),
)


@dataclass
class Result:
    case: str
    photo: str
    size: str
    megapixels: float
    ms: float = 0.0
    cpu_ms: float = 0.0
    peak_mb: float = 0.0
    delta_mb: float = 0.0
    baseline_mb: float = 0.0
    runs_ms: list[float] = field(default_factory=list)
    output: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def mp_per_s(self) -> float:
        return self.megapixels / (self.ms / 1000.0) if self.ms > 0 else 0.0


# --------------------------------------------------------------------------- worker side


def _status_kb(field_name: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _maxrss_kb() -> float:
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def _make_runner(case: Case) -> Callable[[bytes], str]:
    """Import what ``case`` needs (one core) and return a function: JPEG bytes -> output description."""
    if case.kind == "render":
        import cv2

        cv2.setNumThreads(1)
        from retouch import ops, pipeline
        from retouch.models import OutputSpec

        specs = ops.validate_operations([dict(o) for o in case.operations])
        out = OutputSpec(format="jpeg", quality=OUTPUT_QUALITY)

        def run_render(data: bytes) -> str:
            rendered = pipeline.render(data, specs, out, max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES)
            return f"{rendered.width}x{rendered.height}"

        return run_render

    if case.kind == "pyvips":
        import pyvips

        pyvips.cache_set_max(0)  # no operation cache: every run decodes
        pyvips.concurrency_set(1)

        def run_pyvips(data: bytes) -> str:
            thumb = pyvips.Image.thumbnail_buffer(data, THUMB_SIDE)
            thumb.jpegsave_buffer(Q=OUTPUT_QUALITY)
            return f"{thumb.width}x{thumb.height}"

        return run_pyvips

    from PIL import Image

    def run_pillow(data: bytes) -> str:
        with Image.open(io.BytesIO(data)) as im:
            if case.kind == "pillow_draft":
                im.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
                im.thumbnail((THUMB_SIDE, THUMB_SIDE))
                small: Image.Image = im
            else:
                im.load()
                small = im.resize((THUMB_SIDE, max(1, round(im.height * THUMB_SIDE / im.width))), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            small.convert("RGB").save(buf, "JPEG", quality=OUTPUT_QUALITY)
            return f"{small.width}x{small.height}"

    return run_pillow


def worker(spec_path: Path) -> int:
    """Run one measurement described by the JSON at ``spec_path``; write the result next to it."""
    spec = json.loads(spec_path.read_text())
    case = Case(**{**spec["case"], "operations": tuple(spec["case"]["operations"])})
    result = Result(case=case.label, photo=spec["photo"], size=spec["size"], megapixels=spec["megapixels"])
    try:
        run = _make_runner(case)
        warmup = Path(spec["warmup"]).read_bytes()
        run(warmup)
        data = Path(spec["image"]).read_bytes()
        del warmup
        gc.collect()
        baseline_kb = _status_kb("VmRSS") or _maxrss_kb()
        before_kb = _status_kb("VmHWM")  # peak of imports + warm-up, before the reset below
        if before_kb is not None:
            _reset_peak()
        walls: list[float] = []
        cpus: list[float] = []
        for _ in range(int(spec["runs"])):
            c0, t0 = time.process_time(), time.perf_counter()
            result.output = run(data)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        # the timed runs' peak if the reset worked, else the lifetime peak (an overestimate of +MB)
        window_peak_kb = _status_kb("VmHWM") or _maxrss_kb()
        result.ms = statistics.median(walls) * 1000.0
        result.cpu_ms = statistics.median(cpus) * 1000.0
        result.runs_ms = [round(w * 1000.0, 1) for w in walls]
        result.peak_mb = (max(before_kb, window_peak_kb) if before_kb is not None else _maxrss_kb()) / 1024.0
        result.baseline_mb = baseline_kb / 1024.0
        result.delta_mb = max(0.0, window_peak_kb - baseline_kb) / 1024.0
    except Exception as exc:  # reported in the table, not raised: one broken case must not hide the others
        result.error = f"{type(exc).__name__}: {exc}"
    Path(spec["result"]).write_text(json.dumps(asdict(result)))
    return 0


# --------------------------------------------------------------------------- parent side


def photo_pixels(name: str, size: tuple[int, int]) -> Any:
    """The named scikit-image photo, cropped (from the top, keeping the astronaut's face) to the
    aspect of ``size`` and upscaled to ``size`` with LANCZOS, as a Pillow image."""
    from PIL import Image
    from skimage import data

    rgb = getattr(data, name)()
    h, w = rgb.shape[:2]
    target = size[0] / size[1]
    if w / h > target:
        cw = round(h * target)
        x0 = (w - cw) // 2
        rgb = rgb[:, x0 : x0 + cw]
    else:
        rgb = rgb[: round(w / target)]
    return Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS)


def jpeg_bytes(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=SOURCE_QUALITY)
    return buf.getvalue()


def colorize_library_env(workdir: Path) -> dict[str, str]:
    """``$COLORIZE_LIBRARY_PATH`` for the workers: the packaged library, else one built here."""
    from retouch.ops.colorize.library import packaged_path
    from training.colorize_library import build_library, save_library

    if os.environ.get("COLORIZE_LIBRARY_PATH") or packaged_path() is not None:
        return {}
    path = save_library(build_library(), workdir / "colorize_library.npz")
    return {"COLORIZE_LIBRARY_PATH": str(path)}


def run_worker(
    index: int, case: Case, photo: str, size: str, files: dict[str, Path], runs: int, workdir: Path, env: dict[str, str]
) -> Result:
    """Measure ``case`` on one photo and size in a fresh worker process (``index`` names its files)."""
    w, h = SIZES[size]
    tag = f"{index:03d}"
    spec_path, result_path = workdir / f"spec-{tag}.json", workdir / f"result-{tag}.json"
    spec = {
        "case": asdict(case),
        "photo": photo,
        "size": size,
        "megapixels": w * h / 1e6,
        "image": str(files[f"{photo}-{size}"]),
        "warmup": str(files[f"{photo}-warmup"]),
        "runs": runs,
        "result": str(result_path),
    }
    spec_path.write_text(json.dumps(spec))
    failed = Result(case=case.label, photo=photo, size=size, megapixels=w * h / 1e6)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.bench_ops", "--worker", str(spec_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        failed.error = f"worker timed out after {WORKER_TIMEOUT_S} s"
        return failed
    if proc.returncode != 0 or not result_path.is_file():
        tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        failed.error = f"worker failed (exit {proc.returncode}): {tail}"
        return failed
    return Result(**json.loads(result_path.read_text()))


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs"


def versions() -> str:
    import cv2
    import numpy
    import PIL

    parts = [
        f"Python {platform.python_version()}",
        f"numpy {numpy.__version__}",
        f"OpenCV {cv2.__version__}",
        f"Pillow {PIL.__version__}",
    ]
    return ", ".join(parts)


def pyvips_status() -> tuple[bool, str]:
    """Whether pyvips imports and works here, with its and libvips' versions or the reason."""
    try:
        import pyvips

        libvips = f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
        pyvips.Image.black(8, 8).jpegsave_buffer()
    except Exception as exc:
        return (
            False,
            f"pyvips UNAVAILABLE ({type(exc).__name__}: {exc}); install pyvips (and pyvips-binary without system libvips)",
        )
    return True, f"pyvips {pyvips.__version__} on libvips {libvips} ({'API' if pyvips.API_mode else 'ABI'} mode)"


def print_table(results: Sequence[Result]) -> None:
    pyvips = {(r.photo, r.size): r for r in results if r.case == PYVIPS and r.ok}
    thumbs = {c.label for c in CASES if c.thumbnail}
    header = [
        "operation",
        "photo",
        "size",
        "ms/image",
        "cpu ms",
        "MP/s",
        "peak MB",
        "+MB",
        "vs pyvips thumbnail",
        "runs (ms, in order)",
    ]
    rows: list[list[str]] = []
    for r in results:
        if not r.ok:
            rows.append([r.case, r.photo, r.size, "ERROR", "", "", "", "", "", r.error])
            continue
        ratio = ""
        if r.case in thumbs:
            ref = pyvips.get((r.photo, r.size))
            ratio = f"{ref.ms / r.ms:.2f}x" if ref is not None and r.ms > 0 else "n/a (no pyvips)"
        cells = [f"{r.ms:.1f}", f"{r.cpu_ms:.1f}", f"{r.mp_per_s:.1f}", f"{r.peak_mb:.0f}", f"{r.delta_mb:.0f}", ratio]
        rows.append([r.case, r.photo, r.size, *cells, " ".join(f"{ms:.0f}" for ms in r.runs_ms)])
    last = len(header) - 1
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(last)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells[:last], widths, strict=True))]
        return "  ".join([*padded, cells[last]]).rstrip()

    print(line(header))
    print(line(["-" * w for w in widths] + ["-" * len(header[last])]))
    for row in rows:
        print(line(row))


def check_targets(results: Sequence[Result], sizes: Sequence[str], photos: Sequence[str], vips_ok: bool) -> list[str]:
    """The target verdicts: PASS, FAIL (missed, or the case failed) or N/A (not measured in this run)."""
    lines: list[str] = []
    by = {(r.case, r.photo, r.size): r for r in results}
    ran = {r.case for r in results}
    retouch_cases = [c for c in CASES if c.kind == "render" and c.label in ran]

    from retouch import ops

    covered = {o["op"] for c in retouch_cases for o in c.operations}
    missing = sorted(set(ops.REGISTRY) - covered)
    lines.append(
        f"{'PASS' if not missing else 'FAIL'}  every registered operation benchmarked in this run"
        + (f" (missing: {', '.join(missing)})" if missing else f" ({', '.join(sorted(covered))})")
    )

    for photo in photos:
        for size in sizes:
            ref = by.get((PYVIPS, photo, size))
            for case in (c for c in retouch_cases if c.thumbnail):
                r = by.get((case.label, photo, size))
                what = f"{case.label} {size} {photo} throughput >= pyvips thumbnail_buffer"
                if not vips_ok or ref is None or not ref.ok:
                    lines.append(
                        f"N/A   {what}: pyvips not measured ({'unavailable' if not vips_ok else ref.error if ref else 'missing'})"
                    )
                elif r is None or not r.ok:
                    lines.append(f"FAIL  {what}: {r.error if r else 'not measured'}")
                else:
                    verdict = "PASS" if r.mp_per_s >= ref.mp_per_s else "FAIL"
                    cpu_ratio = ref.cpu_ms / r.cpu_ms if r.cpu_ms > 0 else 0.0
                    lines.append(
                        f"{verdict}  {what}: {r.mp_per_s:.0f} vs {ref.mp_per_s:.0f} MP/s "
                        f"({ref.ms / r.ms:.2f}x by wall time, {cpu_ratio:.2f}x by CPU time)"
                    )

    for photo in photos:
        what = f"every operation on 24 MP {photo} within {MEMORY_LIMIT_MB:.0f} MB peak RSS"
        if "24MP" not in sizes:
            lines.append(f"N/A   {what}: 24 MP not measured (--quick or --sizes)")
            continue
        measured = [by.get((c.label, photo, "24MP")) for c in retouch_cases]
        errors = [
            f"{c.label}: {r.error if r else 'not measured'}"
            for c, r in zip(retouch_cases, measured, strict=True)
            if not (r and r.ok)
        ]
        ok = [r for r in measured if r is not None and r.ok]
        over = [f"{r.case} {r.peak_mb:.0f} MB" for r in ok if r.peak_mb > MEMORY_LIMIT_MB]
        worst = max(ok, key=lambda r: r.peak_mb, default=None)
        verdict = "PASS" if not over and not errors else "FAIL"
        detail = f"max {worst.case} {worst.peak_mb:.0f} MB" if worst else "nothing measured"
        if over:
            detail += f"; over: {', '.join(over)}"
        if errors:
            detail += f"; errors: {'; '.join(errors)}"
        lines.append(f"{verdict}  {what}: {detail}")

    for photo in photos:
        for label in ("red_eye", "teeth_whitening"):
            what = f"{label} on 12 MP {photo} < {PORTRAIT_LIMIT_MS:.0f} ms on one core"
            r = by.get((label, photo, "12MP"))
            if "12MP" not in sizes or label not in ran:
                lines.append(f"N/A   {what}: not measured in this run")
            elif r is None or not r.ok:
                lines.append(f"FAIL  {what}: {r.error if r else 'not measured'}")
            else:
                verdict = "PASS" if r.ms < PORTRAIT_LIMIT_MS else "FAIL"
                lines.append(f"{verdict}  {what}: {r.ms:.0f} ms wall, {r.cpu_ms:.0f} ms CPU")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ops", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=None, help="timed runs per case (median reported); default 3, 1 with --quick")
    parser.add_argument("--quick", action="store_true", help="12 MP only, one run each (CI smoke)")
    parser.add_argument("--sizes", default=None, help=f"comma-separated subset of {','.join(SIZES)}")
    parser.add_argument("--photos", default=",".join(PHOTOS), help=f"comma-separated subset of {','.join(PHOTOS)}")
    parser.add_argument("--only", default="", help="comma-separated substrings of case labels to run (baselines always run)")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.sizes = (args.sizes or ("12MP" if args.quick else ",".join(DEFAULT_SIZES))).split(",")
    args.photos = args.photos.split(",")
    for s in args.sizes:
        if s not in SIZES:
            parser.error(f"unknown size {s!r}; choose from {', '.join(SIZES)}")
    for p in args.photos:
        if p not in PHOTOS:
            parser.error(f"unknown photo {p!r}; choose from {', '.join(PHOTOS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args.worker)

    started = time.monotonic()
    load_before = load_average()
    vips_ok, vips_text = pyvips_status()
    only = [s for s in args.only.split(",") if s]
    cases = [c for c in CASES if c.kind != "render" or not only or any(s in c.label for s in only)]

    with tempfile.TemporaryDirectory(prefix="bench-ops-") as tmp:
        workdir = Path(tmp)
        files: dict[str, Path] = {}
        sizes_text: list[str] = []
        for photo in args.photos:
            for size in ["warmup", *args.sizes]:
                body = jpeg_bytes(photo_pixels(photo, WARMUP_SIZE if size == "warmup" else SIZES[size]))
                files[f"{photo}-{size}"] = workdir / f"{photo}-{size}.jpg"
                files[f"{photo}-{size}"].write_bytes(body)
                if size != "warmup":
                    sizes_text.append(f"{photo} {size} {len(body) / 1e6:.2f} MB")
        env = {**os.environ, **ONE_CORE_ENV, **colorize_library_env(workdir)}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path.cwd()), env.get("PYTHONPATH", "")) if p)

        results: list[Result] = []
        for photo in args.photos:
            for size in args.sizes:
                for case in cases:
                    if case.kind == "pyvips" and not vips_ok:
                        results.append(Result(case.label, photo, size, SIZES[size][0] * SIZES[size][1] / 1e6, error=vips_text))
                        continue
                    print(f"  {case.label} {photo} {size} ...", file=sys.stderr, flush=True)
                    results.append(run_worker(len(results), case, photo, size, files, args.runs, workdir, env))

    print()
    print(f"Retouch operation benchmark: {args.runs} timed run(s) per row (median), one core per worker process")
    print(f"  {versions()}; {vips_text}")
    print(f"  one-core settings: {' '.join(f'{k}={v}' for k, v in ONE_CORE_ENV.items())} + cv2.setNumThreads(1)")
    print(
        f"  source JPEGs (LANCZOS upscale, quality {SOURCE_QUALITY}): {'; '.join(sizes_text)};",
        f"output JPEG quality {OUTPUT_QUALITY}",
    )
    print(f"  load average before: {load_before}")
    print()
    print_table(results)
    print()
    print(
        "peak MB: worker's lifetime peak RSS (VmHWM, MiB); +MB: peak during the timed runs over the RSS after imports + warm-up."
    )
    print("vs pyvips thumbnail: pyvips wall time / this row's wall time at the same photo and size (>1 = faster than pyvips).")
    print()
    for line in check_targets(results, args.sizes, args.photos, vips_ok):
        print(line)
    print()
    print(f"load average after: {load_average()}; total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
