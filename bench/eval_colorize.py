"""Evaluate ``colorize`` on scikit-image's colour photos, and time it on 12 MP images on one core.

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

Usage: ``python bench/eval_colorize.py [--no-timing]``; needs scikit-image (dev dependency) and,
for the model timing, ``onnx``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from skimage import color, data  # noqa: E402

from retouch.ops import colorize_library  # noqa: E402
from retouch.ops.colorize import colorfulness, colorize  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


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


def with_library(path: Path, fn: Callable[[], np.ndarray]) -> np.ndarray:
    os.environ["COLORIZE_LIBRARY_PATH"] = str(path)
    try:
        return fn()
    finally:
        del os.environ["COLORIZE_LIBRARY_PATH"]


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
            "auto-lib": lambda g=g: with_library(full_lib, lambda: colorize(g, mode="auto")),
            "auto-lib-loo": lambda g=g, loo=loo: with_library(loo, lambda: colorize(g, mode="auto")),
            "hints-16": lambda t=truth, g=g: colorize(g, mode="hints", hints=grid_hints(t)),
        }
        for mode, run in runs.items():
            psnr, colourful, err = metrics(run(), g, truth)
            print(f"{name:<10} {mode:<13} {psnr:>8.1f} {colourful:>10.1f} {err:>8.1f}")


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
        "auto (library)": lambda: with_library(library, lambda: colorize(big, mode="auto")),
    }
    if model is not None:

        def run_model() -> np.ndarray:
            os.environ["COLORIZE_MODEL_PATH"] = str(model)
            try:
                return colorize(big, mode="auto")
            finally:
                del os.environ["COLORIZE_MODEL_PATH"]

        runs["auto (tiny ONNX model)"] = run_model
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
    args = parser.parse_args()
    os.environ.pop("COLORIZE_MODEL_PATH", None)
    with tempfile.TemporaryDirectory() as tmp:
        evaluate(Path(tmp))
        if not args.no_timing:
            timing(Path(tmp))


if __name__ == "__main__":
    main()
