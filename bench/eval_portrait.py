"""Evaluate the portrait operations on real photos with synthetic defects of known extent.

    .venv/bin/python -m bench.eval_portrait [--no-timing-scenes] [--no-real]

Real photos (``--no-real`` skips them), fetched with :mod:`bench.photos`:

the group photos of Debian's ``opencv-doc`` (``html/2.jpg``, 24 faces of 48-84 px;
``html/3.jpg``, 12 faces of 40-55 px) and scikit-image's astronaut. (The packages reserved for
evaluation by others, :data:`bench.photos.RESERVED_PACKAGES`, are not used.)

Red eye: pupils painted over every detected iris in three strengths of red (strong
(190, 25, 30), medium (160, 55, 50), dark (110, 30, 30)) and, with ``cat_eye=True``, golden
(225, 185, 80) and white (235, 232, 222) flash pupils; the photo is then analysed afresh (the
painted pupils can move the iris fit) and corrected. Printed: eyes fixed / painted (mean
redness in the painted core below 0.25; for golden/white pupils mean luma below 100) and
PSNR outside the eye windows; and, on the photo as it is, how many eyes ``cat_eye=True``
touches anyway (false positives). Teeth: every face whose mouth is open and shows teeth gets
+12, +18 or +24 b* (and -3 L*) inside the teeth; printed: mean b* before -> after and PSNR
outside the inner lips; faces with closed mouths must come back unchanged.

Synthetic scenes (scikit-image's bundled public-domain photos):

Scenes (all offline: scikit-image's bundled public-domain photos):

* ``astronaut``: red pupils painted over the detected irises (with a white catch-light), a
  red patch painted on the shirt, and the teeth yellowed (+18 b*, -3 L* inside the teeth).
* ``collage``: copies of the astronaut's face at 40 to 250 px wide on a plain background,
  each with red pupils.
* ``astronaut 12 MP``: the astronaut upscaled to 4000x3000, same defects, for timings.
* ``coffee``: no faces; both operations must leave it unchanged.

Printed: red eyes fixed / painted, teeth yellowness (mean b* in the teeth mask) before and
after and the share removed, PSNR outside the touched regions, faces found / placed, and
timings on one core. The helpers that paint the defects are in :mod:`retouch_testkit.portrait`,
which the tests use too.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import cv2
import numpy as np
from skimage import data

from bench.photos import OPENCV_DOC, load
from retouch.ops import faces as face_analysis
from retouch.ops.faces import Face
from retouch.ops.portrait import teeth
from retouch.ops.portrait.eyes import red_eye
from retouch.ops.portrait.pupils import redness
from retouch_testkit.portrait import (
    ASTRONAUT_FACE_CROP,  # noqa: F401 - other benches import it from here
    EYE_FIXED_REDNESS,
    collage,
    disc_mask,
    eye_disc,
    eye_windows,
    eyes_darkened,
    eyes_fixed,
    lab,
    matched,
    paint_red_eyes,
    paint_red_patch,
    psnr,
    teeth_region,
    yellow_teeth,
)

# --------------------------------------------------------------------------- scenes


def astronaut_12mp() -> np.ndarray:
    """The astronaut's top 512x384 upscaled 7.8x to 4000x3000 (12 MP, aspect kept)."""
    return cv2.resize(data.astronaut()[:384], (4000, 3000), interpolation=cv2.INTER_CUBIC)


# --------------------------------------------------------------------------- evaluation


