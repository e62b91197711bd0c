"""Colorization: give a greyscale photo plausible colours while keeping its luminance.

Everything happens in CIE Lab (D65, sRGB): the output's L* is the input's L* (only rounding to
8 bits and a gamut limit on chroma move it, by far less than one L* unit); the operation only
chooses the chroma channels a* and b*. Alpha is kept. Chroma is always limited to the sRGB gamut
at the pixel's L* (:func:`limit_chroma`).

Only monochrome photos are coloured (:mod:`.tint`): grey, and tinted monochrome - sepia,
selenium, cyanotype, a yellowed scan - whose chroma is a function of luminance alone; their tint
is discarded and their luminance coloured. A photo already in colour comes back exactly as it was
and the outcome says ``already_in_colour``; ``force=True`` colours it anyway, on its luminance.

One module per mode:

* :mod:`.reference` - exemplar-based colour transfer after Welsh, Ashikhmin & Mueller (2002);
* :mod:`.hints` - user colour hints propagated after Levin, Lischinski & Weiss (2004);
* :mod:`.auto` (default) - a compact network trained by ``training/train_colorize.py``
  (Zhang, Isola & Efros 2016, scaled down), run with ``cv2.dnn``; or library retrieval
  (:mod:`.library`); then :mod:`.natural`: calm flat areas, skies, skin on the faces found;

and :mod:`.colour` for what they share (Lab helpers, gamut limit, guided filter, settings).

In the service, ``reference`` names another image of the same job; the pipeline loads that image
and passes its pixels to :func:`colorize` as the ``reference`` array (the registered parameter
only carries the name).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retouch.errors import ValidationError
from retouch.ops.colorize.auto import MODEL_SIZE, PACKAGED_MODEL, RETRIEVE, ab_auto, predict_with_model
from retouch.ops.colorize.colour import (
    ColorizeModelError,
    colorfulness,
    compose,
    guided_coefficients,
    guided_upsample,
    lightness,
    limit_chroma,
)
from retouch.ops.colorize.hints import HINTS_SIDE, ab_from_hints, propagate_hints
from retouch.ops.colorize.reference import SAMPLES, WORK_SIDE, ab_from_references, reference_lab, transfer_from_references
from retouch.ops.colorize.tint import is_monochrome
from retouch.ops.context import ChainContext, check_time, faces_in, report
from retouch.ops.hint_syntax import Hint, parse_hints
from retouch.ops.pixels import as_rgb, join_alpha, split_alpha
from retouch.ops.registry import Image
from retouch.ops.specs import NEEDS_REFERENCE
from retouch.settings import OperationSettings

__all__ = [
    "HINTS_SIDE",
    "MODEL_SIZE",
    "PACKAGED_MODEL",
    "RETRIEVE",
    "SAMPLES",
    "WORK_SIDE",
    "ColorizeModelError",
    "colorfulness",
    "colorize",
    "compose",
    "guided_coefficients",
    "guided_upsample",
    "lightness",
    "limit_chroma",
    "predict_with_model",
    "propagate_hints",
    "transfer_from_references",
]


def colorize(
    image: Image,
    mode: str = "auto",
    strength: float = 1.0,
    hints: str | Sequence[Hint] | None = None,
    reference: np.ndarray | str | None = None,
    context: ChainContext | None = None,
    force: bool = False,
) -> Image:
    """Colorize ``image`` on its luminance (see the module docstring for the methods).

    :param mode: ``auto`` (learned model, or library retrieval + transfer), ``reference`` or ``hints``.
    :param strength: multiplies the chroma (0 = grey, 1 = as predicted, 2 = twice as saturated).
    :param hints: ``mode=hints``: ``"x,y,#rrggbb;..."`` (see :func:`parse_hints`) or parsed hints.
    :param reference: ``mode=reference``: the reference photo as uint8 RGB(A) pixels. As a
        registered parameter this is the *name* of another image of the same job, which the
        pipeline resolves to its pixels before calling this function; a name that was not
        resolved, or no reference at all, raises :class:`ValidationError`.
    :param context: the chain's context: its settings (which model or library ``auto`` uses),
        its deadline, checked between the stages of the work, the faces of the image (``auto``
        gives them skin tones) and the outcome (``colorized``, ``already_in_colour``,
        ``faces_found``).
    :param force: colour a photo that already has colour (on its luminance) instead of
        returning it unchanged.
    :returns: uint8 RGB (RGBA when the input has alpha) with the input's L*; the input itself
        when it is already in colour and ``force`` is false.
    """
    colour, alpha = split_alpha(image)
    rgb = as_rgb(colour, "colorize")
    if image.dtype != np.uint8:
        raise ValidationError(f"colorize: expected 8-bit pixels, got {image.dtype}")
    if not force and not is_monochrome(rgb):
        report(context, already_in_colour=True, colorized=False)
        return image
    full_l = lightness(rgb)
    check_time(context, "in colorize")
    if mode == "reference":
        if reference is None:
            raise ValidationError(NEEDS_REFERENCE)
        if isinstance(reference, str):
            raise ValidationError(f"colorize: the reference image {reference!r} was not loaded; {NEEDS_REFERENCE}")
        ab = ab_from_references(full_l, [reference_lab(reference)])
    elif mode == "hints":
        if hints is None:
            raise ValidationError('colorize: mode=hints needs hints="x,y,#rrggbb;x,y,#rrggbb"')
        ab = ab_from_hints(full_l, parse_hints(hints) if isinstance(hints, str) else hints, context)
    elif mode == "auto":
        faces = faces_in(image, context)
        report(context, faces_found=len(faces))
        check_time(context, "in colorize")
        ab = ab_auto(full_l, context.settings if context is not None else OperationSettings(), faces)
    else:
        raise ValidationError(f"colorize: mode must be one of auto, reference, hints, got {mode!r}")
    check_time(context, "in colorize")
    if strength != 1.0:
        ab *= np.float32(strength)
    report(context, colorized=True)
    return join_alpha(compose(full_l, ab), alpha)
