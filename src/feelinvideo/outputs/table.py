"""The per-face table (``faces.csv``): one row per face per sampled frame, from :class:`Faces`.

The only place faces become rows. Columns and rounding follow docs/outputs.md:
:data:`~feelinvideo.schema.FACE_COLUMNS`, then :data:`~feelinvideo.schema.IDENTITY_COLUMNS`
(and the smoothed scores) when identity ran, then
:data:`~feelinvideo.schema.EMOTION_SIZE_COLUMNS`, then backend and gallery
columns (``Faces.data``, e.g. ``rek_*``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..faces import Faces, Sample
from ..schema import (
    DEFAULT_MIN_EMOTION_FACE_PX,
    EMOTION_SIZE_COLUMNS,
    EMOTIONS,
    FACE_COLUMNS,
    IDENTITY_COLUMNS,
    SMOOTHED_COLUMNS,
    csv_safe,
    format_time,
)


def faces_table(
    samples: Iterable[Sample],
    identity: bool = True,
    data_columns: Sequence[str] = (),
    min_emotion_face_px: float = DEFAULT_MIN_EMOTION_FACE_PX,
) -> pd.DataFrame:
    """Build the ``faces.csv`` table.

    Args:
        samples: one :class:`~feelinvideo.faces.Sample` per sampled frame, in time order.
        identity: add ``person``, ``match_distance`` and ``track_id`` (from
            ``Faces.tracker_id``), then the seven ``smoothed_<emotion>`` scores.
        data_columns: ``Faces.data`` columns always present (in this order, empty when no
            face has them); other ``data`` keys follow in order of first appearance.
        min_emotion_face_px: smallest ``face_px`` whose emotion is counted (>= 0).

    Returns:
        DataFrame, one row per face: ``frame_index`` (int), ``timestamp_s`` (s, 3 decimals),
        ``time`` (``HH:MM:SS.mmm``), ``face_index`` (int, within its frame), the box
        ``x_min..y_max`` (pixels, 1 decimal), ``detection_confidence`` and the seven scores
        (4 decimals), ``dominant_emotion``, ``face_px`` (the box's longer side, pixels,
        1 decimal) and ``emotion_reliable`` (bool: ``face_px >= min_emotion_face_px``),
        then identity and data columns.
    """
    frames, times, chunks = [], [], []
    for frame_index, timestamp_s, faces in samples:
        if len(faces):
            frames.append(np.full(len(faces), frame_index, np.int64))
            times.append(np.full(len(faces), timestamp_s, np.float64))
            chunks.append(faces)
    columns = list(FACE_COLUMNS)
    columns += list(IDENTITY_COLUMNS + SMOOTHED_COLUMNS) if identity else []
    columns += list(EMOTION_SIZE_COLUMNS)  # after identity: earlier columns keep their place
    extra = [c for c in data_columns if c not in columns]
    for faces in chunks:
        extra += [k for k in faces.data if k not in extra and k not in columns]
    if not chunks:
        return pd.DataFrame(columns=columns + extra)
    timestamp = np.round(np.concatenate(times), 3)
    xyxy = np.round(np.concatenate([f.xyxy for f in chunks]).astype(np.float64), 1)
    scores = np.round(np.concatenate([f.scores for f in chunks]).astype(np.float64), 4)
    table = {
        "frame_index": np.concatenate(frames),
        "timestamp_s": timestamp,
        "time": [format_time(t) for t in timestamp],
        "face_index": np.concatenate([np.arange(len(f)) for f in chunks]),
        "x_min": xyxy[:, 0],
        "y_min": xyxy[:, 1],
        "x_max": xyxy[:, 2],
        "y_max": xyxy[:, 3],
        "detection_confidence": np.round(
            np.concatenate([f.confidence for f in chunks]).astype(np.float64), 4
        ),
        **{e: scores[:, j] for j, e in enumerate(EMOTIONS)},
        "dominant_emotion": np.array(EMOTIONS)[np.concatenate([f.dominant_index for f in chunks])],
    }
    side = np.round(np.concatenate([f.face_px for f in chunks]).astype(np.float64), 1)
    table["face_px"] = side
    table["emotion_reliable"] = side >= float(min_emotion_face_px)
    if identity:
        table["person"] = np.concatenate([f.person for f in chunks]).astype(object)
        distance = np.concatenate([f.match_distance for f in chunks]).astype(np.float64)
        table["match_distance"] = np.round(distance, 4)
        table["track_id"] = np.concatenate([f.tracker_id for f in chunks])
        smoothed = np.concatenate([f.smoothed_scores for f in chunks]).astype(np.float64)
        for j, column in enumerate(SMOOTHED_COLUMNS):
            table[column] = np.round(smoothed[:, j], 4)
    for name in extra:
        table[name] = np.concatenate([_data_column(f, name) for f in chunks])
    return pd.DataFrame(table, columns=columns + extra)


def _data_column(faces: Faces, name: str) -> np.ndarray:
    """``faces.data[name]``, or NaN where this frame's faces lack the column."""
    if name in faces.data:
        return np.asarray(faces.data[name])
    return np.full(len(faces), np.nan, dtype=object)


def safe_for_csv(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` for writing as CSV, the one rule for every CSV the tool writes: the
    cells of non-numeric columns go through :func:`feelinvideo.schema.csv_safe` (a name such
    as ``=SUM(1+1)`` gets a leading ``'`` and cannot become a spreadsheet formula)."""
    out = df.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].map(csv_safe)
    return out
