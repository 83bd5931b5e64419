"""Shot cuts between sampled frames: where a face track must end whatever the boxes say.

A hard cut (a camera switch in a lecture recording, an edit, the next photo of a slideshow)
can put a different person where the last one was; box overlap alone would hand the first
person's track, and name, to the second. :class:`CutDetector` compares each sampled frame
with the previous one on a small colour thumbnail, with two cheap measures that must both
change:

- the Bhattacharyya distance between hue-saturation histograms (16 x 16 bins; 0 = same
  colours, 1 = none shared) — the measure of PySceneDetect's ``HistogramDetector`` family,
  insensitive to motion inside a shot;
- the mean absolute difference of the grey thumbnails (0-255) — sensitive to layout, so a
  cut between two shots with similar colours is still seen.

Thresholds were chosen on this project's real clips, sampled every 1 s and 0.2 s: within a
shot (woman2, the street crowd, single_face, fer's test clip) the histogram distance stayed
at or under 0.31 (grey difference up to 55 as people move); between the photos of a
slideshow of the knn_examples people it was 0.44-0.79 (grey difference 19-83). Both must
pass, so a moving crowd (large grey difference, same colours) is not a cut. A cut missed
here is still caught by the tracker's face-appearance and embedding checks.

Why not PySceneDetect: its detectors are built for every frame of a stream (thresholds on
frame-to-frame change, a minimum scene length in frames), while this compares sampled frames
up to seconds apart, where motion inside a shot changes a frame far more; the two measures
are OpenCV calls (``calcHist``, ``compareHist``) with thresholds measured at that spacing,
and the project gains no dependency for them.
"""

from __future__ import annotations

import numpy as np

#: Side lengths in pixels of the thumbnail compared between frames.
THUMB_SIZE = (64, 36)
#: A cut needs at least this histogram distance (Bhattacharyya, 0-1) ...
DEFAULT_HIST_THRESHOLD = 0.4
#: ... and at least this mean absolute grey difference (0-255).
DEFAULT_PIXEL_THRESHOLD = 12.0


class CutDetector:
    """Says whether a hard cut lies between consecutive sampled frames.

    Args:
        hist_threshold: smallest hue-saturation histogram distance of a cut (0-1).
        pixel_threshold: smallest mean absolute grey difference of a cut (0-255).
    """

    def __init__(
        self,
        hist_threshold: float = DEFAULT_HIST_THRESHOLD,
        pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD,
    ):
        self.hist_threshold = float(hist_threshold)
        self.pixel_threshold = float(pixel_threshold)
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        #: signature of the first frame seen (a segment's, compared with the one before)
        self.first: tuple[np.ndarray, np.ndarray] | None = None
        #: cuts found so far
        self.cuts = 0

    @property
    def last(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Signature of the latest frame seen, or None."""
        return self._previous

    def is_cut(self, a, b) -> bool:
        """Whether two signatures (:meth:`signature`) lie on either side of a cut."""
        hist, pixels = self.distances(a, b)
        return hist >= self.hist_threshold and pixels >= self.pixel_threshold

    def signature(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(normalised hue-saturation histogram float32 (16, 16), grey thumbnail float32
        (36, 64))`` of an RGB uint8 image (H, W, 3)."""
        import cv2

        small = cv2.resize(image, THUMB_SIZE, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 16], [0, 180, 0, 256])
        hist = hist / max(float(hist.sum()), 1.0)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return hist.astype(np.float32), grey

    def distances(self, a, b) -> tuple[float, float]:
        """``(histogram distance 0-1, mean absolute grey difference 0-255)`` of two signatures."""
        import cv2

        hist = float(cv2.compareHist(a[0], b[0], cv2.HISTCMP_BHATTACHARYYA))
        return hist, float(np.abs(a[1] - b[1]).mean())

    def update(self, image: np.ndarray) -> bool:
        """True when ``image`` (RGB uint8 (H, W, 3), the next sampled frame) starts a new
        shot; the first frame is not a cut."""
        current = self.signature(image)
        previous, self._previous = self._previous, current
        if previous is None:
            self.first = current
            return False
        cut = self.is_cut(previous, current)
        self.cuts += int(cut)
        return cut
