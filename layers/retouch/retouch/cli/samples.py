"""Sample photographs for demos, tests and benchmarks, made from photos installed offline.

scikit-image ships a few real, freely licensed photographs (``astronaut``, ``coffee``,
``chelsea``, ``rocket``, and the grayscale ``camera``). Variants - crops, mirror images, sizes
from thumbnail to multi-megapixel, JPEG/PNG/WebP, grayscale, alpha and EXIF-rotated files -
make a varied set of any size.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")
LONG_SIDES = (640, 1024, 1600, 2400, 800, 1280)


def photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled photos as an RGB uint8 array."""
    from skimage import data  # dev/CLI dependency, imported only here

    loader: Callable[[], np.ndarray] = getattr(data, name)
    img = loader()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def variant(index: int) -> tuple[Image.Image, str, dict[str, object]]:
    """The ``index``-th sample: (image, format, save options)."""
    base = photo(PHOTOS[index % len(PHOTOS)])
    rng = np.random.default_rng(index)
    h, w = base.shape[:2]
    # a random crop keeping at least 70 % of each side
    cw, ch = int(w * rng.uniform(0.7, 1.0)), int(h * rng.uniform(0.7, 1.0))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    arr = base[y : y + ch, x : x + cw]
    if index % 2:
        arr = arr[:, ::-1]
    im = Image.fromarray(np.ascontiguousarray(arr))
    side = LONG_SIDES[index % len(LONG_SIDES)]
    scale = side / max(im.size)
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS)
    kind = index % 12
    if kind == 5:
        return im.convert("L"), "JPEG", {"quality": 90}
    if kind == 7:
        rgba = im.convert("RGBA")
        alpha = Image.linear_gradient("L").resize(im.size)
        rgba.putalpha(alpha)
        return rgba, "PNG", {}
    if kind == 9:
        return im, "WEBP", {"quality": 85}
    if kind == 11:
        # stored rotated, with an EXIF orientation tag that puts it upright again
        exif = Image.Exif()
        exif[0x0112] = 6
        return im.transpose(Image.Transpose.ROTATE_90), "JPEG", {"quality": 88, "exif": exif.tobytes()}
    return im, "JPEG", {"quality": int(rng.integers(75, 95))}


EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def write_samples(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        im, fmt, options = variant(i)
        path = folder / f"sample-{i:03d}-{PHOTOS[i % len(PHOTOS)]}.{EXTENSIONS[fmt]}"
        buf = io.BytesIO()
        im.save(buf, fmt, **options)
        path.write_bytes(buf.getvalue())
        paths.append(path)
    return paths