@dataclass
class Row:
    scene: str
    faces: str = "-"
    eyes: str = "-"
    teeth_b: str = "-"
    removed: str = "-"
    psnr_red_eye: str = "-"
    psnr_teeth: str = "-"
    red_patch: str = "-"
    seconds: str = "-"


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def evaluate_face_photo(name: str, image: np.ndarray, patch_box: tuple[int, int, int, int]) -> Row:
    faces = face_analysis.detect_faces(image)
    row = Row(name, faces=f"{len(faces)}/1")
    painted, discs = paint_red_eyes(image, faces)
    painted = paint_red_patch(painted, patch_box)
    fixed, t_red = _timed(red_eye, painted)
    outside = ~eye_windows(image.shape, faces)
    x, y, w, h = patch_box
    patch_red = float(redness(fixed[y : y + h, x : x + w]).mean())
    row.eyes = f"{eyes_fixed(fixed, discs)}/{len(discs)}"
    row.psnr_red_eye = f"{psnr(painted, fixed, outside):.1f}"
    row.red_patch = f"{patch_red:.2f}"

    mask = teeth_region(image, faces[0])
    yellowed = yellow_teeth(image, mask)
    whitened, t_teeth = _timed(teeth.teeth_whitening, yellowed)
    b_before = float(lab(yellowed)[..., 2][mask].mean())
    b_after = float(lab(whitened)[..., 2][mask].mean())
    lips = np.zeros(image.shape[:2], np.uint8)
    assert faces[0].inner_lips is not None
    cv2.fillPoly(lips, [np.round(faces[0].inner_lips * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
    row.teeth_b = f"{b_before:.1f} -> {b_after:.1f}"
    row.removed = f"{100 * (b_before - b_after) / b_before:.0f}%"
    row.psnr_teeth = f"{psnr(yellowed, whitened, ~lips.astype(bool)):.1f}"
    row.seconds = f"red_eye {t_red:.2f}, teeth {t_teeth:.2f}"
    return row


def evaluate_collage() -> Row:
    img, placed = collage()
    faces = face_analysis.detect_faces(img)
    painted, discs = paint_red_eyes(img, faces)
    fixed, t_red = _timed(red_eye, painted)
    outside = ~eye_windows(img.shape, faces)
    return Row(
        "collage 1024x768, faces 40-250 px",
        faces=f"{matched(placed, faces)}/{len(placed)}",
        eyes=f"{eyes_fixed(fixed, discs)}/{len(discs)}",
        psnr_red_eye=f"{psnr(painted, fixed, outside):.1f}",
        seconds=f"red_eye {t_red:.2f}",
    )


def evaluate_no_faces() -> Row:
    img = data.coffee()
    faces = face_analysis.detect_faces(img)
    a = red_eye(img)
    b = teeth.teeth_whitening(img)
    return Row("coffee (no face)", faces=f"{len(faces)}/0", psnr_red_eye=f"{psnr(img, a):.1f}", psnr_teeth=f"{psnr(img, b):.1f}")


# --------------------------------------------------------------------------- real photos

RED_DEFECTS = {"strong red": (190, 25, 30), "medium red": (160, 55, 50), "dark red": (110, 30, 30)}
BRIGHT_DEFECTS = {"golden (cat_eye)": (225, 185, 80), "white (cat_eye)": (235, 232, 222)}
CLEAN_CAT_EYE = "none (cat_eye)"
"""The row of eyes without a defect that ``cat_eye=True`` touched anyway (false positives)."""
DEVELOPMENT_PHOTOS = {
    "opencv-doc html/2.jpg": (OPENCV_DOC, "usr/share/doc/opencv-doc/opencv4/html/2.jpg"),
    "opencv-doc html/3.jpg": (OPENCV_DOC, "usr/share/doc/opencv-doc/opencv4/html/3.jpg"),
}


def eyes_touched(before: np.ndarray, after: np.ndarray, faces: list[Face]) -> int:
    """How many detected eyes have any pixel changed within their :func:`eye_disc`."""
    changed = np.any(before != after, axis=2)
    return sum(bool(changed[disc_mask(before.shape, [eye_disc(e)])].any()) for f in faces for e in f.eyes)


def red_eye_counts(image: np.ndarray) -> dict[str, tuple[int, int, float]]:
    """Per defect: (fixed, painted, PSNR outside the eye windows) on one photo; and for
    ``cat_eye`` on the photo as it is (no defect painted): (eyes touched, eyes, PSNR of the whole
    photo) - eyes darkened that had no flash defect."""
    faces = face_analysis.detect_faces(image)
    plain = red_eye(image)
    with_cat_eye = red_eye(image, cat_eye=True)
    n_eyes = sum(len(f.eyes) for f in faces)
    out = {CLEAN_CAT_EYE: (eyes_touched(plain, with_cat_eye, faces), n_eyes, psnr(plain, with_cat_eye))}
    for name, colour in {**RED_DEFECTS, **BRIGHT_DEFECTS}.items():
        painted, discs = paint_red_eyes(image, faces, colour)
        bright = name in BRIGHT_DEFECTS
        fixed = red_eye(painted, cat_eye=bright)
        count = eyes_darkened(fixed, discs) if bright else eyes_fixed(fixed, discs)
        out[name] = (count, len(discs), psnr(painted, fixed, ~eye_windows(image.shape, faces)))
    return out


def teeth_rows(
    image: np.ndarray, shifts: tuple[float, ...] = (12.0, 18.0, 24.0)
) -> tuple[list[tuple[float, float, float, float]], int, int]:
    """For every face showing teeth and every b* shift: (natural b*, yellowed b*, whitened b*,
    PSNR outside the inner lips); plus (closed mouths left unchanged, closed mouths)."""
    faces = face_analysis.detect_faces(image)
    rows = []
    closed = unchanged = 0
    for face in faces:
        if face.inner_lips is None:
            continue
        if face.mouth_opening < teeth.MIN_MOUTH_OPENING:
            closed += 1
            y0 = max(0, int(face.box[1]))
            x0 = max(0, int(face.box[0]))
            region = (slice(y0, y0 + face.box[3]), slice(x0, x0 + face.box[2]))
            unchanged += int(np.array_equal(teeth.teeth_whitening(image)[region], image[region]))
            continue
        mask = teeth_region(image, face)
        if mask.sum() < 12:
            continue
        mouth = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mouth, [np.round(face.inner_lips * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
        for db in shifts:
            yellowed = yellow_teeth(image, mask, db=db)
            whitened = teeth.teeth_whitening(yellowed)
            rows.append(
                (
                    float(lab(image)[..., 2][mask].mean()),
                    float(lab(yellowed)[..., 2][mask].mean()),
                    float(lab(whitened)[..., 2][mask].mean()),
                    psnr(yellowed, whitened, ~mouth.astype(bool)),
                )
            )
    return rows, unchanged, closed


def evaluate_real(title: str, photos: dict[str, tuple[tuple[str, str], str]], with_astronaut: bool) -> None:
    print(f"\n{title}")
    images = {name: load(source, file) for name, (source, file) in photos.items()}
    if with_astronaut:
        images["astronaut (scikit-image)"] = data.astronaut()
    totals: dict[str, list[float]] = {}
    print(f"{'photo':<28} {'defect':<18} {'fixed/painted':>13} {'PSNR outside eyes':>18}")
    for name, image in images.items():
        for defect, (fixed, painted, p) in red_eye_counts(image).items():
            t = totals.setdefault(defect, [0, 0, np.inf])
            t[0] += fixed
            t[1] += painted
            t[2] = min(t[2], p)
            print(f"{name:<28} {defect:<18} {f'{fixed}/{painted}':>13} {p:>18.1f}", flush=True)
    for defect, (total_fixed, total_painted, lowest) in totals.items():
        print(f"{'all':<28} {defect:<18} {f'{int(total_fixed)}/{int(total_painted)}':>13} {lowest:>14.1f} min")
    print(f"({CLEAN_CAT_EYE}: eyes that cat_eye=True touched on the photo as it is / eyes; PSNR of the whole photo)")
    print(f"\n{'photo':<28} {'teeth (one row per face and b* shift)':<40}")
    all_rows = []
    for name, image in images.items():
        rows, unchanged, closed = teeth_rows(image)
        all_rows += rows
        for natural, before, after, p in rows:
            print(
                f"{name:<28} natural b* {natural:5.1f}, yellowed {before:5.1f} -> whitened {after:5.1f}, "
                f"PSNR outside mouth {p:5.1f}"
            )
        if closed:
            print(f"{name:<28} closed mouths left unchanged: {unchanged}/{closed}")
    if all_rows:
        arr = np.array(all_rows)
        clear = arr[(arr[:, 1] >= 24) & (arr[:, 1] <= 38)]
        print(
            f"teeth: {len(arr)} cases; yellowed b* {arr[:, 1].mean():.1f} -> {arr[:, 2].mean():.1f} on average; "
            f"clearly yellow (b* 24-38): {len(clear)} cases, {clear[:, 1].mean() if len(clear) else 0:.1f} -> "
            f"{clear[:, 2].mean() if len(clear) else 0:.1f} (range {clear[:, 2].min() if len(clear) else 0:.1f}-"
            f"{clear[:, 2].max() if len(clear) else 0:.1f}); min PSNR outside mouth {arr[:, 3].min():.1f} dB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-real", action="store_true", help="skip the real photos")
    parser.add_argument("--no-synthetic", action="store_true", help="skip the synthetic scenes and timings")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    if not args.no_real:
        evaluate_real("Development photos (opencv-doc group photos, astronaut)", DEVELOPMENT_PHOTOS, True)
    if args.no_synthetic:
        return
    print("Evaluating red_eye and teeth_whitening on scikit-image photos (one core)...", flush=True)
    rows = [
        evaluate_face_photo("astronaut 512x512", data.astronaut(), (140, 420, 60, 50)),
        evaluate_face_photo("astronaut 12 MP (4000x3000)", astronaut_12mp(), (1100, 2600, 470, 390)),
        evaluate_collage(),
        evaluate_no_faces(),
    ]
    headers = (
        "scene",
        "faces found/placed",
        "eyes fixed/painted",
        "teeth b* before -> after",
        "b* removed",
        "PSNR outside eyes (dB)",
        "PSNR outside mouth (dB)",
        "red patch redness after",
        "time (s)",
    )
    cells = [headers] + [
        (r.scene, r.faces, r.eyes, r.teeth_b, r.removed, r.psnr_red_eye, r.psnr_teeth, r.red_patch, r.seconds) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    for n, c in enumerate(cells):
        print(" | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))
        if n == 0:
            print("-+-".join("-" * w for w in widths))
    print("inf = unchanged. Red patch: redness (R - max(G, B)) / R of a red patch painted on the shirt (0.825 before).")
    print("Thresholds: an eye is fixed when the mean redness in its painted pupil is below", EYE_FIXED_REDNESS)


if __name__ == "__main__":
    main()
