"""``feelinvideo report``: class summary, time windows, plots, HTML and SQLite over many runs.

Every number comes from the runs' ``faces.csv`` files (and the video facts in the
``summary.json`` beside each, when present); nothing is recomputed from video.

People: the ``person`` column written by ``analyze`` with identities (``obama``,
``unknown-2``) is used when present. Unknown people cannot be matched across videos, so
they become ``<video>:unknown-N``. A CSV without a ``person`` column (analyze before
identities) counts all its faces as one unknown person, ``<video>:unknown-1``.

Module import stays light: matplotlib is imported only when plots are drawn
(:mod:`feelinvideo.plots`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import io
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from . import __version__
from .atomic import atomic_path, prepare_dir, write_text
from .errors import CsvError, OutputError
from .schema import EMOTIONS, FACE_COLUMNS, INTERESTED, NOT_INTERESTED, format_time
from .summary import emotion_totals, group_totals, time_windows

FACES_CSV = "faces.csv"
SUMMARY_JSON = "summary.json"
OVERLAY_MP4 = "overlay.mp4"
CLASS_SUMMARY_CSV = "class_summary.csv"
WINDOWS_CSV = "windows.csv"
REPORT_HTML = "report.html"
PLOT_FILES = {
    "emotions_over_time": "emotions_over_time.png",
    "person_profiles": "person_profiles.png",
    "attendance": "attendance.png",
}
DEFAULT_WINDOW_S = 60.0
DEFAULT_OUT_DIR = "feelinvideo_report"
FORMATS = ("text", "json", "csv", "markdown")

#: Optional ``faces.csv`` columns the report uses when present (identity, issue 3).
OPTIONAL_COLUMNS: tuple[str, ...] = ("person", "match_distance", "track_id")
#: Prefix of people the gallery did not recognise.
UNKNOWN_PREFIX = "unknown"
#: Person name given to every face of a CSV that has no ``person`` column.
FALLBACK_PERSON = "unknown-1"

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

#: Columns of the short stdout table.
SHORT_COLUMNS: tuple[str, ...] = (
    "person",
    "videos",
    "attended",
    "dominant_emotion",
    "positive",
    "negative",
    "verdict",
)

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- inputs


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
    """

    csv_path: Path
    video: str
    faces: pd.DataFrame
    summary: dict | None = None
    has_person: bool = False
    digest: str = ""

    @property
    def video_info(self) -> dict:
        """``summary.json``'s ``video`` dict (path, duration_s, fps, ...) or {}."""
        info = (self.summary or {}).get("video")
        return info if isinstance(info, dict) else {}

    @property
    def duration_s(self) -> float:
        """Video length in seconds: ``summary.json``'s, else the last face's timestamp, else 0."""
        duration = _number(self.video_info.get("duration_s"))
        last = float(self.faces["timestamp_s"].max()) if len(self.faces) else 0.0
        return max(duration if duration is not None else 0.0, last)

    @property
    def sampled_frames(self) -> int | None:
        """Frames analysed by the run (``summary.json``), or None when unknown."""
        value = _number((self.summary or {}).get("sampled_frames"))
        return int(value) if value is not None else None

    @property
    def overlay(self) -> Path | None:
        """The run's ``overlay.mp4`` beside the CSV, when it exists."""
        path = self.csv_path.parent / OVERLAY_MP4
        return path if path.is_file() else None

    @property
    def run_key(self) -> str:
        """Identity of the run in ``--db``: the CSV's content plus the video it came from."""
        source = self.video_info.get("path") or self.video
        return hashlib.sha256(f"{self.digest}\n{source}".encode()).hexdigest()


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if np.isfinite(value) else None


