"""Columnar face detections: the one data type every pipeline stage passes along.

Modelled on ``supervision.Detections``: one array per attribute, row ``i`` of each array
describing face ``i``. Boxes are ``xyxy`` in pixels of the source frame everywhere;
backends convert their own formats once, in their adapter (``Faces.from_...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .schema import EMOTIONS


@dataclass
class Faces:
    """Faces found in one frame.

    Attributes:
        xyxy: float32 array (N, 4): ``x_min, y_min, x_max, y_max`` in pixels of the
            source frame, clipped to ``[0, width] x [0, height]``.
        confidence: float32 array (N,): detection confidence in [0, 1].
        scores: float32 array (N, 7): emotion probabilities in [0, 1] in
            :data:`feelinvideo.schema.EMOTIONS` order; each row sums to 1.
        landmarks: float32 array (N, 5, 2) of (x, y) pixels (left eye, right eye, nose,
            mouth left, mouth right) or None when the backend gives none.
        extra: optional per-face columns a backend adds (name -> array (N,)), e.g. the
            Rekognition backend's raw ``rek_*`` scores. Written to ``faces.csv`` as is.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(self.xyxy)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(n)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(n, len(EMOTIONS))
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, dtype=np.float32).reshape(n, 5, 2)

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> Faces:
        """Return a Faces with no rows."""
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, len(EMOTIONS))))

    @property
    def dominant_index(self) -> np.ndarray:
        """int array (N,): index into EMOTIONS of each face's highest score."""
        return np.argmax(self.scores, axis=1) if len(self) else np.zeros(0, dtype=int)

    @property
    def area(self) -> np.ndarray:
        """float32 array (N,): box area in square pixels."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]


def clip_xyxy(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip boxes (N, 4) ``xyxy`` in pixels to a ``width`` x ``height`` frame; returns float32."""
    out = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4).

    Both in ``xyxy`` pixels. Returns float array (N, M) in [0, 1].
    """
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
