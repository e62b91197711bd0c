"""red_eye measured the way a person sees it: the pupil, and nothing else.

    .venv/bin/python -m bench.eval_red_eye [--no-real] [--crops DIR]

Red pupils of known extent are painted into development photos (never the reserved ones of
:mod:`bench.photos`) and the operation is run on the painted photo as a user would; for every
eye it prints

* **outside**: CIEDE2000 of the change the operation made, over the region within 2.2 iris
  radii of the pupil but outside the pupil itself dilated by 2 px (iris, sclera, lids, skin):
  the mean and the 95th percentile. Bounds: mean <= 2.5 and 95th percentile <= 12 on *every*
  eye;
* **de-reddened**: the mean redness ``(R - max(G, B)) / R`` of the painted pupil's core (70 % of
  its radius) after correction is below 0.25 (:data:`retouch_testkit.portrait.EYE_FIXED_REDNESS`);
  bound: >= 97 % of eyes;
* **cast**: the corrected pupil's mean a* and b* (CIE L*a*b*) over its core pixels that were
  clearly red (redness above 0.6: not the catch-light, nor edge pixels mixed with skin); in a
  pupil of a pixel or two (faces of 20-40 px) where none is, over the core pixels the paint
  changed (CIEDE2000 10 or more from the unpainted photo) that were left reddish (0.25) and of a
  red hue, never over lines drawn over the photo (opencv-doc's landmarks), skin or a
  catch-light that red_eye left as they were. The largest of |a*| and |b*| over the
  de-reddened eyes, and how many are above :data:`CAST_BOUND`; a dark, neutral pupil has both
  near 0 (red, brown, teal, green, blue or purple pupils do not).

Pupils are painted two ways: *flat* (a disc of 0.75 iris radii in one of three reds, with a
white catch-light: :func:`retouch_testkit.portrait.paint_red_eyes`) and *textured* (0.6 iris radii,
brighter at the centre, a little noise, a soft 1 px edge and a catch-light, like a flash
photo's retina; at least 0.8 px). Scenes, all from openly licensed photos:

* faces found by the detector: Debian ``opencv-doc``'s group photos ``html/2.jpg`` (faces of
  48-84 px) and ``html/3.jpg`` (40-55 px); scikit-image's astronaut at 512 px (an 86 px face),
  as a close-up (upscaled 4x: iris radius about 17 px) and at 12 MP (iris about 35 px); the
  astronaut's face at 40-250 px on one canvas (:func:`retouch_testkit.portrait.collage`);
* eyes pointed at with ``points`` (no radius given), where no face is found: twelve copies
  of the astronaut's face 20 px wide, and a full-frame close-up of one eye (1600x1200,
  iris radius about 150 px);
* non-red eyes at points (the astronaut's own eyes, each pointed at): must come back unchanged;
  and scikit-image's ``chelsea`` (a cat) with a green eye-shine painted in each pupil, at points.

``--crops DIR`` writes before/after 100 % crops of a few eyes of every scene as PNGs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from bench.eval_portrait import RED_DEFECTS, astronaut_12mp
from bench.photos import OPENCV_DOC, load
from retouch.ops import faces as face_analysis
from retouch.ops.portrait.eyes import red_eye
from retouch_testkit.portrait import MEAN_BOUND, P95_BOUND, Disc, EyeResult, collage, measure, paint_red_eyes

TEXTURED_FRACTION = 0.6
CAST_BOUND = 8.0
"""|a*| or |b*| of a corrected pupil above which it is counted as having a colour cast."""

Eye = tuple[float, float, float]  # x, y, iris radius


def paint_textured(
    image: np.ndarray, eyes: list[Eye], colour: tuple[int, int, int], seed: int = 0
) -> tuple[np.ndarray, list[Disc]]:
    """Red pupils of ``TEXTURED_FRACTION`` iris radii: 15 % brighter at the centre than at the
    edge, +-4 % noise, an anti-aliased edge softened by a 0.5 px blur, and a catch-light."""
    rng = np.random.default_rng(seed)
    out = image.copy()
    discs = []
    h, w = image.shape[:2]
    for x, y, iris in eyes:
        r = max(TEXTURED_FRACTION * iris, 0.8)  # a pupil of a 20 px face still shows a red pixel or two
        half = int(np.ceil(r + 4))
        x0, y0 = max(0, int(x) - half), max(0, int(y) - half)
        x1, y1 = min(w, int(x) + half + 1), min(h, int(y) + half + 1)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        d = np.hypot(xx + 0.5 - x, yy + 0.5 - y)
        cover = cv2.GaussianBlur(np.clip(r + 0.5 - d, 0.0, 1.0), (0, 0), 0.5)
        shade = 1.15 - 0.3 * np.clip(d / max(r, 0.5), 0, 1) + rng.normal(0, 0.04, d.shape)
        pupil = np.clip(np.array(colour, np.float32)[None, None] * shade[..., None], 0, 255)
        glint = np.clip(0.22 * r + 0.5 - np.hypot(xx + 0.5 - (x + 0.35 * r), yy + 0.5 - (y - 0.35 * r)), 0, 1)
        pupil = pupil * (1 - glint[..., None]) + np.array([250, 250, 245], np.float32) * glint[..., None]
        region = out[y0:y1, x0:x1, :3].astype(np.float32)
        out[y0:y1, x0:x1, :3] = np.clip(np.round(region + cover[..., None] * (pupil - region)), 0, 255).astype(np.uint8)
        discs.append((x, y, r))
    return out, discs


@dataclass
class Scene:
    name: str
    results: list[EyeResult] = field(default_factory=list)
    crops: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def line(self) -> str:
        rs = self.results
        if not rs:
            return f"{self.name:<52} no eyes"
        means, p95s = np.array([e.mean for e in rs]), np.array([e.p95 for e in rs])
        cast = max((max(abs(e.a), abs(e.b)) for e in rs if e.fixed), default=0.0)
        return (
            f"{self.name:<52} {len(rs):>4} {sum(e.fixed for e in rs):>5}/{len(rs):<4} "
            f"{means.mean():>6.2f} {means.max():>6.2f} {np.median(p95s):>6.1f} {p95s.max():>6.1f} "
            f"{sum(e.within for e in rs):>5}/{len(rs):<4} {cast:>6.1f}"
        )


HEADER = (
    f"{'scene':<52} {'eyes':>4} {'de-reddened':>10} {'mean dE':>6} {'(max)':>6} {'p95 dE':>6} {'(max)':>6} "
    f"{'within':>10} {'|cast|':>6}"
)


def crop(image: np.ndarray, x: float, y: float, half: int) -> np.ndarray:
    h, w = image.shape[:2]
    return image[max(0, int(y) - half) : min(h, int(y) + half), max(0, int(x) - half) : min(w, int(x) + half), :3]


def run_scene(
    scene: Scene,
    painted: np.ndarray,
    discs: list[Disc],
    irises: list[float],
    points: list[list[float]] | None = None,
    original: np.ndarray | None = None,
) -> None:
    fixed = red_eye(painted, points=points) if points else red_eye(painted)
    for disc, iris in zip(discs, irises, strict=True):
        scene.results.append(measure(painted, fixed, disc, iris, original))
    for disc, iris in list(zip(discs, irises, strict=True))[:2]:
        half = max(8, int(2.6 * iris))
        scene.crops.append((crop(painted, disc[0], disc[1], half), crop(fixed, disc[0], disc[1], half)))


def detected_eyes(image: np.ndarray) -> list[Eye]:
    return [(*e.center, e.iris_radius) for f in face_analysis.detect_faces(image) for e in f.eyes]


def painted_scenes(name: str, image: np.ndarray, eyes: list[Eye], points: bool = False) -> list[Scene]:
    """Every red and both painting styles on ``image`` (eyes: where to paint)."""
    scenes = []
    irises = [e[2] for e in eyes]
    for style in ("flat", "textured"):
        for red_name, colour in RED_DEFECTS.items():
            scene = Scene(f"{name}, {style} {red_name}")
            if style == "flat":
                painted, discs = paint_red_eyes(image, [_as_face(eyes)], colour)
            else:
                painted, discs = paint_textured(image, eyes, colour)
            pts = [[x, y] for x, y, _ in eyes] if points else None
            run_scene(scene, painted, discs, irises, pts, image)
            scenes.append(scene)
    return scenes


def _as_face(eyes: list[Eye]) -> face_analysis.Face:
    """A stand-in face whose ``eyes`` are ``eyes`` (for :func:`paint_red_eyes`)."""

    class _Eyes:
        def __init__(self) -> None:
            self.eyes = [face_analysis.Eye((x, y), r) for x, y, r in eyes]

    return _Eyes()  # type: ignore[return-value]


def tiny_faces() -> tuple[np.ndarray, list[Eye]]:
    """Twelve copies of the astronaut's face 20 px wide (iris radius about 1 px) on a grey
    canvas, and where their eyes are."""
    source = data.astronaut()
    [face] = face_analysis.detect_faces(source)
    x, y, w, h = face.box
    pad = w // 2
    tile = source[y - pad : y + h + pad, x - pad : x + w + pad]
    s = 20 / w
    small = cv2.resize(tile, (round(tile.shape[1] * s), round(tile.shape[0] * s)), interpolation=cv2.INTER_AREA)
    canvas = np.full((160, 320, 3), 128, np.uint8)
    eyes = []
    th, tw = small.shape[:2]
    for i in range(12):
        ox, oy = 8 + (i % 6) * (tw + 12), 8 + (i // 6) * (th + 12)
        canvas[oy : oy + th, ox : ox + tw] = small
        for e in face.eyes:
            eyes.append((ox + (e.center[0] - x + pad) * s, oy + (e.center[1] - y + pad) * s, e.iris_radius * s))
    return canvas, eyes


def eye_close_up() -> tuple[np.ndarray, list[Eye]]:
    """The astronaut's left eye filling a 1600x1200 frame (iris radius about 150 px)."""
    source = data.astronaut()
    [face] = face_analysis.detect_faces(source)
    (ex, ey), r = face.left_eye.center, face.left_eye.iris_radius
    s = 150 / r
    half_w, half_h = 800 / s, 600 / s
    m = np.array([[s, 0, -(ex - half_w) * s], [0, s, -(ey - half_h) * s]], np.float32)
    big = cv2.warpAffine(source, m, (1600, 1200), flags=cv2.INTER_CUBIC)
    return big, [(800.0, 600.0, 150.0)]


