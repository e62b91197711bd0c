"""Evaluate ``colorize`` on held-out photos and on scikit-image's, and time it on 12 MP images.

**Auto mode on photos it never saw** (the default): the held-out splits of
``training/colorize_data.json`` (openly licensed photos, package, version, file and licence per
photo in the list; fetched by ``training.colorize_data``; none trained on), each reported on its
own (``--sets``, default the first three): ``val`` (24 photos; the export's and the run-time
corrections' settings were chosen on them), ``tune`` (6; may be tuned on), ``test`` (22; meant
never to be tuned on, but looked at more than once, so these 52 photos are now the development
set) and ``test2`` (19, from packages no other split uses; evaluated once, with every setting
fixed: the independent figure; only when named, ``--sets test2``). Each is shrunk to at most
:data:`EVAL_SIDE` px, turned grey (``round(rgb2gray * 255)``), and colorized by ``before`` (the
reference library built from scikit-image's photos; or, with ``--before-model OLD.onnx``, an
earlier model) and ``after`` (the packaged model with the corrections of
:mod:`retouch.ops.colorize.natural`). Per photo and on average it prints the a*b* error against
the true photo (mean Euclidean a*b* distance; the grey input's error is the truth's mean
chroma), the Hasler-Suesstrunk colourfulness M and the ratio M(result) / M(truth), and how many
photos ``after`` beats grey on (lower a*b* error than leaving the photo grey).

**Monochrome or colour** (same photos): every true photo, in colour, must come back unchanged
with ``already_in_colour``; sepia, selenium, cyanotype and yellowed versions of its grey must be
detected as monochrome and coloured like the grey itself; a featureless grey image (flat grey
with noise) must stay calm (its largest chroma is printed).

**All modes on scikit-image's photos:**

For each photo the true colours are removed (grey = round(rgb2gray * 255)) and restored by each
mode; the table shows

* ``L PSNR``: PSNR of CIE L* of the result against the grey input (peak 100; L* is preserved);
* ``colourful``: Hasler & Süsstrunk (2003) colourfulness of the result (grey input: 0; the true
  photo's value is printed in the ``truth`` row);
* ``ab err``: mean Euclidean a*b* error against the true photo (the grey baseline is a*b* = 0).

Modes: ``ref-self`` (the photo itself, hue rotated 10 degrees, chroma x1.15, mirrored),
``ref-other`` (the next photo in the list), ``auto-lib`` (library retrieval; the photo itself is
in the library, so this is an optimistic case), ``auto-lib-loo`` (library without the photo:
leave-one-out), ``hints-16`` (16 hints on a jittered 4x4 grid, coloured from the true photo).

The photos of ``lomiri-wallpapers*`` and ``libdlib*`` are not used here, nor anywhere in the
colorize work.

Usage: ``python -m bench.eval_colorize [--no-timing] [--no-modes] [--no-held-out] [--sets val,tune,test]
[--before-model OLD.onnx]``;
needs scikit-image (dev dependency), ``apt-get`` and ``dpkg`` for the held-out photos and, for
the tiny-model timing, ``onnx``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from skimage import color, data  # noqa: E402

from retouch.ops.colorize import colorfulness, colorize  # noqa: E402
from retouch.ops.context import ChainContext  # noqa: E402
from retouch.settings import OperationSettings  # noqa: E402
from retouch_testkit.tints import TONES, toned  # noqa: E402
from training import colorize_library  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
EVAL_SIDE = 768
HELD_OUT = Path("build/colorize-data")
SETS = ("val", "tune", "test", "test2")
DEVELOPMENT_SETS = ("val", "tune", "test")
"""The splits settings were chosen on (the default); ``test2`` is only evaluated when named."""


def grey(rgb: np.ndarray) -> np.ndarray:
    g = np.rint(color.rgb2gray(rgb) * 255).astype(np.uint8)
    return np.dstack([g, g, g])


def jitter_colours(rgb: np.ndarray, degrees: float = 10.0, chroma: float = 1.15) -> np.ndarray:
    lab = color.rgb2lab(rgb)
    angle = np.deg2rad(degrees)
    a, b = lab[..., 1].copy(), lab[..., 2].copy()
    lab[..., 1] = chroma * (a * np.cos(angle) - b * np.sin(angle))
    lab[..., 2] = chroma * (a * np.sin(angle) + b * np.cos(angle))
    out = np.clip(color.lab2rgb(lab) * 255, 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(out[:, ::-1])


def grid_hints(truth: np.ndarray, n: int = 4, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    h, w = truth.shape[:2]
    items = []
    for i in range(n):
        for j in range(n):
            x = int((j + 0.2 + 0.6 * rng.random()) * w / n)
            y = int((i + 0.2 + 0.6 * rng.random()) * h / n)
            r, g, b = (int(v) for v in truth[y, x])
            items.append(f"{x},{y},#{r:02x}{g:02x}{b:02x}")
    return ";".join(items)


def metrics(result: np.ndarray, g: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    lab = color.rgb2lab(result)
    mse = np.mean((lab[..., 0] - color.rgb2lab(g)[..., 0]) ** 2)
    psnr = 10 * np.log10(100.0**2 / max(float(mse), 1e-12))
    err = float(np.mean(np.linalg.norm(lab[..., 1:] - color.rgb2lab(truth)[..., 1:], axis=-1)))
    return float(psnr), colorfulness(result), err


def with_library(path: Path) -> ChainContext:
    """A chain context whose ``auto`` colorize uses the reference library at ``path``."""
    return ChainContext(settings=OperationSettings(colorize_library_path=str(path)))


def evaluate(workdir: Path) -> None:
    photos = {name: np.asarray(getattr(data, name)()) for name in PHOTOS}
    full_lib = colorize_library.save_library(colorize_library.build_library(), workdir / "library.npz")
    print(f"{'photo':<10} {'mode':<13} {'L PSNR':>8} {'colourful':>10} {'ab err':>8}")
    for k, name in enumerate(PHOTOS):
        truth = photos[name]
        g = grey(truth)
        base = metrics(g, g, truth)
        print(f"{name:<10} {'truth':<13} {'':>8} {colorfulness(truth):>10.1f} {0.0:>8.1f}")
        print(f"{name:<10} {'grey':<13} {'inf':>8} {base[1]:>10.1f} {base[2]:>8.1f}")
        loo = colorize_library.save_library(
            colorize_library.library_from_images([(n, photos[n]) for n in PHOTOS if n != name]), workdir / f"loo-{name}.npz"
        )
        results = {
            "ref-self": colorize(g, mode="reference", reference=jitter_colours(truth)),
            "ref-other": colorize(g, mode="reference", reference=photos[PHOTOS[(k + 1) % len(PHOTOS)]]),
            "auto-lib": colorize(g, mode="auto", context=with_library(full_lib)),
            "auto-lib-loo": colorize(g, mode="auto", context=with_library(loo)),
            "hints-16": colorize(g, mode="hints", hints=grid_hints(truth)),
        }
        for mode, result in results.items():
            psnr, colourful, err = metrics(result, g, truth)
            print(f"{name:<10} {mode:<13} {psnr:>8.1f} {colourful:>10.1f} {err:>8.1f}")


def _shrink(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(1.0, EVAL_SIDE / max(h, w))
    if scale == 1.0:
        return rgb
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def own_held_out(split: str = "val") -> list[tuple[str, np.ndarray]]:
    """A held-out split of the training list (``python -m training.colorize_data`` fetches it)."""
    subprocess.run([sys.executable, "-m", "training.colorize_data", "--split", split], check=True)  # skips what is there
    photos = []
    for path in sorted((HELD_OUT / split).glob("*.png")):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert bgr is not None, path
        photos.append((path.stem, _shrink(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))))
    return photos


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def ab_err(result: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.linalg.norm(_lab(result)[..., 1:] - _lab(truth)[..., 1:], axis=-1)))


def with_model(path: Path) -> ChainContext:
    """A chain context whose ``auto`` colorize runs the ONNX model at ``path``."""
    return ChainContext(settings=OperationSettings(colorize_model_path=str(path)))


def evaluate_auto_held_out(
    workdir: Path, photos: list[tuple[str, np.ndarray]], before_model: Path | None = None, split: str = "val"
) -> None:
    """Auto mode before (library, or ``before_model``) and after (packaged model) on photos never trained on."""
    if before_model is None:
        library = colorize_library.save_library(colorize_library.build_library(), workdir / "library.npz")
        print("before = the reference library (scikit-image's photos); after = the packaged model + natural corrections")
    else:
        print(f"before = {before_model}; after = the packaged model + natural corrections")
    print(f"\nheld-out split {split} (training/colorize_data.json; never trained on)")
    header = ("grey err", "before", "after", "M truth", "M before", "M after", "ratio")
    print(f"{'photo':<34} " + " ".join(f"{h:>8}" for h in header))
    rows = []
    for name, truth in photos:
        g = grey(truth)
        if before_model is None:
            before = colorize(g, mode="auto", context=with_library(library))
        else:
            before = colorize(g, mode="auto", context=with_model(before_model))
        after = colorize(g, mode="auto")
        errors = [ab_err(image, truth) for image in (g, before, after)]
        colourful = [colorfulness(image) for image in (truth, before, after)]
        row = np.array([*errors, *colourful, colourful[2] / max(colourful[0], 1e-6)])
        rows.append(row)
        print(f"{name[:34]:<34} " + " ".join(f"{v:>8.2f}" for v in row), flush=True)
    table = np.array(rows)
    print(f"{'mean of ' + str(len(rows)) + ' photos':<34} " + " ".join(f"{v:>8.2f}" for v in table.mean(axis=0)))
    beats = int(np.sum(table[:, 2] < table[:, 0]))
    print(
        f"{split}: after beats grey (lower a*b* error) on {beats}/{len(rows)} photos ({100 * beats / len(rows):.0f} %); "
        f"mean colourfulness ratio M(after)/M(truth) {table[:, 6].mean():.2f} (median {np.median(table[:, 6]):.2f}); "
        f"err = mean a*b* distance to the truth"
    )


def _jpeg(rgb: np.ndarray, quality: int = 85) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert ok and decoded is not None
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def monochrome_or_colour(photos: list[tuple[str, np.ndarray]]) -> None:
    """Colour photos unchanged; tinted monochrome (as JPEG) coloured as grey; a flat grey image calm."""
    from retouch.ops.colorize.tint import is_monochrome, residual_chroma

    unchanged = 0
    detected = {tone: 0 for tone in TONES}
    differences: list[float] = []
    residuals: list[float] = []
    for _, truth in photos:
        context = ChainContext()
        unchanged += int(np.array_equal(colorize(truth, context=context), truth) and bool(context.outcome.already_in_colour))
        residuals.append(residual_chroma(truth))
        g = grey(truth)
        from_grey = colorize(g)
        for tone, (dark, light) in TONES.items():
            print_ = _jpeg(toned(g, dark, light))
            detected[tone] += int(is_monochrome(print_))
            differences.append(float(np.abs(colorize(print_).astype(int) - from_grey).mean()))
    n = len(photos)
    print(f"\nmonochrome or colour, on the same {n} photos")
    print(
        f"  colour photos returned unchanged with already_in_colour: {unchanged}/{n} (residual chroma min {min(residuals):.1f})"
    )
    for tone, count in detected.items():
        print(f"  {tone} version of the grey (JPEG q85) treated as monochrome: {count}/{n}")
    print(f"  tinted result vs the grey's result: mean |RGB difference| {np.mean(differences):.2f} (max {max(differences):.2f})")
    rng = np.random.default_rng(0)
    flat = np.clip(128 + rng.normal(0, 2, (480, 640)), 0, 255).astype(np.uint8)
    lab = _lab(colorize(np.dstack([flat] * 3)))
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    print(f"  featureless grey image (128 +- 2): chroma mean {chroma.mean():.2f}, max {chroma.max():.2f} (Lab units)")


def tiny_model(path: Path) -> Path | None:
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["data_l", "W", "B"], ["conv"]),
            helper.make_node("AveragePool", ["conv"], ["ab"], kernel_shape=[4, 4], strides=[4, 4]),
        ],
        "tiny",
        [helper.make_tensor_value_info("data_l", TensorProto.FLOAT, [1, 1, 224, 224])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, [1, 2, 56, 56])],
        [
            numpy_helper.from_array(np.array([0.3, -0.2], np.float32).reshape(2, 1, 1, 1), "W"),
            numpy_helper.from_array(np.array([5, 10], np.float32), "B"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def timing(workdir: Path, repeats: int = 3) -> None:
    cv2.setNumThreads(1)
    photo = np.asarray(data.coffee())
    big = cv2.resize(grey(photo), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    reference = np.asarray(data.astronaut())
    library = colorize_library.save_library(colorize_library.build_library(), workdir / "library.npz")
    model = tiny_model(workdir / "tiny.onnx")
    portrait = cv2.resize(grey(reference), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    runs: dict[str, Callable[[], np.ndarray]] = {
        "auto (packaged model)": lambda: colorize(big),
        "auto (model, one face)": lambda: colorize(portrait),
        "reference": lambda: colorize(big, mode="reference", reference=reference),
        "hints (16)": lambda: colorize(big, mode="hints", hints=grid_hints(cv2.resize(photo, (4000, 3000)))),
        "auto (library)": lambda: colorize(big, mode="auto", context=with_library(library)),
    }
    if model is not None:
        runs["auto (tiny ONNX model)"] = lambda: colorize(big, mode="auto", context=with_model(model))
    print(f"\ntiming on a 4000x3000 grey image, one core (cv2.setNumThreads(1), BLAS 1 thread), best of {repeats}:")
    for mode, run in runs.items():
        run()  # warm up caches (library, model, gamut table)
        best = min(_timed(run) for _ in range(repeats))
        print(f"  {mode:<24} {best:6.2f} s")


def _timed(fn: Callable[[], np.ndarray]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-timing", action="store_true", help="skip the 12 MP timing")
    parser.add_argument("--no-modes", action="store_true", help="skip all modes on scikit-image's photos")
    parser.add_argument("--no-held-out", action="store_true", help="skip auto mode on held-out photos")
    parser.add_argument(
        "--sets",
        default=",".join(DEVELOPMENT_SETS),
        help=f"held-out splits to report, comma-separated, of {', '.join(SETS)} (default: {', '.join(DEVELOPMENT_SETS)})",
    )
    parser.add_argument("--before-model", type=Path, help="an earlier ONNX model for the 'before' column (default: the library)")
    args = parser.parse_args()
    os.environ.pop("COLORIZE_MODEL_PATH", None)
    os.environ.pop("COLORIZE_LIBRARY_PATH", None)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_held_out:
            for split in args.sets.split(","):
                evaluate_auto_held_out(Path(tmp), own_held_out(split), args.before_model, split)
            monochrome_or_colour(own_held_out("val"))
        if not args.no_modes:
            evaluate(Path(tmp))
        if not args.no_timing:
            timing(Path(tmp))


if __name__ == "__main__":
    main()
