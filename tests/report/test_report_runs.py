"""report.runs: finding, reading and checking faces.csv files; naming people per video."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import data_file, small_disk
from report_data import synthetic_faces, write_run

from feelinvideo.errors import CsvError
from feelinvideo.report import class_summary, load_runs
from feelinvideo.report.load import find_csvs, finite_number, people_of, read_faces_csv
from feelinvideo.schema import FACE_COLUMNS

# --------------------------------------------------------------------------- find_csvs


def test_find_csvs_resolves_files_run_folders_and_trees(tmp_path):
    a = write_run(tmp_path / "term" / "b_feelinvideo", synthetic_faces(1, ["x"]))
    b = write_run(tmp_path / "term" / "a_feelinvideo", synthetic_faces(1, ["x"]))
    c = write_run(tmp_path / "other", synthetic_faces(1, ["x"]))
    # a tree is searched and sorted by path; a run folder gives its own CSV; each once
    found = find_csvs([tmp_path / "term", c.parent, a, str(c)])
    assert found == [b.resolve(), a.resolve(), c.resolve()]
    # a folder holding faces.csv directly does not search below it
    write_run(tmp_path / "other" / "nested", synthetic_faces(1, ["x"]))
    assert find_csvs([tmp_path / "other"]) == [c.resolve()]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nowhere", "no such file or folder"),
        (lambda p: p, "no faces.csv in this folder or below it"),
    ],
)
def test_find_csvs_errors(tmp_path, make, message):
    with pytest.raises(CsvError, match=message):
        find_csvs([make(tmp_path)])


def test_find_csvs_needs_an_input():
    with pytest.raises(CsvError, match="no input"):
        find_csvs([])


# --------------------------------------------------------------------------- read_faces_csv


def test_read_faces_csv_types_and_columns(tmp_path):
    df = synthetic_faces(3, ["obama", "unknown-1"])
    df["match_distance"] = [0.4, None] * 3
    df["track_id"] = [0, 1] * 3
    df["rek_face_id"] = "abc"
    path = write_run(tmp_path / "run", df)
    read, has_person, digest = read_faces_csv(path)
    assert has_person
    assert list(read.columns) == [*FACE_COLUMNS, "person", "match_distance", "track_id"]
    assert read["frame_index"].dtype == np.int64 and read["face_index"].dtype == np.int64
    assert read["happy"].dtype == float and read["timestamp_s"].dtype == float
    assert read["match_distance"].isna().tolist() == [False, True] * 3
    assert read["time"].tolist() == [""] * 6
    assert len(digest) == 64 and digest == read_faces_csv(path)[2]


def test_read_faces_csv_header_only_gives_zero_rows(tmp_path):
    path = tmp_path / "faces.csv"
    path.write_text(",".join(FACE_COLUMNS) + "\n")
    df, has_person, _ = read_faces_csv(path)
    assert len(df) == 0 and not has_person
    assert list(df.columns) == list(FACE_COLUMNS)


def test_read_faces_csv_accepts_a_bom(tmp_path):
    path = write_run(tmp_path / "run", synthetic_faces(2, ["a"]))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(read_faces_csv(path)[0]) == 2


def write_bad_number(path):
    write_run(path.parent, synthetic_faces(3, ["a"]))
    lines = path.read_text().splitlines()
    cells = lines[2].split(",")
    cells[FACE_COLUMNS.index("happy")] = "lots"
    lines[2] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def write_blank_number(path):
    write_run(path.parent, synthetic_faces(3, ["a"]))
    lines = path.read_text().splitlines()
    cells = lines[3].split(",")
    cells[FACE_COLUMNS.index("frame_index")] = ""
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(b"  \n\n"), "empty file"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0"), "not a CSV file (binary data)"),
        (lambda p: p.write_bytes("person\nZo\u00eb\n".encode("latin-1")), "not a UTF-8 text CSV"),
        (lambda p: p.write_text("frame_index,timestamp_s,happy\n0,0.0,0.5\n"), "missing columns"),
        (write_bad_number, "column happy needs numbers, found 'lots' on line 3"),
        (write_blank_number, "column frame_index needs numbers, found a blank cell on line 4"),
    ],
)
def test_read_faces_csv_errors_name_the_file(tmp_path, write, message):
    path = tmp_path / "run" / "faces.csv"
    path.parent.mkdir()
    write(path)
    with pytest.raises(CsvError) as info:
        read_faces_csv(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_columns_are_listed(tmp_path):
    path = tmp_path / "faces.csv"
    path.write_text("frame_index,timestamp_s,happy\n0,0.0,0.5\n")
    with pytest.raises(CsvError, match="missing columns time, face_index, x_min"):
        read_faces_csv(path)


# --------------------------------------------------------------------------- people and runs


def test_people_named_per_video():
    df = pd.DataFrame({"person": ["obama", "unknown-2", "unknown", "", None, " ann "]})
    names = people_of(df, True, "talk")
    assert names.tolist() == [
        "obama",
        "talk:unknown-2",
        "talk:unknown",
        "talk:unknown",
        "talk:unknown",
        "ann",
    ]
    assert people_of(df, False, "talk").tolist() == ["talk:unknown-1"] * 6


def test_video_names_from_summary_folder_or_file_and_unique(tmp_path):
    write_run(tmp_path / "a" / "lecture_feelinvideo", synthetic_faces(1, ["unknown-1"]))
    write_run(
        tmp_path / "b" / "run1",
        synthetic_faces(1, ["unknown-1"]),
        summary={"video": {"path": "/videos/lecture.mp4"}},
    )
    loose = tmp_path / "c" / "week3.csv"
    loose.parent.mkdir()
    synthetic_faces(1, ["unknown-1"]).to_csv(loose, index=False)
    runs = load_runs([tmp_path / "a", tmp_path / "b", loose])
    assert [r.video for r in runs] == ["lecture", "lecture-2", "week3"]
    people = [r.faces["person"].iloc[0] for r in runs]
    assert people == ["lecture:unknown-1", "lecture-2:unknown-1", "week3:unknown-1"]
    assert all((r.faces["video"] == r.video).all() for r in runs)


def test_csv_without_person_column_is_one_unknown(tmp_path):
    df = synthetic_faces(3, ["a", "b"]).drop(columns=["person"])
    runs = load_runs([write_run(tmp_path / "old_feelinvideo", df)])
    assert not runs[0].has_person
    assert set(runs[0].faces["person"]) == {"old:unknown-1"}


def test_extra_columns_ignored_and_runs_deduplicated(tmp_path):
    df = synthetic_faces(4, ["unknown-2"])
    df["rek_face_id"] = "abc"
    csv_path = write_run(tmp_path / "talk_feelinvideo", df)
    runs = load_runs([csv_path, tmp_path / "talk_feelinvideo", tmp_path])
    assert len(runs) == 1
    assert "rek_face_id" not in runs[0].faces.columns
    assert list(class_summary(runs)["person"]) == ["talk:unknown-2"]


@pytest.mark.parametrize(
    ("text", "message"), [("{not json", "not readable JSON"), ("[1, 2]", "expected a JSON object")]
)
def test_bad_summary_json_is_a_warning(tmp_path, text, message):
    csv_path = write_run(tmp_path / "talk_feelinvideo", synthetic_faces(2, ["a"]))
    (csv_path.parent / "summary.json").write_text(text)
    warnings: list[str] = []
    runs = load_runs([csv_path], warnings)
    assert runs[0].summary is None and runs[0].video == "talk"
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{csv_path.parent / 'summary.json'}: ignored, {message}")


def test_run_facts_from_summary_json(tmp_path):
    summary = {
        "video": {"path": "/v/talk.mp4", "duration_s": 30.0, "fps": 25, "width": 640},
        "sampled_frames": 31,
    }
    csv_path = write_run(tmp_path / "r", synthetic_faces(5, ["a"]), summary=summary)
    (run,) = load_runs([csv_path])
    assert run.duration_s == 30.0 and run.sampled_frames == 31
    assert run.video_info["fps"] == 25
    assert run.overlay is None
    (csv_path.parent / "overlay.mp4").write_bytes(b"\0")
    assert run.overlay == csv_path.parent / "overlay.mp4"
    # without summary.json: the last face's time, sampled frames unknown
    csv_path.parent.joinpath("summary.json").unlink()
    (bare,) = load_runs([csv_path])
    assert bare.duration_s == 4.0 and bare.sampled_frames is None and bare.video_info == {}


def test_run_key_follows_content_and_video(tmp_path):
    summary = {"video": {"path": "/v/talk.mp4"}}
    first = write_run(tmp_path / "one", synthetic_faces(2, ["a"]), summary=summary)
    shutil.copytree(first.parent, tmp_path / "copy")
    other = dict(summary, video={"path": "/v/other.mp4"})
    third = write_run(tmp_path / "three", synthetic_faces(2, ["a"]), summary=other)
    runs = load_runs([first, tmp_path / "copy", third])  # the copy is counted once
    assert len(runs) == 2 and runs[0].run_key != runs[1].run_key
    assert load_runs([tmp_path / "copy"])[0].run_key == runs[0].run_key


def test_finite_number():
    assert finite_number(3) == 3.0 and finite_number(2.5) == 2.5
    for value in (True, None, "3", float("nan"), float("inf"), [1]):
        assert finite_number(value) is None


# --------------------------------------------------------------------------- the command


def test_bad_inputs_give_one_line_errors(tmp_path, cli):
    missing = tmp_path / "missing.csv"
    missing.write_text("frame_index,timestamp_s,happy\n0,0.0,0.5\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    bad_number = write_run(tmp_path / "bad", synthetic_faces(2, ["a"]))
    text = bad_number.read_text().replace("\n0,0.0,", "\n0,zero,", 1)
    bad_number.write_text(text)
    cases = {
        missing: "missing columns time, face_index",
        empty: "empty file",
        data_file("fer/justin.jpg"): "not a CSV file",
        tmp_path / "nowhere": "no such file or folder",
        bad_number: "column timestamp_s needs numbers",
    }
    (tmp_path / "nocsv").mkdir()
    cases[tmp_path / "nocsv"] = "no faces.csv"
    for path, message in cases.items():
        result = cli("report", path, "--out", tmp_path / "out")
        assert result.exit_code == 1, (path, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"Error: {path}") and message in lines[0], lines[0]
        assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_summary_json_warning_reaches_the_page(tmp_path):
    from feelinvideo.report import make_report

    csv_path = write_run(tmp_path / "run", synthetic_faces(2, ["a"]))
    (csv_path.parent / "summary.json").write_text(json.dumps([1]))
    report = make_report([csv_path], tmp_path / "out", plots=False)
    assert len(report.warnings) == 1
    assert "expected a JSON object" in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("happy", "1e308", "happy is 1e+308, expected a number in [0, 1]"),
        ("sad", "-0.5", "sad is -0.5"),
        ("timestamp_s", "1e12", "timestamp_s is 1000000000000.0"),
        ("timestamp_s", "-3", "timestamp_s is -3.0"),
    ],
)
def test_values_out_of_range_are_one_line_errors(tmp_path, column, value, message):
    rows = synthetic_faces(3, ["ada"])
    rows[column] = rows[column].astype(object)
    rows.loc[1, column] = value
    path = tmp_path / "faces.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(CsvError, match="line 3: " + re.escape(message)):
        read_faces_csv(path)


def test_report_bounds_the_number_of_windows(tmp_path, cli):
    run = write_run(tmp_path / "run", synthetic_faces(3, ["ada"]), duration_s=100.0)
    result = cli("report", run, "--window", "0.001", "--out", tmp_path / "rep")
    assert result.exit_code == 2
    assert "at most 10,000" in result.stderr
    assert not (tmp_path / "rep").exists()


def test_a_copied_run_folder_is_counted_once(tmp_path, cli):
    run = write_run(tmp_path / "term" / "talk_feelinvideo", synthetic_faces(4, ["ada"]), 10.0)
    shutil.copytree(run.parent, tmp_path / "term" / "backup" / "talk_feelinvideo")
    result = cli("report", tmp_path / "term", "--out", tmp_path / "rep", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "counted once" in result.stderr
    assert json.loads(result.stdout)  # the class summary is there
    assert len(load_runs([tmp_path / "term"])) == 1


def test_report_on_a_full_disk_leaves_no_file(tmp_path, cli):
    """A 40 KB tmpfs fills while the plots are written (needs root to mount)."""
    run = write_run(tmp_path / "run", synthetic_faces(20, ["ada", "bob"]), duration_s=20.0)
    with small_disk(tmp_path / "small", "40k") as disk:
        result = cli("report", run, "--out", disk / "rep")
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {disk / 'rep'}"), lines
        assert list(disk.iterdir()) == []


def test_timestamps_beyond_the_runs_duration_are_refused(tmp_path):
    rows = synthetic_faces(3, ["ada"])
    rows.loc[2, "timestamp_s"] = 500.0
    run = write_run(tmp_path / "run", rows, duration_s=10.0)
    with pytest.raises(CsvError, match=r"line 4: timestamp_s is 500.0, beyond the video's 10 s"):
        load_runs([run])