def find_csvs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Resolve the command's inputs to ``faces.csv`` paths, in order, each once.

    Args:
        inputs: CSV files, run folders (holding ``faces.csv``) or folders of run folders
            (every ``faces.csv`` below them, sorted by path).

    Raises:
        CsvError: an input does not exist, or a folder holds no ``faces.csv``.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            direct = path / FACES_CSV
            csvs = [direct] if direct.is_file() else sorted(p for p in path.rglob(FACES_CSV))
            csvs = [p for p in csvs if p.is_file()]
            if not csvs:
                raise CsvError(f"{path}: no {FACES_CSV} in this folder or below it")
        elif path.exists():
            csvs = [path]
        else:
            raise CsvError(f"{path}: no such file or folder")
        for csv_path in csvs:
            key = csv_path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(key)
    if not found:
        raise CsvError("no input: give faces.csv files or analysis output folders")
    return found


def read_faces_csv(path: str | os.PathLike) -> tuple[pd.DataFrame, bool, str]:
    """Read and check one ``faces.csv``.

    Args:
        path: the CSV file.

    Returns:
        ``(df, has_person, digest)``: the rows with the FACE_COLUMNS (numbers as int/float)
        and the optional columns present (``person``, ``match_distance``, ``track_id``; other
        extra columns such as ``rek_*`` are dropped); whether ``person`` was there; sha256
        of the file's bytes (hex). A header-only CSV gives zero rows.

    Raises:
        CsvError: unreadable, empty, not a text CSV, missing FACE_COLUMNS, or non-numeric
            or blank values in numeric columns.
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
    keep = list(FACE_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in df.columns]
    df = df[keep].copy()
    for column in _INT_COLUMNS + _FLOAT_COLUMNS:
        df[column] = _numeric(df[column], path, column, integer=column in _INT_COLUMNS)
    if "match_distance" in df.columns:
        df["match_distance"] = pd.to_numeric(df["match_distance"], errors="coerce")
    df["dominant_emotion"] = df["dominant_emotion"].fillna("").astype(str)
    df["time"] = df["time"].fillna("").astype(str)
    return df, "person" in df.columns, hashlib.sha256(data).hexdigest()


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


def _video_name(csv_path: Path, summary: dict | None) -> str:
    video = (summary or {}).get("video")
    if isinstance(video, dict) and isinstance(video.get("path"), str) and video["path"]:
        return Path(video["path"]).stem
    if csv_path.name == FACES_CSV:
        name = csv_path.parent.name
        return name[: -len("_feelinvideo")] if name.endswith("_feelinvideo") else name
    return csv_path.stem


def is_unknown(person: str) -> bool:
    """Whether a ``person`` value names someone the gallery did not recognise."""
    return person == UNKNOWN_PREFIX or person.startswith(UNKNOWN_PREFIX + "-")


def _people(df: pd.DataFrame, has_person: bool, video: str) -> pd.Series:
    if not has_person:
        return pd.Series(f"{video}:{FALLBACK_PERSON}", index=df.index, dtype=object)
    names = df["person"].fillna(UNKNOWN_PREFIX).astype(str).str.strip()
    names = names.where(names != "", UNKNOWN_PREFIX)
    unknown = names.map(is_unknown).astype(bool)
    return names.where(~unknown, video + ":" + names).astype(object)


def load_runs(inputs: Iterable[str | os.PathLike], warnings: list[str] | None = None) -> list[Run]:
    """Read every run named by ``inputs`` (see :func:`find_csvs`).

    Video names are made unique within the report (``lecture``, ``lecture-2``) so that
    unknown people of different videos never merge.

    Args:
        inputs: CSV files or folders.
        warnings: list that gets one line per ignored, unreadable ``summary.json``.

    Raises:
        CsvError: see :func:`find_csvs` and :func:`read_faces_csv`.
    """
    warnings = warnings if warnings is not None else []
    runs: list[Run] = []
    used: set[str] = set()
    for csv_path in find_csvs(inputs):
        df, has_person, digest = read_faces_csv(csv_path)
        summary = _read_summary(csv_path, warnings)
        base = _video_name(csv_path, summary) or "video"
        video, n = base, 1
        while video in used:
            n += 1
            video = f"{base}-{n}"
        used.add(video)
        df["person"] = _people(df, has_person, video)
        df["video"] = video
        runs.append(Run(csv_path, video, df, summary, has_person, digest))
    return runs


# --------------------------------------------------------------------------- tables


def all_faces(runs: Sequence[Run]) -> pd.DataFrame:
    """The faces of every run in one frame (FACE_COLUMNS + ``person``, ``video``)."""
    columns = list(FACE_COLUMNS) + ["person", "video"]
    frames = [r.faces[columns] for r in runs if len(r.faces)]
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
        return empty.astype({"person": object, "video": object, "dominant_emotion": object})
    return pd.concat(frames, ignore_index=True)


def _person_order(people: Iterable[str], video_order: dict[str, int]) -> list[str]:
    def key(person: str):
        video, sep, rest = person.rpartition(":")
        if sep and is_unknown(rest) and video in video_order:
            digits = re.sub(r"\D", "", rest)
            return (1, video_order[video], int(digits) if digits else 0, person)
        return (0, 0, 0, person.casefold())

    return sorted(people, key=key)


def class_summary(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per person across all runs (the ``class_summary.csv`` table).

    Returns:
        columns :data:`CLASS_SUMMARY_COLUMNS`: ``videos`` (runs the person was seen in),
        ``attended`` (sampled frames in which the person was seen, summed over runs),
        ``sum_<emotion>`` / ``mean_<emotion>`` (sum / mean of the person's face scores, means
        in [0, 1]), ``dominant_emotion`` (confidence-weighted), ``positive`` / ``negative``
        (sums of happy + surprise / angry + disgust + fear + sad) and ``verdict`` (the interest
        rule). Named people first (alphabetical), then unknowns by video. Zero faces gives
        zero rows.
    """
    faces = all_faces(runs)
    if not len(faces):
        return pd.DataFrame(columns=list(CLASS_SUMMARY_COLUMNS))
    totals = group_totals(faces, "person")
    seen = faces.drop_duplicates(["person", "video", "frame_index"])
    totals["attended"] = seen.groupby("person").size()
    totals["videos"] = faces.groupby("person")["video"].nunique()
    totals.index.name = "person"
    table = totals.reset_index()
    order = _person_order(table["person"], {r.video: i for i, r in enumerate(runs)})
    table = table.set_index("person").loc[order].reset_index()
    table["videos"] = table["videos"].astype(int)
    table["attended"] = table["attended"].astype(int)
    return table[list(CLASS_SUMMARY_COLUMNS)]


