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
    DEFAULT_NEUTRAL_MARGIN,
    DEFAULT_REPORT_WINDOW_S,
    EMOTION_SIZE_COLUMNS,
    EMOTIONS,
    FACE_COLUMNS,
    MAX_WINDOWS,
    format_time,
    is_unknown,
)
from .load import Run

#: Length of the time windows when a video's own is not chosen, seconds.
DEFAULT_WINDOW_S = DEFAULT_REPORT_WINDOW_S
#: Windows per video aimed at when ``--window`` is not given (see :func:`auto_window_s`).
TARGET_WINDOWS = 30
#: Round window lengths, seconds, from which :func:`auto_window_s` picks.
WINDOW_STEPS: tuple[float, ...] = (
    0.5,
    1,
    2,
    5,
    10,
    15,
    20,
    30,
    60,
    120,
    180,
    300,
    600,
    900,
    1200,
    1800,
    3600,
)


def auto_window_s(duration_s: float, sample_interval_s: float = 0.0) -> float:
    """A window length that suits a video: the smallest round step (:data:`WINDOW_STEPS`)
    giving at most :data:`TARGET_WINDOWS` windows over ``duration_s`` and no shorter than
    the sampling interval (so that every window can hold a sampled frame)."""
    wanted = max(float(duration_s) / TARGET_WINDOWS, float(sample_interval_s))
    return float(next((s for s in WINDOW_STEPS if s >= wanted - 1e-9), WINDOW_STEPS[-1]))