def astronaut_close_up() -> np.ndarray:
    return cv2.resize(data.astronaut()[20:320, 120:370], (1000, 1200), interpolation=cv2.INTER_CUBIC)


def non_red_points() -> Scene:
    """The astronaut's own eyes pointed at (and cat eyes without shine): nothing must change."""
    scene = Scene("non-red eyes at points (changed px)")
    img = data.astronaut()
    eyes = detected_eyes(img)
    out = red_eye(img, points=[[x, y] for x, y, _ in eyes])
    scene.crops.append((crop(img, eyes[0][0], eyes[0][1], 12), crop(out, eyes[0][0], eyes[0][1], 12)))
    print(f"non-red eyes at points: astronaut {int(np.any(out != img, axis=2).sum())} px changed", end="; ")
    cat = data.chelsea()
    out = red_eye(cat, points=[[x, y] for x, y, _ in CAT_EYES])
    on_iris = red_eye(cat, points=[[x + 0.6 * r, y] for x, y, r in CAT_EYES])
    print(
        f"chelsea (no shine) {int(np.any(out != cat, axis=2).sum())} px changed at the pupils, "
        f"{int(np.any(on_iris != cat, axis=2).sum())} px at points on the irises"
    )
    return scene


CAT_EYES: list[Eye] = [(171.0, 114.0, 30.0), (318.0, 131.0, 22.0)]
"""chelsea's eyes (pupil centre, iris radius), measured on the photo."""


