"""Face detection with MTCNN (Zhang et al., 2016, "Joint Face Detection and Alignment
using Multi-task Cascaded Convolutional Networks"), with the ``mtcnn`` package's weights
(1.0.0, shipped inside the wheel).

Runtime: by default the cascade runs in OpenCV's dnn (:mod:`feelinvideo.models.
mtcnn_cascade`: the networks converted once and cached, the package's rules reproduced;
same faces, about 3x faster, no TensorFlow at run time); ``runtime="keras"``, or a failed
conversion, runs the ``mtcnn`` package itself in TensorFlow.

Speed: frames are detected in batches (one network call per pyramid scale and stage
for the whole batch) and on a copy scaled so that the smallest face wanted
(``min_face_px`` in source pixels) becomes MTCNN's 20-px minimum. Boxes are mapped back
to source pixels once, here. mtcnn 1.0.0's own ``min_face_size`` argument is left at its
default: at 30 or more it misses large faces, so the minimum is implemented by scaling.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import BackendError
from ..faces import Faces, clip_xyxy
from ..schema import DEFAULT_MIN_FACE_PX
from .frames import per_size, scaled

log = logging.getLogger(__name__)

#: MTCNN's default smallest detectable face, in pixels of the image it is given.
MTCNN_MIN_FACE = 20
#: Default smallest face to find, in source pixels.


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
        runtime: ``"opencv"`` (default: :class:`~feelinvideo.models.mtcnn_cascade.
            MtcnnCascade`, falling back to the ``mtcnn`` package when its networks cannot be
            converted) or ``"keras"`` (the ``mtcnn`` package in TensorFlow).

    Faces whose box's longer side is under ``min_face_px`` (source pixels) are dropped.

    The networks are loaded on first use.

    Attributes:
        runtime_used: the runtime in use once loaded (None before).

    Raises:
        ValueError: an unknown ``runtime``.
    """

    def __init__(
        self,
        min_face_px: float = DEFAULT_MIN_FACE_PX,
        min_confidence: float = 0.9,
        runtime: str = "opencv",
    ):
        from .tflite import check_runtime

        self.runtime = check_runtime(runtime)
        self.min_face_px = float(min_face_px)
        self.scale = detection_scale(min_face_px)
        self.min_confidence = float(min_confidence)
        self.runtime_used: str | None = None
        self._mtcnn = None
        self._cascade = None

    def _load(self) -> None:
        if self.runtime_used is not None:
            return
        if self.runtime == "opencv":
            from .mtcnn_cascade import load_cascade

            try:
                self._cascade = load_cascade()
                self.runtime_used = "opencv"
                return
            except BackendError as exc:
                log.warning("MTCNN runs in TensorFlow instead of OpenCV: %s", exc)
        self._model()
        self.runtime_used = "keras"

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
        small = scaled(images, self.scale)
        self._load()
        if self._cascade is not None:
            return self._detect_opencv(images, small)
        model = self._model()
        raw = per_size(lambda stack: model.detect_faces(list(stack), box_format="xyxy"), small)
        out = []
        for image, found in zip(images, raw):
            h, w = image.shape[:2]
            if found:
                boxes = np.array([f["box"] for f in found], dtype=np.float64)
                keep = self._kept(boxes, np.array([f["confidence"] for f in found]))
                found = [f for f, kept in zip(found, keep, strict=True) if kept]
            out.append(Faces.from_mtcnn(found, w, h, scale=self.scale))
        return out

    def _kept(self, xyxy: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """Mask (K,) of the detections kept: confidence at least ``min_confidence`` and the
        box's longer side at least ``min_face_px`` (in the scaled image's pixels ``xyxy``
        (K, 4)). MTCNN's box regression lets through boxes smaller than the pyramid's
        minimum; this keeps the promise of --min-face (their embeddings and emotions are
        unreliable)."""
        sides = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1])
        return (confidence >= self.min_confidence) & (sides >= self.min_face_px * self.scale)

    def _detect_opencv(self, images: list[np.ndarray], small: list[np.ndarray]) -> list[Faces]:
        """:meth:`detect` on the OpenCV cascade, same-size images in one call."""
        found = per_size(self._cascade.detect, small)
        out = []
        for image, rows in zip(images, found, strict=True):
            h, w = image.shape[:2]
            rows = rows[self._kept(rows[:, :4], rows[:, 4])]
            out.append(
                Faces(
                    xyxy=clip_xyxy(rows[:, :4].astype(np.float32) / self.scale, w, h),
                    confidence=rows[:, 4].astype(np.float32),
                )
            )
        return out