#: ``class_summary.csv`` columns, in order.
CLASS_SUMMARY_COLUMNS: tuple[str, ...] = (
    "person",
    "videos",
    "attended",
    "minutes",
    "faces",
    "emotion_faces",
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
    "emotion_faces",
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
        one row per face, columns FACE_COLUMNS + ``person``, ``video`` (run order kept),
        then ``face_px`` and ``emotion_reliable`` where every run has them
        (:func:`feelinvideo.outputs.summary.mark_reliable`); an empty frame with those
        columns when no run has a face.
    """
    columns = list(FACE_COLUMNS) + ["person", "video"]
    if runs and all("emotion_reliable" in r.faces.columns for r in runs):
        columns += list(EMOTION_SIZE_COLUMNS)
    frames = [r.faces[columns] for r in runs if len(r.faces)]
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
        types = {"person": object, "video": object, "dominant_emotion": object}
        if "emotion_reliable" in columns:
            types["emotion_reliable"] = bool
        return empty.astype(types)
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


def class_summary(runs: Sequence[Run], margin: float = DEFAULT_NEUTRAL_MARGIN) -> pd.DataFrame:
    """One row per person across all runs (the ``class_summary.csv`` table).

    Args:
        runs: from :func:`feelinvideo.report.runs.load_runs`.
        margin: the verdict's neutral margin per face (:func:`feelinvideo.schema.verdict`).

    Returns:
        columns :data:`CLASS_SUMMARY_COLUMNS`: ``videos`` (runs the person was seen in),
        ``attended`` (sampled frames in which the person was seen, summed over runs),
        ``minutes`` (minutes of video the person was present: each sampled frame they were
        seen in counts for its run's sampling interval), ``faces`` (all the person's faces),
        ``emotion_faces`` (those large enough for their emotion to count),
        ``sum_<emotion>`` / ``mean_<emotion>`` (sum / mean of the person's counted face
        scores, means in [0, 1]; 0 without counted faces), ``dominant_emotion``
        (confidence-weighted; blank without counted faces), ``positive`` / ``negative``
        (sums of happy + surprise / angry + disgust + fear + sad) and ``verdict`` (the interest
        rule). Rows in :func:`person_order`. Zero faces gives zero rows.
    """
    faces = all_faces(runs)
    if not len(faces):
        return pd.DataFrame(columns=list(CLASS_SUMMARY_COLUMNS))
    totals = group_totals(faces, "person", margin)
    seen = faces.drop_duplicates(["person", "video", "frame_index"])
    totals["attended"] = seen.groupby("person").size()
    totals["minutes"] = presence_minutes(runs).groupby(level="person").sum()
    totals["videos"] = faces.groupby("person")["video"].nunique()
    totals.index.name = "person"
    order = person_order(totals.index, [r.video for r in runs])
    table = totals.loc[order].reset_index()
    table["videos"] = table["videos"].astype(int)
    table["attended"] = table["attended"].astype(int)
    table["dominant_emotion"] = table["dominant_emotion"].fillna("")
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


def run_windows_s(runs: Sequence[Run], window_s: float | None = None) -> dict[str, float]:
    """Window length per video (name -> seconds): ``window_s`` for all, or with None
    :func:`auto_window_s` of each video's duration and sampling interval."""
    return {
        r.video: float(window_s)
        if window_s is not None
        else auto_window_s(r.duration_s, r.sample_interval_s)
        for r in runs
    }


def window_table(
    runs: Sequence[Run],
    window_s: float | None = DEFAULT_WINDOW_S,
    margin: float = DEFAULT_NEUTRAL_MARGIN,
) -> pd.DataFrame:
    """Per video and time window of ``window_s`` seconds (the ``windows.csv`` table).

    ``window_s`` None gives each video its own window (:func:`run_windows_s`, about
    :data:`TARGET_WINDOWS` per video). Each run's windows cover ``[0, duration]``
    (duration from ``summary.json``, else the last face), the last one possibly shorter.

    Returns:
        columns :data:`WINDOW_COLUMNS`: ``window`` (1-based), ``start_s``/``end_s`` (seconds)
        and ``start``/``end`` (``HH:MM:SS``, ``.mmm`` added when not whole), ``faces``,
        ``emotion_faces`` (faces whose emotion is counted), ``frames`` (sampled frames with a
        face), ``people`` (distinct persons), ``mean_<emotion>`` (in [0, 1]; 0 without
        counted faces), ``dominant_emotion`` (confidence-weighted; blank without counted
        faces), ``positive``, ``negative`` and ``verdict`` (over the counted faces).

    Raises:
        ValueError: ``window_s`` <= 0.
        OptionError: a video would be cut into more than :data:`~feelinvideo.schema.
            MAX_WINDOWS` windows.
    """
    lengths = run_windows_s(runs, window_s)
    if window_s is not None and window_s <= 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    for run in runs:
        window_s = lengths[run.video]
        if run.duration_s / window_s > MAX_WINDOWS:
            raise OptionError(
                f"--window {window_s:g} s cuts {run.video} ({run.duration_s:.1f} s) into "
                f"{math.ceil(run.duration_s / window_s):,} windows; at most {MAX_WINDOWS:,} "
                f"(a window of {run.duration_s / MAX_WINDOWS:.3g} s or more)"
            )
    rows = []
    for run in runs:
        windows = time_windows(
            run.faces, lengths[run.video], run.duration_s, person_column="person", margin=margin
        )
        for k, w in enumerate(windows, start=1):
            row = {
                "video": run.video,
                "window": k,
                "start_s": w["start_s"],
                "end_s": w["end_s"],
                "start": format_time(w["start_s"], millis=None),
                "end": format_time(w["end_s"], millis=None),
                "faces": w["faces"],
                "emotion_faces": w["emotion_faces"],
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


def presence_minutes(runs: Sequence[Run]) -> pd.Series:
    """Minutes each person was present in each video: sampled frames they were seen in x
    the run's sampling interval, at most the video's duration.

    Returns:
        float Series indexed by (``video``, ``person``).
    """
    parts = []
    for run in runs:
        if not len(run.faces):
            continue
        frames = run.faces.groupby("person")["frame_index"].nunique()
        seconds = frames * run.sample_interval_s
        if run.duration_s > 0:
            seconds = seconds.clip(upper=run.duration_s)
        parts.append(pd.concat({run.video: seconds / 60.0}, names=["video", "person"]))
    if not parts:
        index = pd.MultiIndex.from_tuples([], names=["video", "person"])
        return pd.Series(dtype=float, index=index)
    return pd.concat(parts)


def presence_table(runs: Sequence[Run], margin: float = DEFAULT_NEUTRAL_MARGIN) -> pd.DataFrame:
    """One row per person per video: how long they were there and how they looked.

    Returns:
        columns ``video``, ``person``, ``frames`` (sampled frames seen), ``minutes``
        (:func:`presence_minutes`), ``share`` (of the video's duration, in [0, 1]),
        ``first_s``/``last_s`` (seconds), then :func:`feelinvideo.outputs.summary.
        group_totals`'s columns (``faces``, ``emotion_faces``, ``mean_<emotion>``,
        ``dominant_emotion`` (blank without counted faces),
        ``positive``, ``negative``, ``verdict``). Rows by run, then :func:`person_order`.
    """
    rows = []
    for run in runs:
        if not len(run.faces):
            continue
        faces = run.faces
        totals = group_totals(faces, "person", margin)
        totals["dominant_emotion"] = totals["dominant_emotion"].fillna("")
        grouped = faces.groupby("person")
        totals["frames"] = grouped["frame_index"].nunique()
        totals["minutes"] = presence_minutes([run]).droplevel("video")
        duration = run.duration_s
        totals["share"] = (
            (totals["minutes"] * 60.0 / duration).clip(upper=1.0) if duration > 0 else 0.0
        )
        totals["first_s"] = grouped["timestamp_s"].min()
        totals["last_s"] = grouped["timestamp_s"].max()
        totals["video"] = run.video
        totals.index.name = "person"
        order = person_order(totals.index, [r.video for r in runs])
        rows.append(totals.loc[order].reset_index())
    columns = ["video", "person", "frames", "minutes", "share", "first_s", "last_s"]
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.concat(rows, ignore_index=True)
    return table[columns + [c for c in table.columns if c not in columns]]
