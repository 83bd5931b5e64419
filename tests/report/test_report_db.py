"""report.db: the ``--db`` SQLite database, each run stored once."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from report_data import synthetic_faces, write_run

from feelinvideo.errors import OutputError
from feelinvideo.report import append_to_db, load_runs
from feelinvideo.schema import FACE_COLUMNS

SUMMARY = {
    "video": {"path": "/v/talk.mp4", "duration_s": 9.5, "fps": 25.0, "width": 640, "height": 360},
    "sampled_frames": 10,
    "every_s": 1.0,
    "backend": "local",
}


@pytest.fixture
def runs(tmp_path):
    """Two runs: one with identities and summary.json, one without either."""
    df = synthetic_faces(6, ["ann", "unknown-1"])
    df["match_distance"] = [0.4, None] * 6
    df["track_id"] = [0, 1] * 6
    write_run(tmp_path / "talk_feelinvideo", df, summary=SUMMARY)
    old = synthetic_faces(3, ["x"]).drop(columns=["person"])
    write_run(tmp_path / "old_feelinvideo", old)
    return load_runs([tmp_path / "talk_feelinvideo", tmp_path / "old_feelinvideo"])


def rows(db, sql):
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def test_runs_and_faces_stored(runs, tmp_path):
    db = tmp_path / "term.sqlite"
    assert append_to_db(runs, db) == {"path": str(db), "added": ["talk", "old"], "already": []}
    stored = rows(
        db,
        "SELECT video, video_path, duration_s, fps, width, height, sampled_frames, every_s, "
        "backend, faces, verdict FROM runs ORDER BY run_id",
    )
    assert stored[0][:10] == ("talk", "/v/talk.mp4", 9.5, 25.0, 640, 360, 10, 1.0, "local", 12)
    assert stored[1][:10] == ("old", None, 2.0, None, None, None, None, None, None, 3)
    assert {r[10] for r in stored} <= {"interested", "not interested", "neutral"}
    people = rows(db, "SELECT person, COUNT(*) FROM faces GROUP BY person ORDER BY person")
    assert people == [("ann", 6), ("old:unknown-1", 3), ("talk:unknown-1", 6)]
    columns = [r[1] for r in rows(db, "PRAGMA table_info(faces)")]
    assert columns == ["run_id", "video", "person", *FACE_COLUMNS, "match_distance", "track_id"]
    identity = rows(db, "SELECT match_distance, track_id FROM faces WHERE video = 'talk'")
    assert identity[:2] == [(0.4, 0), (None, 1)]
    assert rows(db, "SELECT COUNT(*) FROM faces WHERE video = 'old' AND track_id IS NULL") == [(3,)]


def test_same_run_again_adds_nothing(runs, tmp_path):
    db = tmp_path / "term.sqlite"
    append_to_db(runs, db)
    shutil.copytree(tmp_path / "talk_feelinvideo", tmp_path / "copy" / "talk_feelinvideo")
    again = load_runs([tmp_path / "copy"])
    assert append_to_db(again, db)["already"] == ["talk"]
    assert rows(db, "SELECT COUNT(*) FROM runs") == [(2,)]
    assert rows(db, "SELECT COUNT(*) FROM faces") == [(15,)]


def test_not_a_database_is_left_alone(runs, tmp_path):
    notes = tmp_path / "notes.db"
    notes.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(OutputError, match="cannot write database \\(file is not a database\\)"):
        append_to_db(runs, notes)
    assert notes.read_text().startswith("these are notes")
    with pytest.raises(OutputError, match="is a folder"):
        append_to_db(runs, tmp_path)


def test_foreign_tables_are_refused(runs, tmp_path):
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE runs (id INTEGER, name TEXT)")
    with pytest.raises(OutputError, match="table runs lacks columns run_key, video"):
        append_to_db(runs, db)
    assert rows(db, "SELECT COUNT(*) FROM runs") == [(0,)]


def test_bad_db_leaves_no_report(tmp_path, cli):
    csv_path = write_run(tmp_path / "run", synthetic_faces(3, ["a"]))
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("these are notes, not a database\n" * 100)
    out = tmp_path / "out"
    result = cli("report", csv_path, "--out", out, "--db", not_a_db)
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == f"Error: {not_a_db}: cannot write database (file is not a database)"
    )
    assert not out.exists()
    assert not_a_db.read_text().startswith("these are notes")


def test_db_refuses_a_database_of_something_else(tmp_path, cli):
    """--db pointed at a face gallery must not add tables to it."""
    import sqlite3

    other = tmp_path / "gallery.sqlite"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
    run = tmp_path / "run"
    run.mkdir()
    (run / "faces.csv").write_text(",".join(FACE_COLUMNS) + "\n")
    result = cli("report", run, "--db", other, "--out", tmp_path / "rep")
    assert result.exit_code == 1
    assert "not a feelinvideo results database" in result.stderr
    with sqlite3.connect(other) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    assert tables == {"people"}
    assert not (tmp_path / "rep").exists()
