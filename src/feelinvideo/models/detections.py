"""A face detector's output -> :class:`~feelinvideo.faces.Faces`: the one conversion that
every local detector (:mod:`.mtcnn` on either runtime, :mod:`.yunet`) uses.

A detector sees each frame scaled (:func:`feelinvideo.models.frames.scaled`) and returns,
per image, boxes and confidences in pixels of the image it saw. :func:`to_faces` keeps the
same rule for all of them: boxes go back to source pixels, detections under the minimum
confidence or whose box's longer side is under ``min_face_px`` source pixels are dropped
(box regression lets boxes smaller than a detector's minimum through, and their
embeddings and emotions are unreliable: this keeps the promise of ``--min-face``), and the
boxes kept are clipped to the frame. The five landmarks a detector gives (MTCNN; YuNet)
go back to source pixels the same way (not clipped) and are kept in
:attr:`~feelinvideo.faces.Faces.landmarks`, for the emotion crop's alignment; dlib still
finds its own for the embedding (:mod:`feelinvideo.models.dlib`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..faces import LANDMARKS, Faces, clip_xyxy

#: Order of MTCNN's five landmarks in the rows of :func:`mtcnn_rows` (x of each, then y of
#: each), as :meth:`feelinvideo.models.mtcnn_cascade.MtcnnCascade.detect` gives them: the
#: order of :attr:`Faces.landmarks <feelinvideo.faces.Faces.landmarks>`.
MTCNN_LANDMARKS: tuple[str, ...] = LANDMARKS


def to_faces(
    xyxy: np.ndarray,
    confidence: np.ndarray,
    width: int,
    height: int,
    scale: float = 1.0,
    min_confidence: float = 0.0,
    min_face_px: float = 0.0,
    landmarks: np.ndarray | None = None,
) -> Faces:
    """The faces kept of one image's detections.

    Args:
        xyxy: float array (K, 4), boxes ``x_min, y_min, x_max, y_max`` in pixels of the
            image the detector saw (the source frame scaled by ``scale``).
        confidence: float array (K,), detection confidences in [0, 1] (compared with
            ``min_confidence`` as given, then clipped to [0, 1]).
        width, height: size in pixels of the source frame.
        scale: how the image the detector saw was scaled from the source frame, in (0, 1].
        min_confidence: drop detections whose confidence is under this, in [0, 1].
        min_face_px: drop detections whose box's longer side is under this many source
            pixels.
        landmarks: float array (K, 5, 2), the five landmarks (``x, y`` in pixels of the
            image the detector saw, :data:`~feelinvideo.faces.LANDMARKS` order; NaN where
            unknown), or None (the detector gives none).

    Returns:
        :class:`Faces` of the detections kept, in their order: ``xyxy`` float32 in source
        pixels (the boxes divided by ``scale`` in float32), clipped to
        ``[0, width] x [0, height]``; ``confidence`` float32; ``landmarks`` float32 in
        source pixels (divided by ``scale``, not clipped), NaN without ``landmarks``;
        emotion scores not set (NaN).

    Raises:
        ValueError: ``xyxy``, ``confidence`` and ``landmarks`` do not have the same number
            of rows.
    """
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4) / np.float32(scale)
    confidence = np.asarray(confidence).reshape(-1)
    if len(confidence) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(confidence)} confidences")
    points = None
    if landmarks is not None:
        points = np.asarray(landmarks, dtype=np.float32).reshape(-1, len(LANDMARKS), 2)
        if len(points) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(points)} rows of landmarks")
        points = points / np.float32(scale)
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    keep = (confidence >= min_confidence) & (sides >= min_face_px)
    return Faces(
        clip_xyxy(boxes[keep], width, height),
        np.clip(confidence[keep], 0.0, 1.0),
        landmarks=None if points is None else points[keep],
    )


def mtcnn_landmarks(rows: np.ndarray) -> np.ndarray:
    """The landmarks of rows (K, 15) as :func:`mtcnn_rows` and the OpenCV cascade give
    them (the five x, then the five y, from column 5) as float32 (K, 5, 2) ``x, y``."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, 15)
    return np.stack([rows[:, 5:10], rows[:, 10:15]], axis=2)


def mtcnn_rows(found: Sequence[Mapping]) -> np.ndarray:
    """The ``mtcnn`` package's result for one image (``MTCNN.detect_faces(...,
    box_format="xyxy")``: dicts ``{"box": [x1, y1, x2, y2], "confidence": float,
    "keypoints": {name: (x, y)}}``) as the rows the OpenCV cascade gives.

    Returns:
        float64 array (K, 15): ``x1, y1, x2, y2`` (pixels of the image MTCNN saw),
        confidence in [0, 1], then the five landmarks' x then y in
        :data:`MTCNN_LANDMARKS` order (NaN where a dict has no ``keypoints``).

    Raises:
        KeyError: a dict has no ``box`` or ``confidence``.
    """
    rows = np.full((len(found), 15), np.nan)
    for k, face in enumerate(found):
        rows[k, :4] = face["box"]
        rows[k, 4] = face["confidence"]
        points = face.get("keypoints") or {}
        for j, name in enumerate(MTCNN_LANDMARKS):
            if name in points:
                rows[k, 5 + j], rows[k, 10 + j] = points[name]
    return rows
