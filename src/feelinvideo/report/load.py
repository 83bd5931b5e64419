"""The report's inputs: finding ``faces.csv`` files, reading and checking them, naming people.

People: the ``person`` column written by ``analyze`` with identities (``obama``,
``unknown-2``) is used when present. Unknown people cannot be matched across videos, so
they become ``<video>:unknown-N``. A CSV without a ``person`` column (analyze before
identities) counts all its faces as one unknown person, ``<video>:unknown-1``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CsvError
from ..schema import (
    EMOTIONS,
    FACE_COLUMNS,
    FACES_CSV,
    IDENTITY_COLUMNS,
    OVERLAY_MP4,
    RUN_DIR_SUFFIX,
    SUMMARY_JSON,
    UNKNOWN,
    is_unknown,
    unknown_name,
)
from .left_out import find_left_out, left_out_note

#: What a blank ``person`` cell reads as: an unknown person without a number.

_INT_COLUMNS = ("frame_index", "face_index")
_FLOAT_COLUMNS = (
    "timestamp_s",
    "x_min",
    "y_min",
    "x_max",
    "y_max",
    "detection_confidence",
    *EMOTIONS,
)


@dataclass
class Run:
    """One ``analyze`` run read back from its ``faces.csv`` (and ``summary.json``).

    Attributes:
        csv_path: the ``faces.csv`` (resolved).
        video: a short name of the video, unique within one report (the video's file stem).
        faces: one row per face: the FACE_COLUMNS, ``person`` (as reported, unknowns
            prefixed with ``<video>:``), ``video``, and ``match_distance``/``track_id`` when
            the CSV has them.
        summary: the ``summary.json`` dict beside the CSV, or None.
        has_person: whether the CSV had a ``person`` column.
        digest: sha256 of the CSV's bytes (hex).
        brief: the people ``analyze`` left out of the run as seen too briefly (its
            ``--min-frames`` or automatic rule, :func:`feelinvideo.outputs.people.brief`),
            report name -> sampled frames seen; their rows are not in ``faces``, so no
            number of the report counts them (see :func:`brief_people`).
    """

    csv_path: Path
    video: str
    faces: pd.DataFrame
    summary: dict | None = None
    has_person: bool = False
    digest: str = ""
    brief: dict[str, int] = field(default_factory=dict)

    @property
    def video_info(self) -> dict:
        """``summary.json``'s ``video`` dict (path, duration_s, fps, ...) or {}."""
        info = (self.summary or {}).get("video")
        return info if isinstance(info, dict) else {}

    @property
    def duration_s(self) -> float:
        """Video length in seconds: ``summary.json``'s, else the last face's timestamp, else 0."""
        duration = finite_number(self.video_info.get("duration_s"))
        last = float(self.faces["timestamp_s"].max()) if len(self.faces) else 0.0
        return max(duration if duration is not None else 0.0, last)

    @property
    def sampled_frames(self) -> int | None:
        """Frames analysed by the run (``summary.json``), or None when unknown."""
        value = finite_number((self.summary or {}).get("sampled_frames"))
        return int(value) if value is not None else None

    @property
    def overlay(self) -> Path | None:
        """The run's ``overlay.mp4`` beside the CSV, when it exists."""
        path = self.csv_path.parent / OVERLAY_MP4
        return path if path.is_file() else None

    @property
    def sample_interval_s(self) -> float:
        """Seconds of video one sampled frame stands for: ``summary.json``'s ``every_s``
        (``1 / fps`` when it is 0), else the median step between the faces' distinct
        timestamps, else 1 s. Used to turn sampled frames into minutes of presence."""
        every = finite_number((self.summary or {}).get("every_s"))
        fps = finite_number(self.video_info.get("fps"))
        if every is not None and every > 0:
            return max(every, 1 / fps) if fps else every
        if every == 0 and fps:
            return 1.0 / fps
        times = np.unique(self.faces["timestamp_s"].to_numpy(dtype=float))
        steps = np.diff(times)
        return float(np.median(steps)) if len(steps) else 1.0

    @property
    def thumbnails(self) -> dict[str, Path]:
        """Report person name -> the run's face thumbnail (``summary.json``'s
        ``people[i]["thumbnail"]``, written by ``analyze``), for files that exist."""
        found = {}
        folder = self.csv_path.parent.resolve()
        for entry in (self.summary or {}).get("people") or []:
            if not isinstance(entry, dict):
                continue
            name, rel = entry.get("person"), entry.get("thumbnail")
            if not isinstance(name, str) or not isinstance(rel, str):
                continue
            path = (folder / rel).resolve()
            if path.is_file() and path.is_relative_to(folder):
                found[str(people_of(pd.DataFrame({"person": [name]}), True, self.video)[0])] = path
        return found

    @property
    def run_key(self) -> str:
        """Identity of the run in ``--db`` (sha256 hex): see :func:`run_key`."""
        return run_key(self.digest, self.summary, self.video)


def run_key(digest: str, summary: dict | None, video: str) -> str:
    """Identity of a run (sha256 hex): its CSV's content (``digest``) plus its video's path
    from ``summary.json``, else the ``video`` name. A copied run folder has the same key."""
    info = (summary or {}).get("video")
    source = (info.get("path") if isinstance(info, dict) else None) or video
    return hashlib.sha256(f"{digest}\n{source}".encode()).hexdigest()


def finite_number(value: object) -> float | None:
    """``value`` as a float when it is a finite JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if np.isfinite(value) else None


def find_csvs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Resolve the command's inputs to ``faces.csv`` paths, in order, each once.

    Args:
        inputs: CSV files, run folders (holding ``faces.csv``) or folders of run folders
            (every ``faces.csv`` below them, sorted by path).

    Returns:
        the resolved CSV paths, duplicates removed (first occurrence kept).

    Raises:
        CsvError: an input does not exist, a folder holds no ``faces.csv``, or no input.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            direct = path / FACES_CSV
            csvs = [direct] if direct.is_file() else sorted(path.rglob(FACES_CSV))
            csvs = [p for p in csvs if p.is_file()]
            if not csvs:
                left = find_left_out([path])
                note = f" ({left_out_note(left)})" if left else ""
                raise CsvError(f"{path}: no {FACES_CSV} in this folder or below it{note}")
        elif path.exists():
            csvs = [path]
        else:
            raise CsvError(f"{path}: no such file or folder")
        for csv_path in csvs:
            key = csv_path.resolve()  # the same file named twice is read once ...
            if key not in seen:
                seen.add(key)
                found.append(csv_path)  # ... and named in messages as the user named it
    if not found:
        raise CsvError("no input: give faces.csv files or analysis output folders")
    return found


def read_faces_csv(path: str | os.PathLike) -> tuple[pd.DataFrame, bool, str]:
    """Read and check one ``faces.csv``.

    Args:
        path: the CSV file.

    Returns:
        ``(df, has_person, digest)``: the rows with the FACE_COLUMNS (numbers as int64 /
        float), ``face_px`` when present (float; NaN where not a number) and the
        IDENTITY_COLUMNS present (``person``, ``match_distance``, ``track_id``; other extra
        columns such as ``rek_*`` and ``emotion_reliable``, which the report sets by its own
        threshold, are dropped); whether ``person``
        was there; sha256 of the file's bytes (hex). A header-only CSV gives zero rows.

    Raises:
        CsvError: unreadable, empty, not a UTF-8 text CSV, missing FACE_COLUMNS, or
            non-numeric or blank values in numeric columns (the message names the line).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CsvError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data.strip():
        raise CsvError(f"{path}: empty file, expected a faces.csv with a header row")
    if b"\0" in data[:65536]:
        raise CsvError(f"{path}: not a CSV file (binary data), expected a faces.csv")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvError(f"{path}: not a UTF-8 text CSV, expected a faces.csv") from None
    try:
        df = pd.read_csv(
            io.StringIO(text),
            keep_default_na=False,
            na_values=[""],
            dtype={"person": str, "time": str, "dominant_emotion": str, "track_id": str},
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise CsvError(f"{path}: not a valid CSV ({reason})") from None
    missing = [c for c in FACE_COLUMNS if c not in df.columns]
    if missing:
        raise CsvError(
            f"{path}: missing columns {', '.join(missing)} "
            f"(expected the faces.csv columns of feelinvideo analyze)"
        )
    extra = ["face_px"] + list(IDENTITY_COLUMNS)
    keep = list(FACE_COLUMNS) + [c for c in extra if c in df.columns]
    df = df[keep].copy()
    if "face_px" in df.columns:
        df["face_px"] = pd.to_numeric(df["face_px"], errors="coerce")
    for column in _INT_COLUMNS + _FLOAT_COLUMNS:
        df[column] = _numeric(df[column], path, column, integer=column in _INT_COLUMNS)
    if "match_distance" in df.columns:
        df["match_distance"] = pd.to_numeric(df["match_distance"], errors="coerce")
    df["dominant_emotion"] = df["dominant_emotion"].fillna("").astype(str)
    df["time"] = df["time"].fillna("").astype(str)
    _check_ranges(df, path)
    return df, "person" in df.columns, hashlib.sha256(data).hexdigest()


#: Largest timestamp accepted in a faces.csv, seconds (a week of video).
MAX_TIMESTAMP_S = 7 * 24 * 3600.0


def _check_within_duration(df: pd.DataFrame, path: Path, summary: dict | None) -> None:
    """Raise CsvError when a timestamp lies beyond the run's duration (from its
    ``summary.json``, with one frame's slack of 1 s), naming the line."""
    video = (summary or {}).get("video")
    duration = finite_number(video.get("duration_s")) if isinstance(video, dict) else None
    if not duration or not len(df):
        return
    beyond = df["timestamp_s"].to_numpy(dtype=float) > duration + 1.0
    if beyond.any():
        row = int(beyond.argmax())
        raise CsvError(
            f"{path}: line {row + 2}: timestamp_s is {float(df['timestamp_s'].iloc[row])!r}, "
            f"beyond the video's {duration:g} s (summary.json)"
        )


def _check_ranges(df: pd.DataFrame, path: Path) -> None:
    """Raise CsvError naming the first row (file line) whose scores are outside [0, 1] or
    whose timestamp is not finite, negative or beyond :data:`MAX_TIMESTAMP_S`."""
    import numpy as np

    scores = df[list(EMOTIONS) + ["detection_confidence"]].to_numpy(dtype=float)
    bad = ~np.isfinite(scores) | (scores < 0) | (scores > 1)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        name = (list(EMOTIONS) + ["detection_confidence"])[col]
        raise CsvError(
            f"{path}: line {row + 2}: {name} is {float(scores[row, col])!r}, "
            "expected a number in [0, 1]"
        )
    t = df["timestamp_s"].to_numpy(dtype=float)
    bad_t = ~np.isfinite(t) | (t < 0) | (t > MAX_TIMESTAMP_S)
    if bad_t.any():
        row = int(np.argmax(bad_t))
        raise CsvError(
            f"{path}: line {row + 2}: timestamp_s is {float(t[row])!r}, expected seconds in "
            f"[0, {MAX_TIMESTAMP_S:.0f}]"
        )


def _numeric(values: pd.Series, path: Path, column: str, integer: bool) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.astype(float))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        found = values.iloc[row]
        found = "a blank cell" if pd.isna(found) else f"{str(found)[:40]!r}"
        raise CsvError(f"{path}: column {column} needs numbers, found {found} on line {row + 2}")
    return numbers.astype(np.int64) if integer else numbers.astype(float)


def _read_summary(csv_path: Path, warnings: list[str]) -> dict | None:
    path = csv_path.parent / SUMMARY_JSON
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        warnings.append(f"{path}: ignored, not readable JSON ({' '.join(str(exc).split())})")
        return None
    if not isinstance(summary, dict):
        warnings.append(f"{path}: ignored, expected a JSON object")
        return None
    return summary


def video_name(csv_path: Path, summary: dict | None) -> str:
    """A run's video name: the stem of ``summary.json``'s video path, else the run folder's
    name without ``_feelinvideo`` (for a ``faces.csv``), else the CSV's stem."""
    video = (summary or {}).get("video")
    if isinstance(video, dict) and isinstance(video.get("path"), str) and video["path"]:
        return Path(video["path"]).stem
    if csv_path.name == FACES_CSV:
        name = csv_path.parent.name
        return name.removesuffix(RUN_DIR_SUFFIX)
    return csv_path.stem


def people_of(df: pd.DataFrame, has_person: bool, video: str) -> pd.Series:
    """The report's person name of each row of one run's ``df``.

    Named people keep their name; unknowns become ``<video>:unknown-N`` (blank or bare
    ``unknown`` become ``<video>:unknown``); without a ``person`` column every row is
    ``<video>:unknown-1``.

    Returns:
        a str Series (dtype object) aligned with ``df``.
    """
    if not has_person:
        return pd.Series(f"{video}:{unknown_name(1)}", index=df.index, dtype=object)
    names = df["person"].fillna(UNKNOWN).astype(str).str.strip()
    names = names.where(names != "", UNKNOWN)
    unknown = names.map(is_unknown).astype(bool)
    return names.where(~unknown, video + ":" + names).astype(object)


def load_runs(inputs: Iterable[str | os.PathLike], warnings: list[str] | None = None) -> list[Run]:
    """Read every run named by ``inputs`` (see :func:`find_csvs`), in order.

    Video names are made unique within the report (``lecture``, ``lecture-2``) so that
    unknown people of different videos never merge.

    Args:
        inputs: CSV files or folders.
        warnings: list that gets one line per ignored, unreadable ``summary.json`` and per
            copy of a run already read (the same CSV content for the same video: counted
            once, as ``--db`` counts it).

    Raises:
        CsvError: see :func:`find_csvs` and :func:`read_faces_csv`.
    """
    warnings = warnings if warnings is not None else []
    runs: list[Run] = []
    used: set[str] = set()
    keys: dict[str, Path] = {}
    for csv_path in find_csvs(inputs):
        df, has_person, digest = read_faces_csv(csv_path)
        summary = _read_summary(csv_path, warnings)
        base = video_name(csv_path, summary) or "video"
        key = run_key(digest, summary, base)
        if key in keys:
            warnings.append(f"{csv_path}: the same run as {keys[key]}; counted once")
            continue
        keys[key] = csv_path
        _check_within_duration(df, csv_path, summary)
        video, n = base, 1
        while video in used:
            n += 1
            video = f"{base}-{n}"
        used.add(video)
        brief = brief_people(df, summary) if has_person else set()
        mask = _names(df).isin(brief).to_numpy() if brief else np.zeros(len(df), bool)
        df["person"] = people_of(df, has_person, video)
        df["video"] = video
        left = {
            str(p): int(n) for p, n in df[mask].groupby("person")["frame_index"].nunique().items()
        }
        if mask.any():
            df = df[~mask].reset_index(drop=True)
        runs.append(Run(csv_path, video, df, summary, has_person, digest, left))
    return runs


def brief_people(df: pd.DataFrame, summary: dict | None) -> set[str]:
    """The people (``faces.csv`` names) the run left out as seen too briefly: those in
    ``df`` but not among ``summary.json``'s ``people``, when ``analyze`` decided it
    (``identity.brief``, its automatic rule, or ``identity.min_frames`` above 1). Empty
    for a run without that record (an older run, or a live watch, whose ``people`` may be
    capped for memory: nobody is left out then)."""
    identity = (summary or {}).get("identity")
    people = (summary or {}).get("people")
    if not isinstance(identity, dict) or not isinstance(people, list):
        return set()
    min_frames = finite_number(identity.get("min_frames"))
    if not isinstance(identity.get("brief"), dict) and not (min_frames and min_frames > 1):
        return set()
    kept = {p.get("person") for p in people if isinstance(p, dict)}
    return {p for p in set(_names(df)) if p not in kept}


def _names(df: pd.DataFrame) -> pd.Series:
    """The ``person`` cells as ``faces.csv`` holds them, stripped (blank: ``unknown``)."""
    return df["person"].fillna(UNKNOWN).astype(str).str.strip()
