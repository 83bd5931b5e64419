"""Aggregates over per-face rows: emotion means, dominant shares, interest verdict, time windows.

Works on a pandas DataFrame with the ``faces.csv`` columns (see
:data:`feelinvideo.schema.FACE_COLUMNS`), so ``analyze`` and ``report`` compute the same
numbers from the same rows.

Faces too small to score reliably are counted, not hidden: where the rows have an
``emotion_reliable`` column (``analyze`` writes it; the report sets it by its own
``--min-emotion-face``, :func:`mark_reliable`), the emotion numbers (means, shares, sums,
dominant emotion, verdict) come from the reliable faces only, ``faces`` still counts every
face, and ``emotion_faces`` says how many were counted. Without the column every face counts.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import (
    DEFAULT_MIN_EMOTION_FACE_PX,
    DEFAULT_NEUTRAL_MARGIN,
    EMOTIONS,
    NEGATIVE,
    POSITIVE,
    counted,
    format_time,
    noun,
    verdict,
    verdict_reason,
)


def face_px(df: pd.DataFrame) -> np.ndarray:
    """float64 (N,): each row's face size in pixels, its ``face_px`` column where present,
    else the longer side of its box (``x_min .. y_max``)."""
    if "face_px" in df.columns:
        return pd.to_numeric(df["face_px"], errors="coerce").to_numpy(dtype=float)
    w = df["x_max"].to_numpy(dtype=float) - df["x_min"].to_numpy(dtype=float)
    h = df["y_max"].to_numpy(dtype=float) - df["y_min"].to_numpy(dtype=float)
    return np.round(np.maximum(np.maximum(w, h), 0.0), 1)


def mark_reliable(
    df: pd.DataFrame, min_emotion_face_px: float = DEFAULT_MIN_EMOTION_FACE_PX
) -> pd.DataFrame:
    """``df`` with ``face_px`` (:func:`face_px`) and ``emotion_reliable`` (bool: ``face_px``
    at least ``min_emotion_face_px``; 0 marks every face) set, the other columns as they were.

    Raises:
        ValueError: ``min_emotion_face_px`` is not a finite number >= 0.
    """
    threshold = check_min_emotion_face(min_emotion_face_px)
    side = face_px(df)
    return df.assign(face_px=side, emotion_reliable=np.nan_to_num(side, nan=0.0) >= threshold)


def check_min_emotion_face(value: float) -> float:
    """``value`` as a float when it is a finite number >= 0 (pixels); else ValueError."""
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"min_emotion_face_px must be a finite number >= 0, got {value}")
    return value


def counted_rows(df: pd.DataFrame) -> np.ndarray:
    """bool (N,): the rows whose emotion is counted (``emotion_reliable``; every row when
    the column is absent)."""
    if "emotion_reliable" not in df.columns:
        return np.ones(len(df), dtype=bool)
    values = df["emotion_reliable"]
    if values.dtype != bool:
        values = values.astype(str).str.strip().str.lower().isin(("true", "1", "1.0"))
    return values.to_numpy(dtype=bool)


def emotion_totals(df: pd.DataFrame, margin: float = DEFAULT_NEUTRAL_MARGIN) -> dict:
    """Mean score per emotion, share of each dominant emotion, positive/negative totals, verdict.

    Args:
        df: rows with the seven EMOTIONS columns (scores in [0, 1]), ``dominant_emotion``
            and ``detection_confidence`` (and ``emotion_reliable``: only those rows count).
        margin: the verdict's neutral margin per face (:func:`feelinvideo.schema.verdict`).

    Returns:
        dict with ``mean_scores`` ({emotion: mean in [0, 1]}), ``dominant_share``
        ({emotion: fraction of counted faces in [0, 1]}), ``positive`` and ``negative``
        (sums of scores over the counted faces, >= 0), ``dominant_emotion``
        (confidence-weighted, None without counted faces), ``verdict`` (see
        :func:`feelinvideo.schema.verdict`), ``emotion_faces`` (faces counted) and
        ``small_faces`` (faces left out as too small to score reliably).
        With no counted rows, means and shares are 0 and the verdict is ``"neutral"``.
    """
    mask = counted_rows(df)
    total = len(df)
    df = df[mask] if not mask.all() else df
    n = len(df)
    means = {e: float(df[e].mean()) if n else 0.0 for e in EMOTIONS}
    counts = df["dominant_emotion"].value_counts() if n else pd.Series(dtype=int)
    share = {e: float(counts.get(e, 0)) / n if n else 0.0 for e in EMOTIONS}
    positive = float(df[list(POSITIVE)].to_numpy().sum()) if n else 0.0
    negative = float(df[list(NEGATIVE)].to_numpy().sum()) if n else 0.0
    dominant = weighted_dominant(df)
    return {
        "mean_scores": means,
        "dominant_share": share,
        "positive": positive,
        "negative": negative,
        "dominant_emotion": dominant,
        "verdict": verdict(positive, negative, n, dominant, margin),
        "emotion_faces": n,
        "small_faces": total - n,
    }


def weighted_dominant(df: pd.DataFrame) -> str | None:
    """Dominant emotion of a group of faces, each face's scores weighted by detection confidence.

    Returns None for an empty group.
    """
    if not len(df):
        return None
    weights = df["detection_confidence"].to_numpy(dtype=float)
    totals = (df[list(EMOTIONS)].to_numpy(dtype=float) * weights[:, None]).sum(axis=0)
    return EMOTIONS[int(np.argmax(totals))]


def time_windows(
    df: pd.DataFrame,
    window_s: float,
    duration_s: float,
    person_column: str | None = None,
    margin: float = DEFAULT_NEUTRAL_MARGIN,
) -> list[dict]:
    """Split faces into consecutive windows of ``window_s`` seconds covering ``[0, duration_s]``.

    Args:
        df: rows with the ``faces.csv`` columns (``timestamp_s`` in seconds >= 0).
        window_s: window length in seconds (> 0).
        duration_s: video length in seconds; the windows reach the later of it and the last face.
        person_column: when given, each window also gets ``people``, the number of distinct
            values of that column among its faces.
        margin: the verdict's neutral margin per face (:func:`feelinvideo.schema.verdict`).

    Returns:
        one dict per window: ``start_s``, ``end_s``, ``faces`` (count), ``emotion_faces``
        (faces whose emotion is counted), ``frames`` (sampled frames with a face),
        ``mean_scores``, ``dominant_emotion`` (confidence-weighted; None when the window has
        no counted face), ``positive``, ``negative``, ``verdict`` (over the counted faces;
        and ``people`` with ``person_column``).

    Raises:
        ValueError: ``window_s`` <= 0.
    """
    if window_s <= 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    end = max(float(duration_s), float(df["timestamp_s"].max()) if len(df) else 0.0)
    count = max(1, math.ceil(end / window_s - 1e-9))
    index = (df["timestamp_s"].to_numpy(dtype=float) // window_s).astype(int)
    keyed = df.assign(_window=np.minimum(index, count - 1))
    totals = group_totals(keyed, "_window", margin)
    grouped = keyed.groupby("_window")
    frames = grouped["frame_index"].nunique()
    people = grouped[person_column].nunique() if person_column is not None else None
    windows = []
    for k in range(count):
        seen = k in totals.index
        row = totals.loc[k] if seen else None
        window = {
            "start_s": round(k * window_s, 3),
            "end_s": round(min((k + 1) * window_s, end) if end > 0 else window_s, 3),
            "faces": int(row["faces"]) if seen else 0,
            "emotion_faces": int(row["emotion_faces"]) if seen else 0,
            "frames": int(frames[k]) if seen else 0,
            "mean_scores": {e: float(row[f"mean_{e}"]) if seen else 0.0 for e in EMOTIONS},
            "dominant_emotion": _label(row["dominant_emotion"]) if seen else None,
            "positive": float(row["positive"]) if seen else 0.0,
            "negative": float(row["negative"]) if seen else 0.0,
            "verdict": row["verdict"] if seen else verdict(0.0, 0.0, 0),
        }
        if people is not None:
            window["people"] = int(people[k]) if seen else 0
        windows.append(window)
    return windows


def group_totals(
    df: pd.DataFrame, by: str | list[str], margin: float = DEFAULT_NEUTRAL_MARGIN
) -> pd.DataFrame:
    """Per-group emotion totals for many groups at once (e.g. one group per person).

    The vectorised counterpart of :func:`emotion_totals` + :func:`weighted_dominant`: the
    same sums, means, interest rule and confidence-weighted dominant emotion, computed with
    one ``groupby`` so that hundreds of groups stay fast.

    Args:
        df: rows with the seven EMOTIONS columns (scores in [0, 1]), ``detection_confidence``
            and the ``by`` column(s) (and ``emotion_reliable``: only those rows' emotions
            count).
        by: column name(s) to group by.
        margin: the verdict's neutral margin per face (:func:`feelinvideo.schema.verdict`).

    Returns:
        one row per group (indexed by ``by``, sorted), columns ``faces`` (count),
        ``emotion_faces`` (faces whose emotion is counted), ``sum_<emotion>`` (sum of
        counted scores, >= 0) and ``mean_<emotion>`` (in [0, 1]; 0 without counted faces)
        for the seven emotions, ``dominant_emotion`` (confidence-weighted; None without
        counted faces), ``positive`` and ``negative`` (summed scores, >= 0) and
        ``verdict``. No rows gives an empty frame with these columns.
    """
    emotions = list(EMOTIONS)
    columns = (
        ["faces", "emotion_faces"]
        + [f"sum_{e}" for e in EMOTIONS]
        + [f"mean_{e}" for e in EMOTIONS]
        + ["dominant_emotion", "positive", "negative", "verdict"]
    )
    if not len(df):
        return pd.DataFrame(columns=columns)
    mask = counted_rows(df)
    scores = df[emotions].astype(float).where(pd.Series(mask, index=df.index), 0.0)
    weighted = scores.mul(df["detection_confidence"].astype(float), axis=0)
    keys = [df[c] for c in ([by] if isinstance(by, str) else by)]
    grouped = scores.groupby(keys, sort=True)
    sums = grouped.sum()
    counts = grouped.size()
    scored = pd.Series(mask.astype(int), index=df.index).groupby(keys, sort=True).sum()
    scored = scored.loc[sums.index]
    weighted_sums = weighted.groupby(keys, sort=True).sum().loc[sums.index]
    out = pd.DataFrame(index=sums.index)
    out["faces"] = counts.astype(int)
    out["emotion_faces"] = scored.astype(int)
    for e in EMOTIONS:
        out[f"sum_{e}"] = sums[e]
    safe = scored.where(scored > 0, 1)
    for e in EMOTIONS:
        out[f"mean_{e}"] = sums[e] / safe
    dominant = [EMOTIONS[i] for i in np.argmax(weighted_sums.to_numpy(), axis=1)]
    out["dominant_emotion"] = [d if n > 0 else None for d, n in zip(dominant, scored)]
    out["positive"] = sums[list(POSITIVE)].sum(axis=1)
    out["negative"] = sums[list(NEGATIVE)].sum(axis=1)
    out["verdict"] = [
        verdict(p, n, f, d, margin)
        for p, n, f, d in zip(
            out["positive"], out["negative"], out["emotion_faces"], out["dominant_emotion"]
        )
    ]
    return out[columns]


def run_summary(
    df: pd.DataFrame,
    info,
    sampled_frames: int,
    backend: str,
    every_s: float,
    window_s: float,
    margin: float = DEFAULT_NEUTRAL_MARGIN,
    min_emotion_face_px: float | None = None,
) -> dict:
    """The ``summary.json`` dict of one run, before its people and ``outputs`` keys.

    Args:
        df: the run's ``faces.csv`` table.
        info: the video's :class:`feelinvideo.video.VideoInfo`.
        sampled_frames: frames analysed.
        backend: the backend's name.
        every_s, window_s: the sampling interval and window length used, in seconds.
        margin: the verdict's neutral margin per face (``--neutral-margin``).
        min_emotion_face_px: the ``--min-emotion-face`` that set ``df``'s
            ``emotion_reliable`` column, written as ``min_emotion_face_px`` (None: not
            written).

    Returns:
        ``video, backend, every_s, window_s, neutral_margin, min_emotion_face_px,
        sampled_frames, frames_with_faces, faces, mean_scores, dominant_share, positive,
        negative, dominant_emotion, verdict, emotion_faces, small_faces, windows`` (and
        ``message`` when no face was found), as docs/outputs.md describes.
    """
    summary = {
        "video": {
            "path": str(Path(info.path).resolve()),
            "duration_s": round(info.duration_s, 3),
            "fps": round(info.fps, 3),
            "width": info.width,
            "height": info.height,
            "frame_count": info.frame_count,
        },
        "backend": backend,
        "every_s": every_s,
        "window_s": window_s,
        "neutral_margin": margin,
        **({} if min_emotion_face_px is None else {"min_emotion_face_px": min_emotion_face_px}),
        "sampled_frames": int(sampled_frames),
        "frames_with_faces": int(df["frame_index"].nunique()) if len(df) else 0,
        "faces": int(len(df)),
        **emotion_totals(df, margin),
        "windows": time_windows(df, window_s, info.duration_s, margin=margin),
    }
    if not len(df):
        summary["message"] = "no faces were found"
    return summary


def _label(value) -> str | None:
    """An emotion label from a table cell: None for a missing one (None or NaN)."""
    return value if isinstance(value, str) and value else None


def rounded(value, digits: int = 4):
    """``value`` with every float inside it (dicts, lists) rounded to ``digits`` decimals."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def describe(summary: dict, out_dir: str | os.PathLike | None = None) -> str:
    """A short human summary of a run's ``summary.json`` dict, for stdout: the video, the
    faces whose emotion was counted, the dominant emotions, the verdict, the windows, the
    people and (once saved into ``out_dir``) the files written."""
    s = summary
    video = s["video"]
    lines = [
        f"{Path(video['path']).name}: {video['duration_s']:.1f} s, "
        f"{video['width']}x{video['height']}, {counted(s['sampled_frames'], 'sampled frame')}, "
        f"{s['frames_with_faces']} with faces, {counted(s['faces'], 'face')}",
    ]
    counted_faces = s.get("emotion_faces", s["faces"])
    small = s.get("small_faces", 0)
    if s["faces"]:
        limit = s.get("min_emotion_face_px")
        under = f" under {limit:g} px" if isinstance(limit, (int, float)) else ""
        lines.append(
            f"emotions counted from {counted_faces} of {counted(s['faces'], 'face')}"
            + (
                f" ({counted(small, 'face')}{under} left out as too small to score)"
                if small
                else ""
            )
        )
    if not s["faces"]:
        lines.append("no faces were found")
    elif not counted_faces:
        lines.append("no face was large enough to score its emotion (see --min-emotion-face)")
    else:
        shares = sorted(s["dominant_share"].items(), key=lambda kv: -kv[1])
        lines.append(
            "dominant emotions: " + ", ".join(f"{e} {100 * v:.0f}%" for e, v in shares if v > 0)
        )
        reason = verdict_reason(
            s["positive"],
            s["negative"],
            counted_faces,
            s.get("dominant_emotion"),
            s.get("neutral_margin", DEFAULT_NEUTRAL_MARGIN),
        )
        lines.append(f"verdict: {s['verdict']} ({reason})")
        for w in s["windows"]:
            lines.append(
                f"  {format_time(w['start_s'], False)}-{format_time(w['end_s'], False)}  "
                f"{w['faces']:4d} {noun(w['faces'], 'face'):<5}  {w['dominant_emotion'] or '-'}"
            )
    if "people" in s:
        dropped = s["people_left_out"]
        left = f" ({dropped} seen too briefly left out)" if dropped else ""
        lines.append(f"people: {s['people_count']}{left}")
        for p in s["people"]:
            lines.append(
                f"  {p['person']:<20} {p['frames']:5d} {noun(p['frames'], 'frame'):<6}  "
                f"{p['dominant_emotion'] or '-':<9} {p['verdict']}"
            )
    if out_dir is not None and s.get("outputs"):
        lines.append("wrote: " + ", ".join(str(Path(out_dir) / p) for p in s["outputs"].values()))
    return "\n".join(lines)
