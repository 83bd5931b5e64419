"""The report's tables over many runs: class summary, attendance and time windows.

Every number comes from the runs' faces (:mod:`feelinvideo.report.runs`), aggregated with
the same helpers as ``analyze``'s ``summary.json`` (:mod:`feelinvideo.outputs.summary`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import pandas as pd

from ..errors import OptionError
from ..outputs.summary import group_totals, time_windows
from ..schema import (
    DEFAULT_REPORT_WINDOW_S,
    EMOTIONS,
    FACE_COLUMNS,
    MAX_WINDOWS,
    format_time,
    is_unknown,
)
from .runs import Run

#: Default length of the time windows, seconds.
DEFAULT_WINDOW_S = DEFAULT_REPORT_WINDOW_S

#: ``class_summary.csv`` columns, in order.
CLASS_SUMMARY_COLUMNS: tuple[str, ...] = (
    "person",
    "videos",
    "attended",
    *(f"sum_{e}" for e in EMOTIONS),
    *(f"mean_{e}" for e in EMOTIONS),
    "dominant_emotion",
    "positive",
    "negative",
    "verdict",
)

#: ``windows.csv`` columns, in order.
WINDOW_COLUMNS: tuple[str, ...] = (
    "video",
    "window",
    "start_s",
    "end_s",
    "start",
    "end",
    "faces",
    "frames",
    "people",
    *(f"mean_{e}" for e in EMOTIONS),
    "dominant_emotion",
    "positive",
    "negative",
    "verdict",
)


def all_faces(runs: Sequence[Run]) -> pd.DataFrame:
    """The faces of every run in one frame.

    Returns:
        one row per face, columns FACE_COLUMNS + ``person``, ``video`` (run order kept);
        an empty frame with those columns when no run has a face.
    """
    columns = list(FACE_COLUMNS) + ["person", "video"]
    frames = [r.faces[columns] for r in runs if len(r.faces)]
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
        return empty.astype({"person": object, "video": object, "dominant_emotion": object})
    return pd.concat(frames, ignore_index=True)


def person_order(people: Iterable[str], videos: Sequence[str]) -> list[str]:
    """Sort people for display: named people first (case-insensitive alphabetical), then
    ``<video>:unknown-N`` by the video's position in ``videos`` and by N."""
    position = {video: i for i, video in enumerate(videos)}

    def key(person: str):
        video, sep, rest = person.rpartition(":")
        if sep and is_unknown(rest) and video in position:
            digits = re.sub(r"\D", "", rest)
            return (1, position[video], int(digits) if digits else 0, person)
        return (0, 0, 0, person.casefold())

    return sorted(people, key=key)


def class_summary(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per person across all runs (the ``class_summary.csv`` table).

    Args:
        runs: from :func:`feelinvideo.report.runs.load_runs`.

    Returns:
        columns :data:`CLASS_SUMMARY_COLUMNS`: ``videos`` (runs the person was seen in),
        ``attended`` (sampled frames in which the person was seen, summed over runs),
        ``sum_<emotion>`` / ``mean_<emotion>`` (sum / mean of the person's face scores, means
        in [0, 1]), ``dominant_emotion`` (confidence-weighted), ``positive`` / ``negative``
        (sums of happy + surprise / angry + disgust + fear + sad) and ``verdict`` (the interest
        rule). Rows in :func:`person_order`. Zero faces gives zero rows.
    """
    faces = all_faces(runs)
    if not len(faces):
        return pd.DataFrame(columns=list(CLASS_SUMMARY_COLUMNS))
    totals = group_totals(faces, "person")
    seen = faces.drop_duplicates(["person", "video", "frame_index"])
    totals["attended"] = seen.groupby("person").size()
    totals["videos"] = faces.groupby("person")["video"].nunique()
    totals.index.name = "person"
    order = person_order(totals.index, [r.video for r in runs])
    table = totals.loc[order].reset_index()
    table["videos"] = table["videos"].astype(int)
    table["attended"] = table["attended"].astype(int)
    return table[list(CLASS_SUMMARY_COLUMNS)]


def attendance_table(runs: Sequence[Run], people: Sequence[str]) -> pd.DataFrame:
    """Sampled frames in which each person was seen, per video.

    Args:
        runs: the runs.
        people: the rows wanted, in order (usually ``class_summary(runs)["person"]``).

    Returns:
        persons (rows, in the order of ``people``) x videos (columns, in run order), ints >= 0.
    """
    faces = all_faces(runs)
    videos = [r.video for r in runs]
    if not len(faces):
        return pd.DataFrame(0, index=list(people), columns=videos, dtype=int)
    seen = faces.drop_duplicates(["person", "video", "frame_index"])
    table = seen.groupby(["person", "video"]).size().unstack(fill_value=0)
    return table.reindex(index=list(people), columns=videos, fill_value=0).astype(int)


def window_table(runs: Sequence[Run], window_s: float = DEFAULT_WINDOW_S) -> pd.DataFrame:
    """Per video and time window of ``window_s`` seconds (the ``windows.csv`` table).

    Each run's windows cover ``[0, duration]`` (duration from ``summary.json``, else the last
    face), the last one possibly shorter.

    Returns:
        columns :data:`WINDOW_COLUMNS`: ``window`` (1-based), ``start_s``/``end_s`` (seconds)
        and ``start``/``end`` (``HH:MM:SS``, ``.mmm`` added when not whole), ``faces``,
        ``frames`` (sampled frames with a face), ``people`` (distinct persons),
        ``mean_<emotion>`` (in [0, 1]; 0 without faces), ``dominant_emotion``
        (confidence-weighted; blank without faces), ``positive``, ``negative`` and ``verdict``.

    Raises:
        ValueError: ``window_s`` <= 0.
        OptionError: a video would be cut into more than :data:`~feelinvideo.schema.
            MAX_WINDOWS` windows.
    """
    for run in runs:
        if window_s > 0 and run.duration_s / window_s > MAX_WINDOWS:
            raise OptionError(
                f"--window {window_s:g} s cuts {run.video} ({run.duration_s:.1f} s) into "
                f"{math.ceil(run.duration_s / window_s):,} windows; at most {MAX_WINDOWS:,} "
                f"(a window of {run.duration_s / MAX_WINDOWS:.3g} s or more)"
            )
    rows = []
    for run in runs:
        windows = time_windows(run.faces, window_s, run.duration_s, person_column="person")
        for k, w in enumerate(windows, start=1):
            row = {
                "video": run.video,
                "window": k,
                "start_s": w["start_s"],
                "end_s": w["end_s"],
                "start": format_time(w["start_s"], millis=None),
                "end": format_time(w["end_s"], millis=None),
                "faces": w["faces"],
                "frames": w["frames"],
                "people": w["people"],
            }
            row.update({f"mean_{e}": w["mean_scores"][e] for e in EMOTIONS})
            row.update(
                dominant_emotion=w["dominant_emotion"] or "",
                positive=w["positive"],
                negative=w["negative"],
                verdict=w["verdict"],
            )
            rows.append(row)
    return pd.DataFrame(rows, columns=list(WINDOW_COLUMNS))
