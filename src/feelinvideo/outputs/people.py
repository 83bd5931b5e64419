"""People outputs: ``people.json`` (who was seen when, the seed's shape), the per-person
summary block of ``summary.json`` and ``people.png`` (thumbnails and a timeline per person).

All read the ``faces.csv`` table with its identity columns; whether a person is enrolled
comes from the name (:func:`feelinvideo.schema.is_unknown`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import DEFAULT_NEUTRAL_MARGIN, EMOTIONS, format_time, is_unknown
from .summary import group_totals

#: Thumbnails shown per person in people.png.
THUMBS_PER_PERSON = 4


def with_enrolled(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (with a ``person`` column) plus a bool ``enrolled`` column: not ``unknown-N``."""
    return df.assign(enrolled=~df["person"].astype(str).map(is_unknown).astype(bool))


def people_json(df: pd.DataFrame, width: int, height: int, keep: list[str]) -> dict:
    """The ``people.json`` dict, in the seed's shape.

    ``{"People": [{"Person": name, "Enrolled": bool, "Frames": [{"FrameNumber": int,
    "FrameTimePosition": "HH:MM:SS", "BoundingBox": {"Height", "Left", "Top", "Width"}}]}]}``
    with the box as fractions of the frame (0-1). People appear in ``keep`` order.

    Args:
        df: ``faces.csv`` rows with ``person`` and ``enrolled`` columns.
        width, height: frame size in pixels.
        keep: the people to write (those seen in at least ``--min-frames`` frames).
    """
    people = []
    for name in keep:
        rows = df[df["person"] == name].sort_values(["frame_index", "face_index"])
        frames = [
            people_json_frame(
                r.frame_index, r.timestamp_s, (r.x_min, r.y_min, r.x_max, r.y_max), width, height
            )
            for r in rows.itertuples(index=False)
        ]
        enrolled = bool(rows["enrolled"].iloc[0]) if len(rows) else False
        people.append({"Person": name, "Enrolled": enrolled, "Frames": frames})
    return {"People": people}


def people_json_frame(frame_index: int, timestamp_s: float, xyxy, width: int, height: int) -> dict:
    """One entry of a person's ``Frames`` in ``people.json``: ``FrameNumber``,
    ``FrameTimePosition`` (``HH:MM:SS``) and the ``xyxy`` box (pixels) as a
    ``BoundingBox`` of fractions of the ``width`` x ``height`` frame (0-1, 5 decimals)."""
    x1, y1, x2, y2 = xyxy
    return {
        "FrameNumber": int(frame_index),
        "FrameTimePosition": format_time(timestamp_s, millis=False),
        "BoundingBox": {
            "Height": round((y2 - y1) / height, 5),
            "Left": round(x1 / width, 5),
            "Top": round(y1 / height, 5),
            "Width": round((x2 - x1) / width, 5),
        },
    }


def person_summaries(
    df: pd.DataFrame, keep: list[str], margin: float = DEFAULT_NEUTRAL_MARGIN
) -> list[dict]:
    """Per person: frames attended, first/last seen, mean scores, dominant emotion, verdict.

    ``dominant_emotion`` weights each face's scores by its detection confidence (as the
    summary's time windows do); the verdict is the interest rule over the person's faces
    (:func:`feelinvideo.schema.verdict` with the neutral ``margin`` per face).
    The raw scores are summed, not the track-smoothed ones: a sum over a person's faces
    already averages the flicker out, and the moving average's lag would bias it towards
    the previous emotion (on the demo clip, crying then laughing, it moved 1.3 of the 9.9
    positive score to the negative side and turned the verdict round).
    Emotions come from the faces whose ``emotion_reliable`` is true (where the column is
    present); ``faces`` counts every face, ``emotion_faces`` the counted ones.
    """
    totals = group_totals(df, "person", margin)
    grouped = df.groupby("person")
    frames = grouped["frame_index"].nunique()
    first, last = grouped["timestamp_s"].min(), grouped["timestamp_s"].max()
    enrolled = grouped["enrolled"].first()
    distance = pd.to_numeric(df["match_distance"], errors="coerce").groupby(df["person"]).median()
    out = []
    for name in keep:
        row = totals.loc[name]
        out.append(
            {
                "person": name,
                "enrolled": bool(enrolled[name]),
                "frames": int(frames[name]),
                "faces": int(row["faces"]),
                "emotion_faces": int(row["emotion_faces"]),
                "first_seen_s": round(float(first[name]), 3),
                "last_seen_s": round(float(last[name]), 3),
                "match_distance": None
                if pd.isna(distance[name])
                else round(float(distance[name]), 4),
                "mean_scores": {e: round(float(row[f"mean_{e}"]), 4) for e in EMOTIONS},
                "dominant_emotion": row["dominant_emotion"]
                if isinstance(row["dominant_emotion"], str)
                else None,
                "positive": round(float(row["positive"]), 4),
                "negative": round(float(row["negative"]), 4),
                "verdict": row["verdict"],
            }
        )
    return out


#: The automatic ``--min-frames`` (None): an unknown person counts in the class when seen
#: in at least this share of the video's sampled frames ...
BRIEF_SHARE = 0.05
#: ... or on one track spanning at least this many seconds of video, first to last sample
#: (someone who came late or left early, in a long video). Both measured by
#: ``bench/bench_people.py`` (docs/benchmarks.md, "Phantom people"): the classroom mosaic's
#: phantoms (a false detection at a tile edge: 3 isolated sampled frames, 0.8-1.7% of them;
#: a split of a real person: 3 samples spanning 1 s, 0.8%) fail both; every real person of
#: the real clips passes (the least seen: a passer-by in 1 of 9 frames, 11%; a visitor in
#: 5 s of a 150 s video, 3.3%, on one track spanning 4 s).
PERSIST_S = 3.0


