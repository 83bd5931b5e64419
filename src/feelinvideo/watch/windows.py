"""Per-window aggregation of a live watch, and the running totals its summary.json needs.

A window's rows are the ``faces.csv`` rows (:func:`feelinvideo.outputs.table.faces_table`)
of the frames analysed in it; its numbers come from the same functions as ``analyze``'s
windows (:func:`feelinvideo.outputs.summary.emotion_totals`, ``weighted_dominant``) and the
interest rule of :func:`feelinvideo.schema.verdict`. The run's totals are sums, counts and
per-person sums folded in window by window (:class:`RunTotals`), so memory does not grow
with the length of the watch: no table of every row is kept.

Faces too small to score reliably (``emotion_reliable`` false in the rows: ``face_px``
under ``--min-emotion-face``) count as present (``faces``, ``frames``, people) but not in
any emotion number, as in ``analyze``: each window and the totals say how many faces were
counted (``emotion_faces``) and how many left out (``small_faces``).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from ..outputs.people import people_json_frame
from ..outputs.summary import counted_rows, emotion_totals
from ..schema import (
    DEFAULT_NEUTRAL_MARGIN,
    EMOTIONS,
    NEGATIVE,
    POSITIVE,
    format_time,
    is_unknown,
    verdict,
)

#: Windows kept for summary.json (the latest; stdout and faces.csv have them all).
MAX_SUMMARY_WINDOWS = 10_000
#: Frames per person kept for people.json (evenly thinned as the watch goes on).
MAX_PERSON_FRAMES = 200
#: People with per-person totals (the first seen; later ones are counted in the totals only).
MAX_PEOPLE = 2_000


def window_summary(
    df: pd.DataFrame, start_s: float, end_s: float, sampled_frames: int, dropped: int
) -> dict:
    """One window's numbers.

    Args:
        df: the window's ``faces.csv`` rows (with ``person`` when identity runs).
        start_s, end_s: the window, seconds since the watch started.
        sampled_frames: frames analysed in the window; dropped: frames dropped in it.

    Returns:
        ``start_s, end_s, faces, frames`` (frames with a face), ``emotion_faces`` (faces
        whose emotion is counted: ``emotion_reliable``, every face without the column),
        ``small_faces`` (faces left out as too small to score), ``sampled_frames,
        dropped, mean_scores, dominant_share`` (fraction of counted faces per dominant
        emotion), ``dominant_emotion`` (confidence-weighted, None without counted faces),
        ``positive, negative, verdict`` (over the counted faces); with a ``person`` column
        also ``people`` (count, every face) and ``people_present`` (names, in order of
        first appearance in the window).
    """
    totals = emotion_totals(df)
    window = {
        "start_s": round(float(start_s), 3),
        "end_s": round(float(end_s), 3),
        "faces": int(len(df)),
        "emotion_faces": int(totals["emotion_faces"]),
        "small_faces": int(totals["small_faces"]),
        "frames": int(df["frame_index"].nunique()) if len(df) else 0,
        "sampled_frames": int(sampled_frames),
        "dropped": int(dropped),
        "mean_scores": totals["mean_scores"],
        "dominant_share": totals["dominant_share"],
        "dominant_emotion": totals["dominant_emotion"],
        "positive": totals["positive"],
        "negative": totals["negative"],
        "verdict": totals["verdict"],
    }
    if "person" in df.columns:
        present = [str(p) for p in pd.unique(df["person"]) if str(p)]
        window["people"] = len(present)
        window["people_present"] = present
    return window


def describe_window(window: dict, clock: str | None = None) -> str:
    """One line for stdout: wall-clock time, the window, faces (and how many were left out
    as too small to score), people present, emotion mix (share of counted faces per
    dominant emotion) and verdict."""
    span = f"{format_time(window['start_s'], False)}-{format_time(window['end_s'], False)}"
    parts = [clock, span] if clock else [span]
    small = window.get("small_faces", 0)
    left_out = f" ({small} too small, not counted)" if small else ""
    parts.append(f"faces {window['faces']}{left_out}")
    if "people" in window:
        names = ", ".join(window["people_present"][:8])
        more = len(window["people_present"]) - 8
        names += f", +{more}" if more > 0 else ""
        parts.append(f"people {window['people']}" + (f" ({names})" if names else ""))
    mix = sorted(window["dominant_share"].items(), key=lambda kv: -kv[1])
    parts.append(" ".join(f"{e} {100 * v:.0f}%" for e, v in mix if v > 0) or "-")
    parts.append(window["verdict"])
    return "  ".join(parts)


class RunTotals:
    """Sums over every window of a watch, for its summary.json (the keys of ``analyze``'s).

    Memory is bounded: a few numbers per person (at most :data:`MAX_PEOPLE`), up to
    :data:`MAX_PERSON_FRAMES` frames per person for people.json, and the latest
    :data:`MAX_SUMMARY_WINDOWS` windows.
    """

    def __init__(self, margin: float = DEFAULT_NEUTRAL_MARGIN):
        self.margin = float(margin)
        self.faces = 0
        self.emotion_faces = 0  # faces whose emotion is counted (emotion_reliable)
        self.frames_with_faces = 0
        self.sampled_frames = 0
        self.sums = np.zeros(len(EMOTIONS))
        self.dominant = np.zeros(len(EMOTIONS), dtype=np.int64)
        self.weighted = np.zeros(len(EMOTIONS))  # scores x detection confidence
        self.windows: deque[dict] = deque(maxlen=MAX_SUMMARY_WINDOWS)
        self.window_count = 0
        self.people: dict[str, dict] = {}
        self.people_not_kept = 0

    def add(self, df: pd.DataFrame, window: dict) -> None:
        """Fold in one window's rows and its :func:`window_summary`."""
        self.window_count += 1
        self.windows.append(window)
        self.sampled_frames += window["sampled_frames"]
        if not len(df):
            return
        counted = counted_rows(df)
        # a face left out as too small adds nothing to any emotion number
        scores = np.where(counted[:, None], df[list(EMOTIONS)].to_numpy(dtype=float), 0.0)
        self.faces += len(df)
        self.emotion_faces += int(counted.sum())
        self.frames_with_faces += int(df["frame_index"].nunique())
        self.sums += scores.sum(axis=0)
        self.dominant += np.bincount(
            scores[counted].argmax(axis=1), minlength=len(EMOTIONS)
        ).astype(np.int64)
        weights = df["detection_confidence"].to_numpy(dtype=float)[:, None]
        self.weighted += (scores * weights).sum(axis=0)
        if "person" in df.columns:
            self._add_people(df, scores, weights, counted)

    def _add_people(
        self, df: pd.DataFrame, scores: np.ndarray, weights: np.ndarray, counted: np.ndarray
    ) -> None:
        for person, idx in df.groupby("person", sort=False).indices.items():
            person = str(person)
            if not person:
                continue
            entry = self.people.get(person)
            if entry is None:
                if len(self.people) >= MAX_PEOPLE:
                    self.people_not_kept += 1
                    continue
                entry = self.people[person] = {
                    "faces": 0,
                    "emotion_faces": 0,
                    "frames": 0,
                    "first_s": float("inf"),
                    "last_s": 0.0,
                    "sums": np.zeros(len(EMOTIONS)),
                    "weighted": np.zeros(len(EMOTIONS)),
                    "distances": [],
                    "rows": [],
                }
            rows = df.iloc[idx]
            times = rows["timestamp_s"].to_numpy(dtype=float)
            entry["faces"] += len(idx)
            entry["emotion_faces"] += int(counted[idx].sum())
            entry["frames"] += int(rows["frame_index"].nunique())
            entry["first_s"] = min(entry["first_s"], float(times.min()))
            entry["last_s"] = max(entry["last_s"], float(times.max()))
            entry["sums"] += scores[idx].sum(axis=0)
            entry["weighted"] += (scores[idx] * weights[idx]).sum(axis=0)
            distance = pd.to_numeric(rows["match_distance"], errors="coerce").dropna()
            entry["distances"] = _thin(entry["distances"] + list(distance), 100)
            entry["rows"] = _thin(
                entry["rows"]
                + list(
                    rows[["frame_index", "timestamp_s", "x_min", "y_min", "x_max", "y_max"]]
                    .drop_duplicates("frame_index")
                    .itertuples(index=False, name=None)
                ),
                MAX_PERSON_FRAMES,
            )

    def summary_fields(self) -> dict:
        """``sampled_frames, frames_with_faces, faces, emotion_faces, small_faces,
        mean_scores, dominant_share, positive, negative, verdict, windows`` as in
        ``analyze``'s summary.json (emotions over the counted faces only)."""
        n = self.emotion_faces
        means = {e: float(self.sums[j] / n) if n else 0.0 for j, e in enumerate(EMOTIONS)}
        share = {e: float(self.dominant[j] / n) if n else 0.0 for j, e in enumerate(EMOTIONS)}
        positive, negative = _positive_negative(self.sums)
        dominant = EMOTIONS[int(np.argmax(self.weighted))] if n else None
        out = {
            "sampled_frames": int(self.sampled_frames),
            "frames_with_faces": int(self.frames_with_faces),
            "faces": int(self.faces),
            "emotion_faces": int(n),
            "small_faces": int(self.faces - n),
            "mean_scores": means,
            "dominant_share": share,
            "positive": positive,
            "negative": negative,
            "dominant_emotion": dominant,
            "neutral_margin": self.margin,
            "verdict": verdict(positive, negative, n, dominant, self.margin),
            "windows": list(self.windows),
        }
        if not self.faces:
            out["message"] = "no faces were found"
        return out

    def person_summaries(self) -> list[dict]:
        """Per person, in order of first appearance, the keys of ``analyze``'s summary
        (:func:`feelinvideo.outputs.people.person_summaries`): emotions over the person's
        counted faces (``emotion_faces``), None / 0 / neutral without any."""
        out = []
        for name, p in sorted(self.people.items(), key=lambda kv: kv[1]["first_s"]):
            positive, negative = _positive_negative(p["sums"])
            scored = int(p["emotion_faces"])
            dominant = EMOTIONS[int(np.argmax(p["weighted"]))] if scored else None
            distances = p["distances"]
            out.append(
                {
                    "person": name,
                    "enrolled": not is_unknown(name),
                    "frames": int(p["frames"]),
                    "faces": int(p["faces"]),
                    "emotion_faces": scored,
                    "first_seen_s": round(p["first_s"], 3),
                    "last_seen_s": round(p["last_s"], 3),
                    "match_distance": round(float(np.median(distances)), 4) if distances else None,
                    "mean_scores": {
                        e: round(float(p["sums"][j] / max(scored, 1)), 4)
                        for j, e in enumerate(EMOTIONS)
                    },
                    "dominant_emotion": dominant,
                    "positive": round(positive, 4),
                    "negative": round(negative, 4),
                    "verdict": verdict(positive, negative, scored, dominant, self.margin),
                }
            )
        return out

    def people_json(self, width: int, height: int) -> dict:
        """``people.json`` in ``analyze``'s shape (see :func:`feelinvideo.outputs.people.
        people_json`), with at most :data:`MAX_PERSON_FRAMES` frames a person, evenly
        spread over the watch."""
        width, height = max(int(width), 1), max(int(height), 1)
        people = []
        for name, p in sorted(self.people.items(), key=lambda kv: kv[1]["first_s"]):
            frames = [people_json_frame(f, t, xyxy, width, height) for f, t, *xyxy in p["rows"]]
            people.append({"Person": name, "Enrolled": not is_unknown(name), "Frames": frames})
        return {"People": people}


def _positive_negative(sums: np.ndarray) -> tuple[float, float]:
    """Summed POSITIVE and NEGATIVE scores from per-emotion sums (shape (7,), EMOTIONS order)."""
    positive = float(sum(sums[EMOTIONS.index(e)] for e in POSITIVE))
    negative = float(sum(sums[EMOTIONS.index(e)] for e in NEGATIVE))
    return positive, negative


def _thin(items: list, limit: int) -> list:
    """Every other item once ``items`` exceeds ``limit`` (even spacing over time)."""
    while len(items) > limit:
        items = items[::2]
    return items


def percentiles(values, qs=(50, 95)) -> dict:
    """``{"p50": s, "p95": s, "max": s}`` of ``values`` (seconds), None when empty."""
    values = np.asarray(list(values), dtype=float)
    if not len(values):
        return {f"p{q}": None for q in qs} | {"max": None}
    out = {f"p{q}": round(float(np.percentile(values, q)), 3) for q in qs}
    return out | {"max": round(float(values.max()), 3)}
