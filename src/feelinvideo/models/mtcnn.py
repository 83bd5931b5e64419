"""Face detection with MTCNN (Zhang et al., 2016, "Joint Face Detection and Alignment
using Multi-task Cascaded Convolutional Networks"), with the ``mtcnn`` package's weights
(1.0.0, shipped inside the wheel).

Runtime: by default the cascade runs in OpenCV's dnn (:mod:`feelinvideo.models.
mtcnn_cascade`: the networks' converted copies ship in the package, the package's rules
are reproduced; same faces, about 3x faster, no TensorFlow installed or imported);
``runtime="keras"``, or shipped copies OpenCV cannot read, run the ``mtcnn`` package itself
in TensorFlow (``pip install 'feelinvideo[keras]'``).

Speed: frames are detected in batches (one network call per pyramid scale and stage
for the whole batch) and on a copy scaled so that the smallest face wanted
(``min_face_px`` in source pixels) becomes MTCNN's 20-px minimum. Both runtimes give
boxes in the scaled copy's pixels; they become :class:`~feelinvideo.faces.Faces` in source
pixels once, by the rule every detector shares (:func:`feelinvideo.models.detections.
to_faces`). mtcnn 1.0.0's own ``min_face_size`` argument is left at its
default: at 30 or more it misses large faces, so the minimum is implemented by scaling.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import BackendError
from ..faces import Faces
from ..schema import DEFAULT_MIN_FACE_PX
from .detections import mtcnn_landmarks, mtcnn_rows, to_faces
from .frames import per_size, scaled

log = logging.getLogger(__name__)

#: MTCNN's default smallest detectable face, in pixels of the image it is given.
MTCNN_MIN_FACE = 20


def detection_scale(min_face_px: float) -> float:
    """Scale (0, 1] applied to frames before MTCNN so faces of ``min_face_px`` (source
    pixels) become its 20-px minimum: ``min(1, 20 / min_face_px)``.

    Raises:
        ValueError: ``min_face_px`` is not > 0.
    """
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
            MtcnnCascade` on the shipped networks, falling back to the ``mtcnn`` package,
            where installed, when OpenCV cannot read them) or ``"keras"`` (the ``mtcnn``
            package in TensorFlow: ``pip install 'feelinvideo[keras]'``).

    Faces whose box's longer side is under ``min_face_px`` (source pixels) are dropped.

    The networks are loaded on first use.

    Attributes:
        runtime_used: the runtime in use once loaded (None before).

    Raises:
        ValueError: an unknown ``runtime``, or ``min_face_px`` not > 0.
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
                import importlib.util

                if importlib.util.find_spec("mtcnn") is None:
                    raise
                log.warning("MTCNN runs in TensorFlow instead of OpenCV: %s", exc)
        self._model()
        self.runtime_used = "keras"

    def _model(self):
        if self._mtcnn is None:
            from .loading import quiet_tensorflow
            from .tflite import KERAS_EXTRA

            try:
                quiet_tensorflow()
                from mtcnn import MTCNN
            except ImportError as exc:
                raise BackendError(
                    f"the Keras runtime of MTCNN needs mtcnn and TensorFlow ({exc}); {KERAS_EXTRA}"
                ) from None
            self._mtcnn = MTCNN(stages="face_and_landmarks_detection", device="CPU:0")
        return self._mtcnn

    def prepare(self) -> None:
        """Check the shipped networks this detector runs (their sha256:
        :func:`feelinvideo.models.mtcnn_cascade.prepare`; nothing for ``runtime="keras"``),
        without loading them.

        Raises:
            BackendError: a shipped file is missing or damaged.
        """
        if self.runtime == "opencv":
            from .mtcnn_cascade import prepare

            prepare()

    def detect(self, images: list[np.ndarray]) -> list[Faces]:
        """Find faces in each image of a batch.

        Args:
            images: RGB uint8 arrays (H, W, 3); sizes may differ between images.

        Returns:
            One :class:`~feelinvideo.faces.Faces` per image (:func:`~feelinvideo.models.
            detections.to_faces`): boxes ``xyxy`` float32 in source pixels clipped to the
            image, confidences float32 in [0, 1], the five landmarks float32 (N, 5, 2) in
            source pixels (:data:`~feelinvideo.faces.LANDMARKS`); detections under
            ``min_confidence`` or whose longer side is under ``min_face_px`` dropped;
            emotion scores not yet set (NaN).

        Raises:
            BackendError: a shipped network is missing or damaged (and mtcnn is not
                installed), the Keras runtime lacks mtcnn or TensorFlow, or the OpenCV
                cascade failed.
        """
        if not images:
            return []
        small = scaled(images, self.scale)
        self._load()
        if self._cascade is not None:
            found = per_size(self._cascade.detect, small)
        else:
            model = self._model()
            raw = per_size(lambda stack: model.detect_faces(list(stack), box_format="xyxy"), small)
            found = [mtcnn_rows(faces) for faces in raw]
        out = []
        for image, rows in zip(images, found, strict=True):
            h, w = image.shape[:2]
            out.append(
                to_faces(
                    rows[:, :4],
                    rows[:, 4],
                    w,
                    h,
                    scale=self.scale,
                    min_confidence=self.min_confidence,
                    min_face_px=self.min_face_px,
                    landmarks=mtcnn_landmarks(rows),
                )
            )
        return out
