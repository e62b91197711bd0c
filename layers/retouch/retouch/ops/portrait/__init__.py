"""Portrait operations: red-eye removal and teeth whitening.

Both find faces with :mod:`retouch.ops.faces` (detected once per photo and cached) and then
touch only small regions at full resolution: the iris discs for ``red_eye``, the opening
between the inner lips for ``teeth_whitening``. Pixels outside those regions are never
written, so a photo without faces, red eyes or visible teeth comes back unchanged.

* ``red_eye`` follows the usual two-cue approach (colour and shape, e.g. Gaubatz and Ulichney,
  "Automatic red-eye detection and correction", ICIP 2002; Schettini et al., "A modular
  procedure for automatic red eye correction in digital photos", 2004): a pixel is red when
  its *redness* ``(R - max(G, B)) / R`` exceeds ``threshold``; the pupil is the red connected
  component nearest the iris centre, inside the iris disc and the eyelid opening, roughly
  round, grown by hysteresis to half the threshold. It is corrected by replacing R with the
  mean of G and B (which keeps the luminance structure carried by G and B) and darkening in
  proportion to the redness, so the white catch-light is kept; the mask edge is feathered.
* ``teeth_whitening`` works in CIE L*a*b*, **under the photo's own white** (:mod:`.white`:
  estimated from the sclera and the near-neutral highlights, applied as a von Kries
  adaptation; a neutral photo is left as it is): teeth are the bright (L* relative to the
  brightest part of the mouth), not-red pixels inside the inner-lip contour from the face
  mesh, the redness allowing for the warmer hue of stained teeth; lips, gums and tongue have
  high a* and are excluded. Teeth the contour cuts off (a pixel or two on small faces) are
  taken within 4 % of the mouth width beyond it, if clearly teeth, never past the outer lips.
  Yellow is removed relative to natural white teeth (b* about 10 under neutral light), not to
  grey: at the default strength the excess b* above that goes entirely, higher strengths go
  whiter, lower ones subtler (:func:`.teeth.whitening_targets`); L* is lifted by at most
  ``6 * strength``, with a feathered mask. So under a blue stage light teeth end as white as
  the photo's whites, not yellow next to them, and under warm light not bluer than them.
  Faces whose inner lips are closed (gap below 5% of the mouth width) are left alone.

Modules: :mod:`.eyes` (``red_eye``), :mod:`.pupils` (red and bright pupil masks and their
corrections), :mod:`.teeth` (``teeth_whitening``), :mod:`.white` (the photo's white),
:mod:`.patches` (windows, masks and blending shared by both).
"""

from retouch.ops.portrait.eyes import red_eye
from retouch.ops.portrait.teeth import teeth_whitening

__all__ = ["red_eye", "teeth_whitening"]