def attendance_table(runs: Sequence[Run], people: Sequence[str]) -> pd.DataFrame:
    """Sampled frames in which each person was seen, per video.

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
    """
    rows = []
    for run in runs:
        windows = time_windows(run.faces, window_s, run.duration_s, person_column="person")
        for k, w in enumerate(windows, start=1):
            row = {
                "video": run.video,
                "window": k,
                "start_s": w["start_s"],
                "end_s": w["end_s"],
                "start": _clock(w["start_s"]),
                "end": _clock(w["end_s"]),
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


def _clock(seconds: float) -> str:
    """``HH:MM:SS``, with ``.mmm`` only when the time is not a whole second."""
    return format_time(seconds, millis=abs(seconds - round(seconds)) >= 5e-4)


# --------------------------------------------------------------------------- report


@dataclass
class Report:
    """Everything ``feelinvideo report`` computes, before and after writing.

    Attributes:
        runs: the runs read.
        people: the class summary (:func:`class_summary`).
        windows: the time windows (:func:`window_table`).
        attendance: persons x videos attended frames (:func:`attendance_table`).
        totals: :func:`feelinvideo.summary.emotion_totals` over every face of every run.
        window_s: the window length used (seconds).
        warnings: one line per problem that did not stop the report.
        out_dir: where the files went (after :func:`write_report`).
        files: name -> path of each file written.
        db: ``{"path", "added", "already"}`` after :func:`append_to_db`.
    """

    runs: list[Run]
    people: pd.DataFrame
    windows: pd.DataFrame
    attendance: pd.DataFrame
    totals: dict
    window_s: float
    warnings: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    db: dict | None = None

    @property
    def faces(self) -> int:
        """Faces (CSV rows) over all runs."""
        return int(sum(len(r.faces) for r in self.runs))


def build_report(inputs: Iterable[str | os.PathLike], window_s: float = DEFAULT_WINDOW_S) -> Report:
    """Read the runs and compute the tables (writes nothing).

    Args:
        inputs: ``faces.csv`` files or analysis output folders (see :func:`find_csvs`).
        window_s: time window length in seconds (> 0).

    Raises:
        CsvError: a bad or missing input (see :func:`read_faces_csv`).
        ValueError: ``window_s`` <= 0.
    """
    if window_s <= 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    warnings: list[str] = []
    runs = load_runs(inputs, warnings)
    people = class_summary(runs)
    return Report(
        runs=runs,
        people=people,
        windows=window_table(runs, window_s),
        attendance=attendance_table(runs, list(people["person"])),
        totals=emotion_totals(all_faces(runs)),
        window_s=float(window_s),
        warnings=warnings,
    )


def neutralise(value: object) -> object:
    """Defuse spreadsheet formulas: a string starting with ``= + - @``, tab or CR gets a ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_for_csv(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells are :func:`neutralise`-d (numbers untouched)."""
    out = df.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    return out


def _write_csv(path: Path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        safe_for_csv(df).to_csv(tmp, index=False, lineterminator="\n")


def write_report(report: Report, out_dir: str | os.PathLike, plots: bool = True) -> Report:
    """Write ``class_summary.csv``, ``windows.csv``, the plots and ``report.html``.

    Each file is written atomically (temporary name, renamed when complete).

    Args:
        report: from :func:`build_report`.
        out_dir: output folder, created if needed.
        plots: draw the PNG plots (and embed them in the HTML).

    Returns:
        ``report`` with ``out_dir`` and ``files`` filled in.

    Raises:
        OutputError: the folder or a file cannot be written.
    """
    out = prepare_dir(out_dir)
    report.out_dir = out
    files: dict[str, Path] = {}
    _write_csv(out / CLASS_SUMMARY_CSV, report.people)
    files["class_summary"] = out / CLASS_SUMMARY_CSV
    _write_csv(out / WINDOWS_CSV, report.windows)
    files["windows"] = out / WINDOWS_CSV
    images: dict[str, bytes] = {}
    if plots:
        from . import plots as plotting

        drawn = {
            "emotions_over_time": plotting.emotions_over_time(report.windows),
            "person_profiles": plotting.person_profiles(report.people),
            "attendance": plotting.attendance(report.attendance),
        }
        for name, png in drawn.items():
            path = out / PLOT_FILES[name]
            with atomic_path(path) as tmp:
                tmp.write_bytes(png)
            files[name] = path
            images[name] = png
    write_text(out / REPORT_HTML, render_html(report, images, out))
    files["html"] = out / REPORT_HTML
    report.files = files
    return report


# --------------------------------------------------------------------------- database

_DB_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_key TEXT NOT NULL UNIQUE,
    video TEXT NOT NULL,
    video_path TEXT,
    csv_path TEXT NOT NULL,
    csv_sha256 TEXT NOT NULL,
    duration_s REAL,
    fps REAL,
    width INTEGER,
    height INTEGER,
    sampled_frames INTEGER,
    every_s REAL,
    backend TEXT,
    faces INTEGER NOT NULL,
    positive REAL NOT NULL,
    negative REAL NOT NULL,
    verdict TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    video TEXT NOT NULL,
    person TEXT NOT NULL,
    frame_index INTEGER NOT NULL,
    timestamp_s REAL NOT NULL,
    time TEXT,
    face_index INTEGER NOT NULL,
    x_min REAL, y_min REAL, x_max REAL, y_max REAL,
    detection_confidence REAL NOT NULL,
    angry REAL NOT NULL, disgust REAL NOT NULL, fear REAL NOT NULL, happy REAL NOT NULL,
    sad REAL NOT NULL, surprise REAL NOT NULL, neutral REAL NOT NULL,
    dominant_emotion TEXT,
    match_distance REAL,
    track_id INTEGER
);
CREATE INDEX IF NOT EXISTS faces_run ON faces(run_id);
CREATE INDEX IF NOT EXISTS faces_person ON faces(person);
"""

_DB_FACE_COLUMNS = (
    "run_id",
    "video",
    "person",
    *FACE_COLUMNS,
    "match_distance",
    "track_id",
)
_DB_RUN_COLUMNS = (
    "run_key",
    "video",
    "video_path",
    "csv_path",
    "csv_sha256",
    "duration_s",
    "fps",
    "width",
    "height",
    "sampled_frames",
    "every_s",
    "backend",
    "faces",
    "positive",
    "negative",
    "verdict",
    "added_at",
)


def append_to_db(runs: Sequence[Run], db_path: str | os.PathLike) -> dict:
    """Append runs to a SQLite database (tables ``runs`` and ``faces``), each run once.

    A run is identified by the sha256 of its CSV plus its video's path (``runs.run_key``),
    so giving the same run again, from the same or a copied folder, adds nothing. All runs
    go in one transaction: on error the database is left as it was.

    Args:
        runs: from :func:`load_runs`.
        db_path: the database file, created if missing.

    Returns:
        ``{"path": str, "added": [video, ...], "already": [video, ...]}``.

    Raises:
        OutputError: the file cannot be opened or written, is not a SQLite database, or has
            ``runs``/``faces`` tables without the expected columns.
    """
    path = Path(db_path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a SQLite database file")
    added: list[str] = []
    already: list[str] = []
    try:
        con = sqlite3.connect(path)
    except sqlite3.Error as exc:
        raise OutputError(f"{path}: cannot open database ({exc})") from None
    try:
        con.executescript(_DB_SCHEMA)
        for table, expected in (("runs", _DB_RUN_COLUMNS), ("faces", _DB_FACE_COLUMNS)):
            have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
            missing = [c for c in expected if c not in have]
            if missing:
                raise OutputError(
                    f"{path}: table {table} lacks columns {', '.join(missing)} "
                    f"(not a feelinvideo database?)"
                )
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        with con:
            for run in runs:
                key = run.run_key
                if con.execute("SELECT 1 FROM runs WHERE run_key = ?", (key,)).fetchone():
                    already.append(run.video)
                    continue
                run_id = _insert_run(con, run, key, now)
                _insert_faces(con, run, run_id)
                added.append(run.video)
    except sqlite3.Error as exc:
        raise OutputError(f"{path}: cannot write database ({exc})") from None
    finally:
        con.close()
    return {"path": str(path), "added": added, "already": already}


def _insert_run(con: sqlite3.Connection, run: Run, key: str, now: str) -> int:
    info = run.video_info
    summary = run.summary or {}
    totals = emotion_totals(run.faces)

    def num(value, kind=float):
        value = _number(value)
        return kind(value) if value is not None else None

    values = {
        "run_key": key,
        "video": run.video,
        "video_path": info.get("path") if isinstance(info.get("path"), str) else None,
        "csv_path": str(run.csv_path),
        "csv_sha256": run.digest,
        "duration_s": run.duration_s,
        "fps": num(info.get("fps")),
        "width": num(info.get("width"), int),
        "height": num(info.get("height"), int),
        "sampled_frames": run.sampled_frames,
        "every_s": num(summary.get("every_s")),
        "backend": summary.get("backend") if isinstance(summary.get("backend"), str) else None,
        "faces": int(len(run.faces)),
        "positive": totals["positive"],
        "negative": totals["negative"],
        "verdict": totals["verdict"],
        "added_at": now,
    }
    names = ", ".join(_DB_RUN_COLUMNS)
    marks = ", ".join("?" for _ in _DB_RUN_COLUMNS)
    cursor = con.execute(
        f"INSERT INTO runs ({names}) VALUES ({marks})", [values[c] for c in _DB_RUN_COLUMNS]
    )
    return int(cursor.lastrowid)


def _insert_faces(con: sqlite3.Connection, run: Run, run_id: int) -> None:
    if not len(run.faces):
        return
    df = run.faces.copy()
    df["run_id"] = run_id
    for column in ("match_distance", "track_id"):
        if column not in df.columns:
            df[column] = None
    df = df[list(_DB_FACE_COLUMNS)].astype(object)
    df = df.where(df.notna(), None)
    names = ", ".join(_DB_FACE_COLUMNS)
    marks = ", ".join("?" for _ in _DB_FACE_COLUMNS)
    con.executemany(
        f"INSERT INTO faces ({names}) VALUES ({marks})", df.itertuples(index=False, name=None)
    )


def make_report(
    inputs: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike = DEFAULT_OUT_DIR,
    window_s: float = DEFAULT_WINDOW_S,
    db_path: str | os.PathLike | None = None,
    plots: bool = True,
) -> Report:
    """The whole ``feelinvideo report`` command: read, compute, append to ``--db``, write files.

    Inputs are all read and checked, and the output folder checked, before anything is
    written; the database goes before the files so that a bad ``--db`` leaves no report.

    Raises:
        CsvError: a bad input. OutputError: an output cannot be written.
    """
    report = build_report(inputs, window_s)
    out = Path(out_dir)
    created = not out.exists()
    prepare_dir(out)
    try:
        if db_path is not None:
            report.db = append_to_db(report.runs, db_path)
        write_report(report, out, plots=plots)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    return report


# --------------------------------------------------------------------------- stdout


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def _short_rows(people: pd.DataFrame) -> list[list[str]]:
    rows = []
    for rec in people.to_dict("records"):
        rows.append(
            [
                _printable(str(rec["person"])),
                str(rec["videos"]),
                str(rec["attended"]),
                rec["dominant_emotion"],
                f"{rec['positive']:.2f}",
                f"{rec['negative']:.2f}",
                rec["verdict"],
            ]
        )
    return rows


def _people_count(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _headline(report: Report) -> str:
    t = report.totals
    videos = len(report.runs)
    return (
        f"class: {t['verdict']} (positive {t['positive']:.2f} vs negative {t['negative']:.2f}) "
        f"over {report.faces} faces of {_people_count(len(report.people))} in {videos} "
        f"video{'s' if videos != 1 else ''}"
    )


def format_summary(report: Report, fmt: str = "text") -> str:
    """The class summary table as text for stdout.

    Args:
        report: a built (and possibly written) report.
        fmt: ``text`` (headline, aligned table, files written), ``json`` (headline numbers,
            one object per person with every class_summary column, files), ``csv`` (the
            ``class_summary.csv`` content) or ``markdown`` (a table).

    Raises:
        ValueError: unknown ``fmt``.
    """
    if fmt == "json":
        data = {
            "verdict": report.totals["verdict"],
            "positive": report.totals["positive"],
            "negative": report.totals["negative"],
            "videos": [r.video for r in report.runs],
            "faces": report.faces,
            "people": report.people.to_dict("records"),
            "outputs": {k: str(v) for k, v in report.files.items()},
        }
        if report.db is not None:
            data["db"] = report.db
        return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)
    if fmt == "csv":
        buf = io.StringIO()
        safe_for_csv(report.people).to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue().rstrip("\n")
    header = ["person", "videos", "attended", "dominant", "positive", "negative", "verdict"]
    rows = _short_rows(report.people)
    if fmt == "markdown":

        def cell(text: str) -> str:
            return text.replace("\\", "\\\\").replace("|", "\\|")

        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
        return "\n".join(lines)
    if fmt != "text":
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    lines = [_headline(report)]
    if rows:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        numeric = {1, 2, 4, 5}

        def line(cells: Sequence[str]) -> str:
            parts = [
                c.rjust(w) if i in numeric else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths))
            ]
            return "  ".join(parts).rstrip()

        lines.append(line(header))
        lines += [line(r) for r in rows]
    else:
        lines.append("no faces were found")
    if report.db is not None:
        lines.append(
            f"database {report.db['path']}: added {len(report.db['added'])} run(s), "
            f"{len(report.db['already'])} already there"
        )
    if report.files:
        lines.append("wrote: " + ", ".join(str(p) for p in report.files.values()))
    return "\n".join(lines)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1300px;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.verdict{font-size:1.4em;padding:.6em 1em;border-radius:6px;background:#f3f3f3}
.interested{background:#e3f5e1}.not-interested{background:#fbe3e1}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f6f6f6}.scroll{overflow-x:auto}
img{max-width:100%;height:auto;border:1px solid #eee}
.note{color:#666;font-size:.9em}
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _verdict_class(verdict: str) -> str:
    return {INTERESTED: "interested", NOT_INTERESTED: "not-interested"}.get(verdict, "neutral")


def _href(target: Path, base: Path) -> str:
    try:
        rel = Path(os.path.relpath(target, base)).as_posix()
    except ValueError:  # another drive on Windows
        return target.resolve().as_uri()
    return quote(rel)


def _header(column: str) -> str:
    if column.startswith("mean_"):
        return column[len("mean_") :]
    return {"dominant_emotion": "dominant", "attended": "attended (frames)"}.get(column, column)


def _table(df: pd.DataFrame, columns: Sequence[str], formats: dict[str, str]) -> str:
    head = "".join(f'<th title="{_esc(c)}">{_esc(_header(c))}</th>' for c in columns)
    body = []
    for rec in df[list(columns)].itertuples(index=False, name=None):
        cells = []
        for column, value in zip(columns, rec):
            if column in formats and isinstance(value, (int, float, np.number)):
                cells.append(f'<td class="n">{format(value, formats[column])}</td>')
            else:
                cells.append(f"<td>{_esc(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_html(report: Report, images: dict[str, bytes], out_dir: Path) -> str:
    """The self-contained ``report.html``: inline CSS, PNGs as ``data:`` URIs, no scripts.

    Every name or path from the data is HTML-escaped; links to overlay videos are relative
    to ``out_dir``.
    """
    t = report.totals
    runs_rows = []
    for run in report.runs:
        info = run.video_info
        faces = len(run.faces)
        totals = emotion_totals(run.faces)
        size = (
            f"{info['width']}×{info['height']}"
            if _number(info.get("width")) and _number(info.get("height"))
            else "—"
        )
        overlay = run.overlay
        link = (
            f'<a href="{_esc(_href(overlay, out_dir))}">overlay.mp4</a>'
            if overlay is not None
            else "—"
        )
        sampled = run.sampled_frames
        runs_rows.append(
            "<tr>"
            f"<td>{_esc(run.video)}</td>"
            f'<td class="n">{run.duration_s:.1f} s</td>'
            f"<td>{_esc(size)}</td>"
            f'<td class="n">{sampled if sampled is not None else "—"}</td>'
            f'<td class="n">{int(run.faces["frame_index"].nunique()) if faces else 0}</td>'
            f'<td class="n">{faces}</td>'
            f'<td class="n">{int(run.faces["person"].nunique()) if faces else 0}</td>'
            f"<td>{_esc(totals['verdict'])}</td>"
            f"<td>{link}</td>"
            f'<td><span title="{_esc(run.csv_path)}">{_esc(run.csv_path.name)}</span></td>'
            "</tr>"
        )
    runs_table = (
        '<div class="scroll"><table><thead><tr><th>video</th><th>duration</th><th>size</th>'
        "<th>sampled frames</th><th>frames with faces</th><th>faces</th><th>people</th>"
        "<th>verdict</th><th>overlay</th><th>CSV</th></tr></thead><tbody>"
        + "".join(runs_rows)
        + "</tbody></table></div>"
    )
    pct = {f"mean_{e}": ".0%" for e in EMOTIONS}
    people_columns = [
        "person",
        "videos",
        "attended",
        *(f"mean_{e}" for e in EMOTIONS),
        "dominant_emotion",
        "positive",
        "negative",
        "verdict",
    ]
    people_table = _table(
        report.people,
        people_columns,
        {"videos": "d", "attended": "d", "positive": ".2f", "negative": ".2f", **pct},
    )
    window_columns = [c for c in WINDOW_COLUMNS if c not in ("window", "start_s", "end_s")]
    windows_table = _table(
        report.windows,
        window_columns,
        {
            "faces": "d",
            "frames": "d",
            "people": "d",
            "positive": ".2f",
            "negative": ".2f",
            **pct,
        },
    )
    titles = {
        "emotions_over_time": "The class's emotion mix over time",
        "person_profiles": "Each person's emotion profile",
        "attendance": "Attendance per person and video",
    }
    figures = []
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        figures.append(
            f"<h2>{_esc(titles[name])}</h2>"
            f'<img src="data:image/png;base64,{data}" alt="{_esc(titles[name])}">'
        )
    windows_interested = int((report.windows["verdict"] == INTERESTED).sum())
    windows_with_faces = int((report.windows["faces"] > 0).sum())
    notes = []
    fallback = [r.video for r in report.runs if not r.has_person]
    if fallback:
        notes.append(
            "No <code>person</code> column in the CSV of "
            + ", ".join(_esc(v) for v in fallback)
            + ": all faces of such a video count as one unknown person."
        )
    notes.append(
        "Unknown people cannot be matched across videos, so they are named per video "
        "(<code>video:unknown-N</code>). <em>attended</em> counts sampled frames in which the "
        "person was seen. Verdict: <em>interested</em> when happy + surprise outweigh "
        "angry + disgust + fear + sad (neutral is ignored)."
    )
    for warning in report.warnings:
        notes.append(_esc(warning))
    generated = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    headline = (
        f'<p class="verdict {_verdict_class(t["verdict"])}">The class was '
        f"<strong>{_esc(t['verdict'])}</strong>: positive {t['positive']:.2f} vs negative "
        f"{t['negative']:.2f} over {report.faces} faces of {_people_count(len(report.people))} in "
        f"{len(report.runs)} video{'s' if len(report.runs) != 1 else ''}; "
        f"{windows_interested} of {windows_with_faces} time windows with faces interested "
        f"({report.window_s:g} s windows).</p>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>feelinvideo report</title>"
        f"<style>{_CSS}</style></head><body>\n"
        "<h1>feelinvideo report</h1>\n"
        f"{headline}\n"
        f"<h2>Videos</h2>\n{runs_table}\n"
        + "\n".join(figures)
        + f"\n<h2>Class summary</h2>\n{people_table}\n"
        f"<h2>Time windows</h2>\n{windows_table}\n"
        + "".join(f'<p class="note">{n}</p>' for n in notes)
        + f'\n<p class="note">Generated by feelinvideo {_esc(__version__)} on '
        f"{_esc(generated)}.</p>\n</body></html>\n"
    )


__all__ = [
    "Report",
    "Run",
    "append_to_db",
    "attendance_table",
    "build_report",
    "class_summary",
    "find_csvs",
    "format_summary",
    "load_runs",
    "make_report",
    "read_faces_csv",
    "render_html",
    "window_table",
    "write_report",
]
