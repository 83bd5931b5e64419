"""``report --db``: append runs to a SQLite database (tables ``runs`` and ``faces``).

The ``faces`` table keeps every face with its run, like the seed's database after importing
its CSV, so per-student questions become SQL (see docs/cli.md, "SQL over a term").
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from ..errors import OutputError
from ..outputs.summary import emotion_totals
from ..schema import FACE_COLUMNS
from .load import Run, finite_number

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
        runs: from :func:`feelinvideo.report.runs.load_runs`.
        db_path: the database file, created if missing.

    Returns:
        ``{"path": str, "added": [video, ...], "already": [video, ...]}``.

    Raises:
        OutputError: the file cannot be opened or written, is not a SQLite database, holds
            other tables (a face gallery, say) but no ``runs``, or has
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
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "runs" not in tables:
            raise OutputError(
                f"{path}: not a feelinvideo results database (it holds tables "
                f"{', '.join(sorted(tables))}); give a new file or an earlier report's --db"
            )
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
        value = finite_number(value)
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
