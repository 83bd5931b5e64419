"""Face detection with MTCNN (Zhang et al., 2016, "Joint Face Detection and Alignment
using Multi-task Cascaded Convolutional Networks"), through the ``mtcnn`` package
(1.0.0, weights shipped inside the wheel).

Speed: frames are detected in batches (one TensorFlow call per pyramid scale and stage
for the whole batch) and on a copy scaled so that the smallest face wanted
(``min_face_px`` in source pixels) becomes MTCNN's 20-px minimum. Boxes are mapped back
to source pixels once, here. mtcnn 1.0.0's own ``min_face_size`` argument is left at its
default: at 30 or more it misses large faces, so the minimum is implemented by scaling.
"""

from __future__ import annotations

import numpy as np

from ..errors import BackendError
from ..faces import Faces

#: MTCNN's default smallest detectable face, in pixels of the image it is given.
MTCNN_MIN_FACE = 20
#: Default smallest face to find, in source pixels.
DEFAULT_MIN_FACE_PX = 40


def detection_scale(min_face_px: float) -> float:
    """Scale (0, 1] applied to frames before MTCNN so faces of ``min_face_px`` stay findable."""
    if min_face_px <= 0:
        raise ValueError(f"min_face_px must be > 0, got {min_face_px}")
    return min(1.0, MTCNN_MIN_FACE / float(min_face_px))


class MtcnnDetector:
    """MTCNN face detector over batches of RGB frames.

    Args:
        min_face_px: smallest face side to find, in source pixels (default 40). Larger is
            faster: frames are scaled by ``min(1, 20 / min_face_px)`` before detection.
        min_confidence: drop detections below this MTCNN confidence in [0, 1] (default 0.9).

    Faces whose box's longer side is under ``min_face_px`` (source pixels) are dropped.

    The model is loaded on first use (TensorFlow import takes seconds).
    """

    def __init__(self, min_face_px: float = DEFAULT_MIN_FACE_PX, min_confidence: float = 0.9):
        self.min_face_px = float(min_face_px)
        self.scale = detection_scale(min_face_px)
        self.min_confidence = float(min_confidence)
        self._mtcnn = None

    def _model(self):
        if self._mtcnn is None:
            from .loading import quiet_tensorflow

            quiet_tensorflow()
            try:
                from mtcnn import MTCNN
            except ImportError as exc:  # pragma: no cover - a declared dependency
                raise BackendError(f"mtcnn is not installed ({exc}); pip install mtcnn") from None
            self._mtcnn = MTCNN(stages="face_and_landmarks_detection", device="CPU:0")
        return self._mtcnn

    def detect(self, images: list[np.ndarray]) -> list[Faces]:
        """Find faces in each image of a batch.

        Args:
            images: RGB uint8 arrays (H, W, 3); sizes may differ between images.

        Returns:
            One :class:`~feelinvideo.faces.Faces` per image (``Faces.from_mtcnn``): boxes
            ``xyxy`` in source pixels clipped to the image, confidences in [0, 1];
            emotion scores not yet set (NaN).

        Raises:
            BackendError: mtcnn is not installed.
        """
        if not images:
            return []
        import cv2

        small = []
        for image in images:
            if self.scale < 1.0:
                h, w = image.shape[:2]
                size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            small.append(image)
        # Batching needs one size: frames of one video share it; otherwise go one by one.
        if len({im.shape for im in small}) == 1:
            raw = self._model().detect_faces(small, box_format="xyxy")
        else:
            raw = [self._model().detect_faces([im], box_format="xyxy")[0] for im in small]
        out = []
        for image, found in zip(images, raw):
            h, w = image.shape[:2]
            # MTCNN's box regression lets through boxes smaller than the pyramid's minimum;
            # keep the promise of --min-face (their embeddings and emotions are unreliable)
            found = [
                f
                for f in found
                if f["confidence"] >= self.min_confidence
                and max(f["box"][2] - f["box"][0], f["box"][3] - f["box"][1])
                >= self.min_face_px * self.scale
            ]
            out.append(Faces.from_mtcnn(found, w, h, scale=self.scale))
        return out