def people_frames(df: pd.DataFrame) -> pd.DataFrame:
    """Per person: sampled frames seen, first and last time, enrolled flag and the longest
    track (seconds of video from its first sample to its last, on one ``track_id``);
    ordered by first appearance.

    Args:
        df: ``faces.csv`` rows with ``person``, ``frame_index``, ``timestamp_s``, ``x_min``
            and ``enrolled`` (bool) columns; ``track_id`` when present (else each person
            counts as one track).

    Returns:
        DataFrame indexed by person with ``frames`` (int), ``first_s``, ``last_s``,
        ``enrolled``, ``longest_track_s`` (float, 0 for a track of one sample).
    """
    columns = ["frames", "first_s", "last_s", "enrolled", "longest_track_s"]
    if not len(df):
        return pd.DataFrame(columns=columns)
    ordered = df.sort_values(["frame_index", "x_min"], kind="stable")
    grouped = ordered.groupby("person", sort=False)
    first, last = grouped["timestamp_s"].min(), grouped["timestamp_s"].max()
    if "track_id" in df.columns:
        times = ordered.groupby(["person", "track_id"], sort=False)["timestamp_s"]
        span = (times.max() - times.min()).groupby(level=0, sort=False).max()
        span = span.reindex(first.index)
    else:
        span = last - first
    return pd.DataFrame(
        {
            "frames": grouped["frame_index"].nunique(),
            "first_s": first,
            "last_s": last,
            "enrolled": grouped["enrolled"].first(),
            "longest_track_s": span.astype(float),
        }
    )


def brief(frames: pd.DataFrame, sampled_frames: int) -> pd.Series:
    """The automatic rule (``--min-frames`` not given): bool per person (index of
    ``frames``, from :func:`people_frames`), True for those kept out of the class as seen
    too briefly: unknown people seen in fewer than :data:`BRIEF_SHARE` of the
    ``sampled_frames`` whose every track spans less than :data:`PERSIST_S` seconds.
    Enrolled people (named by the gallery) always count: a gallery match is a real face."""
    if not len(frames):
        return pd.Series(dtype=bool)
    share = frames["frames"] / max(int(sampled_frames), 1)
    return (
        ~frames["enrolled"].astype(bool)
        & (share < BRIEF_SHARE)
        & (frames["longest_track_s"] < PERSIST_S)
    )


def brief_rule() -> dict:
    """The automatic rule's settings for ``summary.json`` (``identity.brief``):
    ``{"share": BRIEF_SHARE, "persist_s": PERSIST_S}``."""
    return {"share": BRIEF_SHARE, "persist_s": PERSIST_S}


def kept_people(
    df: pd.DataFrame, min_frames: int | None = None, sampled_frames: int | None = None
) -> tuple[list[str], list[str]]:
    """``(kept, left out)``: people in order of first appearance, split into those who
    count in the class and those seen too briefly.

    Args:
        df: ``faces.csv`` rows (needs ``enrolled``; see :func:`people_frames`).
        min_frames: leave out everyone seen in fewer sampled frames (``--min-frames``);
            None: the automatic rule, :func:`brief`.
        sampled_frames: the video's sampled frames (for the automatic rule; default the
            distinct ``frame_index`` values of ``df``, a lower bound when some had no face).
    """
    frames = people_frames(df)
    if min_frames is not None:
        out = frames["frames"] < int(min_frames)
    else:
        if sampled_frames is None:
            sampled_frames = int(df["frame_index"].nunique()) if len(df) else 0
        out = brief(frames, sampled_frames)
    dropped = [str(p) for p in frames.index[out.to_numpy(dtype=bool)]]
    return [str(p) for p in frames.index if str(p) not in dropped], dropped


def thumbnails_by_person(tracks, identities: dict) -> dict[str, list[np.ndarray]]:
    """Up to :data:`THUMBS_PER_PERSON` thumbnails per person, spread over their tracks.

    Args:
        tracks: :class:`feelinvideo.identity.tracker.Track` objects (with ``thumbs``).
        identities: ``{tracker_id: Identity}`` from naming.
    """
    pooled: dict[str, list[np.ndarray]] = {}
    for track in tracks:
        pooled.setdefault(identities[track.tracker_id].person, []).extend(track.thumbs)
    picked = {}
    for person, thumbs in pooled.items():
        if len(thumbs) > THUMBS_PER_PERSON:
            idx = np.linspace(0, len(thumbs) - 1, THUMBS_PER_PERSON).round().astype(int)
            thumbs = [thumbs[i] for i in idx]
        picked[person] = thumbs
    return picked


#: Folder of a run's per-person face thumbnails (one JPEG each, for the report's rows).
THUMBNAILS_DIR = "thumbnails"


def thumbnail_names(people: list[str]) -> dict[str, str]:
    """``{person: "thumbnails/<file>.jpg"}``: a file name per person, safe on every OS.

    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``; names that
    collide after that get ``-2``, ``-3``... (compared case-insensitively, for macOS and
    Windows file systems).
    """
    import re

    names: dict[str, str] = {}
    used: set[str] = set()
    for person in people:
        stem = re.sub(r"[^\w.-]", "_", str(person), flags=re.ASCII).lstrip(".") or "person"
        stem, candidate, n = stem[:80], stem[:80], 1
        while candidate.casefold() in used:
            n += 1
            candidate = f"{stem}-{n}"
        used.add(candidate.casefold())
        names[person] = f"{THUMBNAILS_DIR}/{candidate}.jpg"
    return names


def representative_thumbnail(thumbs: list[np.ndarray]) -> np.ndarray | None:
    """The middle one of a person's thumbnails (RGB uint8), or None when there are none."""
    return thumbs[len(thumbs) // 2] if thumbs else None