def shine_scene() -> Scene:
    """chelsea with a green eye-shine (60, 220, 140) painted in each eye, fixed at points."""
    cat = data.chelsea()
    eyes = CAT_EYES
    painted, discs = paint_textured(cat, eyes, (60, 220, 140))
    fixed = red_eye(painted, points=[[x, y] for x, y, _ in eyes])
    scene = Scene("chelsea, green eye-shine at points")
    for disc, (x, y, iris) in zip(discs, eyes, strict=True):
        result = measure(painted, fixed, disc, iris)
        luma = fixed[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        yy, xx = np.mgrid[0 : cat.shape[0], 0 : cat.shape[1]]
        core = np.hypot(xx + 0.5 - x, yy + 0.5 - y) <= 0.7 * disc[2]
        result.fixed = float(luma[core].mean()) < 100
        scene.results.append(result)
        scene.crops.append((crop(painted, x, y, 40), crop(fixed, x, y, 40)))
    return scene


def save_crops(scenes: list[Scene], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, scene in enumerate(scenes):
        for k, (before, after) in enumerate(scene.crops):
            scale = max(1, 96 // max(1, before.shape[0]))
            pair = np.concatenate([before, np.full((before.shape[0], 2, 3), 255, np.uint8), after], axis=1)
            pair = cv2.resize(pair, (pair.shape[1] * scale, pair.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
            slug = "".join(c if c.isalnum() else "-" for c in scene.name)[:60]
            cv2.imwrite(str(folder / f"{n:02d}-{k}-{slug}.png"), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-real", action="store_true", help="skip the opencv-doc group photos")
    parser.add_argument("--no-points", action="store_true", help="skip the scenes that need the points parameter")
    parser.add_argument("--crops", type=Path, default=None, help="write before/after crops here")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    photos: dict[str, np.ndarray] = {}
    if not args.no_real:
        for file in ("2.jpg", "3.jpg"):
            photos[f"opencv-doc html/{file}"] = load(OPENCV_DOC, f"usr/share/doc/opencv-doc/opencv4/html/{file}")
    photos["astronaut 512"] = data.astronaut()
    photos["collage 40-250 px faces"] = collage()[0]
    photos["astronaut close-up 1000x1200"] = astronaut_close_up()
    photos["astronaut 12 MP"] = astronaut_12mp()
    scenes: list[Scene] = []
    print(HEADER)
    for name, image in photos.items():
        for scene in painted_scenes(name, image, detected_eyes(image)):
            print(scene.line(), flush=True)
            scenes.append(scene)
    if not args.no_points:
        for name, (image, eyes) in {
            "20 px faces at points": tiny_faces(),
            "eye close-up 1600x1200 at points": eye_close_up(),
        }.items():
            for scene in painted_scenes(name, image, eyes, points=True):
                print(scene.line(), flush=True)
                scenes.append(scene)
        shine = shine_scene()
        print(shine.line() + "  (de-reddened: pupil luma below 100)")
        scenes.append(shine)
        scenes.append(non_red_points())
    groups = {
        "faces found": [e for s in scenes if "points" not in s.name for e in s.results],
        "all red eyes": [e for s in scenes if "shine" not in s.name for e in s.results],
    }
    for label, red in groups.items():
        if not red:
            continue
        fixed = sum(e.fixed for e in red)
        within = sum(e.within for e in red)
        casts = [max(abs(e.a), abs(e.b)) for e in red if e.fixed] or [0.0]
        cast = max(casts)
        print(
            f"{label}: {len(red)} eyes; de-reddened {fixed} ({100 * fixed / len(red):.1f} %); within mean <= {MEAN_BOUND} and "
            f"p95 <= {P95_BOUND}: {within} ({100 * within / len(red):.1f} %); worst mean {max(e.mean for e in red):.2f}, "
            f"worst p95 {max(e.p95 for e in red):.1f}; largest |a*| or |b*| in a de-reddened pupil {cast:.1f} "
            f"(median {np.median(casts):.1f}; above {CAST_BOUND:g}: {sum(c > CAST_BOUND for c in casts)})"
        )
    if args.crops:
        save_crops(scenes, args.crops)
        print(f"crops written to {args.crops}")


if __name__ == "__main__":
    main()
