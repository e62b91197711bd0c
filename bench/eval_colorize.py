"""Evaluate ``colorize`` on held-out photos and on scikit-image's, and time it on 12 MP images.

**Auto mode on photos it never saw** (``--held-out``, the default): the ``val`` split of
``training/colorize_data.json`` (fetched by ``training.colorize_data``; never trained on) and
photos reserved for evaluation, which nothing in Retouch is built from: the photographs of the
``lomiri-wallpapers*`` packages and dlib's example photos (``libdlib19.1``), fetched here with
``apt-get download NAME=VERSION`` and ``dpkg -x`` into ``build/eval-photos``. Each is shrunk to
at most :data:`EVAL_SIDE` px, turned grey, and colorized by ``before`` (the reference library
built from scikit-image's photos: the former ``auto``; or, with ``--before-model OLD.onnx``, an
earlier model, to compare a retrained model with the one it replaces) and ``after`` (the packaged
model). The table shows the mean a*b* error against the true photo (the grey input's error is the mean
chroma) and Hasler-Suesstrunk colourfulness against the truth's.

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

Usage: ``python -m bench.eval_colorize [--no-timing] [--no-modes] [--before-model OLD.onnx]``; needs scikit-image (dev
dependency), ``apt-get`` and ``dpkg`` for the reserved photos and, for the tiny-model timing,
``onnx``.
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

from bench.photos import DLIB, LOMIRI_16, LOMIRI_20, load  # noqa: E402
from retouch.ops.colorize import colorfulness, colorize  # noqa: E402
from retouch.ops.context import ChainContext  # noqa: E402
from retouch.settings import OperationSettings  # noqa: E402
from training import colorize_library  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
EVAL_SIDE = 768
OWN_HELD_OUT = Path("build/colorize-data/val")

# photographs (not illustrations) of the packages reserved for evaluation
RESERVED: dict[tuple[str, str], tuple[str, ...]] = {
    LOMIRI_16: tuple(
        f"usr/share/backgrounds/{name}.jpg"
        for name in (
            "Bridge_by_Sander_Klootwijk",
            "Dragonfly_by_Bolly",
            "Picture_0B_by_freespace",
            "Picture_1A_by_freespace",
            "Wine_by_Jakkub_Mede",
            "aitzgorri_by_Aitzol_Berasategi",
            "friends_by_Aitzol_Berasategi",
            "greentock_by_Peter_Nerlich",
            "life_by_Aitzol_Berasategi",
            "picosdeeuropa_by_Aitzol_Berasategi",
            "seeding_by_Clements_Engelhardt",
            "sunset_by_Aitzol_Berasategi",
        )
    ),
    LOMIRI_20: ("usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",),
    DLIB: tuple(
        f"usr/share/doc/libdlib19.1/examples/{name}.jpg"
        for name in (
            "faces/2008_002079",
            "faces/2008_002470",
            "faces/2008_004176",
            "faces/2008_007676",
            "faces/2009_004587",
            "faces/bald_guys",
            "faces/dogs",
            "mmod_cars_test_image",
        )
    ),
}


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
        runs: dict[str, Callable[[], np.ndarray]] = {
            "ref-self": lambda t=truth, g=g: colorize(g, mode="reference", reference=jitter_colours(t)),
            "ref-other": lambda g=g, o=photos[PHOTOS[(k + 1) % len(PHOTOS)]]: colorize(g, mode="reference", reference=o),
            "auto-lib": lambda g=g: colorize(g, mode="auto", context=with_library(full_lib)),
            "auto-lib-loo": lambda g=g, loo=loo: colorize(g, mode="auto", context=with_library(loo)),
            "hints-16": lambda t=truth, g=g: colorize(g, mode="hints", hints=grid_hints(t)),
        }
        for mode, run in runs.items():
            psnr, colourful, err = metrics(run(), g, truth)
            print(f"{name:<10} {mode:<13} {psnr:>8.1f} {colourful:>10.1f} {err:>8.1f}")


def _shrink(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(1.0, EVAL_SIDE / max(h, w))
    if scale == 1.0:
        return rgb
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def reserved_photos() -> list[tuple[str, np.ndarray]]:
    """The reserved evaluation photos (see :mod:`bench.photos`)."""
    return [(Path(file).stem[:24], load(source, file, EVAL_SIDE)) for source, files in RESERVED.items() for file in files]


def own_held_out() -> list[tuple[str, np.ndarray]]:
    """The ``val`` split of the training list (``python -m training.colorize_data`` fetches it)."""
    subprocess.run([sys.executable, "-m", "training.colorize_data", "--split", "val"], check=True)  # skips what is there
    photos = []
    for path in sorted(OWN_HELD_OUT.glob("*.png")):
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


def evaluate_auto_held_out(workdir: Path, before_model: Path | None = None) -> None:
    """Auto mode before (library, or ``before_model``) and after (packaged model) on photos never used for building."""
    if before_model is None:
        library = colorize_library.save_library(colorize_library.build_library(), workdir / "library.npz")
        print("before = the reference library (scikit-image's photos); after = the packaged model")
    else:
        print(f"before = {before_model}; after = the packaged model")
    sets = {"own held-out split (training/colorize_data.json, split=val)": own_held_out()}
    sets["reserved for evaluation (lomiri-wallpapers*, libdlib19.1)"] = reserved_photos()
    for title, photos in sets.items():
        print(f"\n{title}")
        print(f"{'photo':<26} {'grey err':>8} {'before':>8} {'after':>8} {'M truth':>8} {'M before':>8} {'M after':>8}")
        totals = np.zeros(6)
        beats = 0
        for name, truth in photos:
            g = grey(truth)
            if before_model is None:
                before = colorize(g, mode="auto", context=with_library(library))
            else:
                before = colorize(g, mode="auto", context=with_model(before_model))
            after = colorize(g, mode="auto")
            errors = [ab_err(image, truth) for image in (g, before, after)]
            row = np.array([*errors, *(colorfulness(image) for image in (truth, before, after))])
            totals += row
            beats += int(row[2] < row[0])
            print(f"{name:<26} " + " ".join(f"{v:>8.1f}" for v in row), flush=True)
        mean = totals / len(photos)
        print(f"{'mean of ' + str(len(photos)) + ' photos':<26} " + " ".join(f"{v:>8.1f}" for v in mean))
        print(f"after beats grey on {beats}/{len(photos)} photos; err = mean a*b* distance to the truth; M = colourfulness")


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
    runs: dict[str, Callable[[], np.ndarray]] = {
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
    parser.add_argument("--before-model", type=Path, help="an earlier ONNX model for the 'before' column (default: the library)")
    args = parser.parse_args()
    os.environ.pop("COLORIZE_MODEL_PATH", None)
    os.environ.pop("COLORIZE_LIBRARY_PATH", None)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_held_out:
            evaluate_auto_held_out(Path(tmp), args.before_model)
        if not args.no_modes:
            evaluate(Path(tmp))
        if not args.no_timing:
            timing(Path(tmp))


if __name__ == "__main__":
    main()
