"""Fetch the colorize training photos listed in ``training/colorize_data.json``.

    .venv/bin/python -m training.colorize_data [--out build/colorize-data]

Downloads each Debian package at the pinned version (``apt-get download NAME=VERSION``), unpacks
it with ``dpkg -x`` into ``<out>/debs``, and writes every listed photo, shrunk so that its longest
side is at most :data:`MAX_SIDE` pixels, as ``<out>/<split>/<name>.png`` (scikit-image's photos
come from the installed package). Already fetched packages and photos are skipped, so the
command can be re-run. Reserved evaluation sources (``lomiri-wallpapers*``, ``libdlib*``) are
refused.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
from pathlib import Path

import cv2
import numpy as np

LIST = Path(__file__).with_name("colorize_data.json")
MAX_SIDE = 512
RESERVED = ("lomiri-wallpapers", "libdlib")

log = logging.getLogger("colorize_data")


def photo_name(entry: dict[str, str]) -> str:
    """A short unique file stem for a listed photo."""
    file = entry["file"]
    if file.startswith("skimage.data."):
        return "skimage-" + file.rsplit(".", 1)[1]
    parts = Path(file).parts
    stem = parts[parts.index("wallpapers") + 1] if "wallpapers" in parts else Path(file).stem
    if "html" in parts:  # opencv-doc's documentation images: keep their folder, names repeat
        stem = "-".join(parts[parts.index("html") + 1 :])[: -len(Path(file).suffix)]
    return f"{entry['package'].split('-')[0]}-{stem}"


def _unpack(package: str, version: str, debs: Path) -> Path:
    target = debs / package
    if target.is_dir():
        return target
    debs.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s=%s", package, version)
    subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=debs, check=True, capture_output=True)
    deb = next(debs.glob(f"{package}_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
    return target


def _load(entry: dict[str, str], debs: Path) -> np.ndarray:
    if entry["file"].startswith("skimage.data."):
        from skimage import data

        return np.asarray(getattr(data, entry["file"].rsplit(".", 1)[1])())[:, :, :3]
    root = _unpack(entry["package"], entry["version"], debs)
    bgr = cv2.imread(str(root / entry["file"]), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(root / entry["file"])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def fetch(out: Path) -> list[Path]:
    """Fetch every listed photo into ``out``; returns the written paths."""
    photos = json.loads(LIST.read_text())["photos"]
    written = []
    for number, entry in enumerate(photos, start=1):
        if entry["package"].startswith(RESERVED):
            raise SystemExit(f"{entry['package']} is reserved for evaluation and must not be used for training")
        path = out / entry["split"] / f"{photo_name(entry)}.png"
        if not path.exists():
            rgb = _load(entry, out / "debs")
            h, w = rgb.shape[:2]
            scale = min(1.0, MAX_SIDE / max(h, w))
            if scale < 1.0:
                rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        log.info("[%d/%d] %s", number, len(photos), path)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("build/colorize-data"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    written = fetch(args.out)
    log.info("%d photos in %s (train/ and val/)", len(written), args.out)


if __name__ == "__main__":
    main()
