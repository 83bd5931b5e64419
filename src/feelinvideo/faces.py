"""Columnar face detections: the one data type every pipeline stage passes along.

Modelled on ``supervision.Detections``: one array per attribute, row ``i`` of each array
describing face ``i`` of one frame. Each stage fills what it knows and hands the same type
on: a backend gives boxes, confidences and emotion scores; the tracker sets
``tracker_id`` (and ``embedding`` where it computed one); naming sets ``person`` and
``match_distance``; the overlay and the table writer read it. Boxes are ``xyxy`` in pixels
of the source frame everywhere; each detector's or service's format is converted once, next
to it (:func:`feelinvideo.models.detections.to_faces` for the local detectors,
:func:`feelinvideo.backends.rekognition.adapter.faces_from_detect_faces` for Rekognition).

A ground-layer module: it imports nothing from the models or backends, which import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .schema import EMOTIONS

#: Length of a face embedding (dlib's descriptor, :mod:`feelinvideo.models.dlib`).
EMBEDDING_SIZE = 128
#: The five facial landmarks of :attr:`Faces.landmarks`, in row order, as MTCNN names them:
#: ``left_eye`` is the eye on the image's left (the person's right eye), and so on.
LANDMARKS: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass
class Faces:
    """Faces found in one frame, one row per face.

    Attributes:
        xyxy: float32 (N, 4): ``x_min, y_min, x_max, y_max`` in pixels of the source frame,
            clipped to ``[0, width] x [0, height]``.
        confidence: float32 (N,): detection confidence in [0, 1].
        scores: float32 (N, 7): emotion probabilities in [0, 1], in
            :data:`feelinvideo.schema.EMOTIONS` order, each row summing to 1; NaN until an
            emotion model scored the faces.
        smoothed_scores: float32 (N, 7): ``scores`` averaged over the face's track in time
            (:mod:`feelinvideo.identity.smoothing`); NaN until smoothed.
        tracker_id: int64 (N,): the face's track (0-based, in order of first appearance),
            -1 until a tracker saw it.
        person: object (N,) of str: who the face is (an enrolled name or ``unknown-N``),
            ``""`` until naming.
        match_distance: float32 (N,): distance to the enrolled person that named the face
            (euclidean between embeddings, 0-2), NaN for unknowns and backend-given names.
        embedding: float64 (N, 128) face embeddings, NaN rows for faces not embedded in
            this frame; None when none was computed. Never written to ``faces.csv``.
        landmarks: float32 (N, 5, 2): the five facial landmarks of :data:`LANDMARKS`
            (``x, y`` in pixels of the source frame, like ``xyxy``) as the detector gave
            them (MTCNN; YuNet); NaN where the detector gives none (Rekognition) or the
            boxes were moved since (the overlay's following). The emotion crop's
            alignment reads them (:class:`feelinvideo.models.fer.CropRule`). Never
            written to ``faces.csv``.
        data: per-face columns (name -> array (N,)) a backend or gallery adds, e.g.
            Rekognition's raw ``rek_*`` scores; written to ``faces.csv`` as they are.

    Raises:
        ValueError: the arrays do not all have N rows.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    scores: np.ndarray | None = None
    smoothed_scores: np.ndarray | None = None
    tracker_id: np.ndarray | None = None
    person: np.ndarray | None = None
    match_distance: np.ndarray | None = None
    embedding: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(self.xyxy)
        for name in (
            "confidence",
            "scores",
            "smoothed_scores",
            "tracker_id",
            "person",
            "landmarks",
        ):
            value = getattr(self, name)
            if value is not None and len(np.asarray(value)) != n:
                raise ValueError(
                    f"Faces.{name} has {len(np.asarray(value))} rows, expected {n} (one a box)"
                )
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(n)
        self.scores = (
            np.full((n, len(EMOTIONS)), np.nan, np.float32)
            if self.scores is None
            else np.asarray(self.scores, dtype=np.float32).reshape(n, len(EMOTIONS))
        )
        self.smoothed_scores = (
            np.full((n, len(EMOTIONS)), np.nan, np.float32)
            if self.smoothed_scores is None
            else np.asarray(self.smoothed_scores, dtype=np.float32).reshape(n, len(EMOTIONS))
        )
        self.tracker_id = (
            np.full(n, -1, np.int64)
            if self.tracker_id is None
            else np.asarray(self.tracker_id, dtype=np.int64).reshape(n)
        )
        self.person = (
            np.full(n, "", dtype=object)
            if self.person is None
            else np.asarray(self.person, dtype=object).reshape(n)
        )
        self.match_distance = (
            np.full(n, np.nan, np.float32)
            if self.match_distance is None
            else np.asarray(self.match_distance, dtype=np.float32).reshape(n)
        )
        if self.embedding is not None:
            self.embedding = np.asarray(self.embedding, dtype=np.float64).reshape(n, EMBEDDING_SIZE)
        self.landmarks = (
            np.full((n, len(LANDMARKS), 2), np.nan, np.float32)
            if self.landmarks is None
            else np.asarray(self.landmarks, dtype=np.float32).reshape(n, len(LANDMARKS), 2)
        )
        for name, values in self.data.items():
            values = np.asarray(values)
            if values.shape[:1] != (n,):
                raise ValueError(f"Faces.data[{name!r}] has shape {values.shape}, expected ({n},)")
            self.data[name] = values

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index) -> Faces:
        """The faces selected by ``index`` (int, slice, int array or bool mask (N,))."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]

        def take(values):
            return None if values is None else values[index]

        return Faces(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            scores=self.scores[index],
            smoothed_scores=self.smoothed_scores[index],
            tracker_id=self.tracker_id[index],
            person=self.person[index],
            match_distance=self.match_distance[index],
            embedding=take(self.embedding),
            landmarks=self.landmarks[index],
            data={k: v[index] for k, v in self.data.items()},
        )

    def __setstate__(self, state: dict) -> None:
        """Unpickle (work files, worker processes); a Faces pickled before ``landmarks``
        existed gets NaN landmarks."""
        self.__dict__.update(state)
        if self.__dict__.get("landmarks") is None:
            n = len(self.__dict__["xyxy"])
            self.landmarks = np.full((n, len(LANDMARKS), 2), np.nan, np.float32)

    @classmethod
    def empty(cls) -> Faces:
        """A Faces with no rows."""
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, len(EMOTIONS))))

    @classmethod
    def concatenate(cls, parts: list[Faces]) -> Faces:
        """The faces of ``parts`` one after the other, every column kept: ``embedding``
        where any part has one (NaN rows for the parts without), ``data`` columns that
        every part has (others dropped). An empty list gives :meth:`empty`."""
        if not parts:
            return cls.empty()
        keys = set.intersection(*(set(p.data) for p in parts))
        embedding = None
        if any(p.embedding is not None for p in parts):
            embedding = np.concatenate(
                [p.embedding if p.embedding is not None else _nan_rows(len(p)) for p in parts]
            )
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            scores=np.concatenate([p.scores for p in parts]),
            smoothed_scores=np.concatenate([p.smoothed_scores for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]),
            person=np.concatenate([p.person for p in parts]),
            match_distance=np.concatenate([p.match_distance for p in parts]),
            embedding=embedding,
            landmarks=np.concatenate([p.landmarks for p in parts]),
            data={k: np.concatenate([p.data[k] for p in parts]) for k in sorted(keys)},
        )

    # ------------------------------------------------------------------ derived

    @property
    def dominant_index(self) -> np.ndarray:
        """int64 (N,): index into EMOTIONS of each face's highest score."""
        if not len(self):
            return np.zeros(0, dtype=np.int64)
        return np.argmax(np.nan_to_num(self.scores, nan=-1.0), axis=1)

    @property
    def display_scores(self) -> np.ndarray:
        """float32 (N, 7): the smoothed scores where known, else the raw ones (what the
        overlay shows)."""
        known = np.isfinite(self.smoothed_scores).all(axis=1)
        return np.where(known[:, None], self.smoothed_scores, self.scores)

    @property
    def area(self) -> np.ndarray:
        """float32 (N,): box area in square pixels."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    @property
    def face_px(self) -> np.ndarray:
        """float32 (N,): the face's size, the longer side of its box in pixels (the side of
        the square the emotion model's crop is cut from; ``faces.csv``'s ``face_px``)."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh.max(axis=1) if len(self) else np.zeros(0, np.float32)

    @property
    def embedded(self) -> np.ndarray:
        """bool (N,): which faces carry an embedding computed in this frame."""
        if self.embedding is None:
            return np.zeros(len(self), dtype=bool)
        return ~np.isnan(self.embedding).any(axis=1)


def _nan_rows(n: int) -> np.ndarray:
    """float64 (n, 128) of NaN: embedding rows of faces not embedded."""
    return np.full((n, EMBEDDING_SIZE), np.nan)


class Sample(NamedTuple):
    """The faces of one sampled frame, without its pixels: what an analysis keeps.

    Attributes:
        frame_index: 0-based index of the frame in decode order.
        timestamp_s: its presentation time in seconds from the start.
        faces: its :class:`Faces`.
    """

    frame_index: int
    timestamp_s: float
    faces: Faces


def clip_xyxy(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip boxes (N, 4) ``xyxy`` in pixels to a ``width`` x ``height`` frame; returns float32."""
    out = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4).

    Both in ``xyxy`` pixels. Returns float array (N, M) in [0, 1]; 0 where a box is empty.
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
