"""report.formats: the class summary on stdout as text, json, csv and markdown."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from report_data import face_rows, write_run

from feelinvideo.report import FORMATS, build_report, format_summary, write_report
from feelinvideo.report.formats import SHORT_COLUMNS
from feelinvideo.schema import FACE_COLUMNS

PEOPLE = ["ann", "Bob|the\\builder", "=cmd()", "unknown-1"]


@pytest.fixture
def report(tmp_path):
    """A report over one small run: four people, each happy or sad."""
    df = face_rows(
        (0, 0.0, "ann", "happy", 0.9),
        (10, 1.0, "ann", "happy", 0.8),
        (0, 0.0, "Bob|the\\builder", "sad", 0.7),
        (0, 0.0, "=cmd()", "surprise", 0.6),
        (10, 1.0, "unknown-1", "fear", 0.5),
    )
    return build_report([write_run(tmp_path / "talk", df, duration_s=2.0)], window_s=1.0)


def test_text_headline_and_table(report):
    lines = format_summary(report, "text").splitlines()
    assert lines[0] == (
        "talk: interested (happy + surprise 46% vs angry + disgust + fear + sad 24% of the "
        "scores per face) over 5 faces of 4 people"
    )
    header, *rows = lines[1:]
    assert header.split() == list(SHORT_COLUMNS.values())
    assert len(rows) == 4
    assert rows[0].split() == ["=cmd()", "1", "1", "surprise", "0.60", "0.00", "interested"]
    assert rows[2].split()[:3] == ["Bob|the\\builder", "1", "1"]
    assert rows[3].startswith("talk:unknown-1 ")
    # numbers right-aligned under their headers, text left-aligned
    for name in ("videos", "attended", "positive", "negative"):
        end = header.index(name) + len(name)
        assert all(row[end - 1] != " " and row[end] == " " for row in rows), name
    for name in ("dominant", "verdict"):
        start = header.index(name)
        assert all(row[start] != " " and row[start - 1] == " " for row in rows), name
    assert all(line == line.rstrip() for line in lines)


def test_text_tells_database_and_files(report, tmp_path):
    assert "wrote:" not in format_summary(report, "text")
    write_report(report, tmp_path / "out", plots=False)
    report.db = {"path": "t.sqlite", "added": ["talk"], "already": []}
    lines = format_summary(report, "text").splitlines()
    assert lines[-2] == "database t.sqlite: added 1 run(s), 0 already there"
    assert lines[-1].startswith("wrote: ") and lines[-1].endswith("report.html")
    assert len(lines[-1].split(", ")) == 3


def test_text_without_faces(tmp_path):
    path = tmp_path / "empty_run" / "faces.csv"
    path.parent.mkdir()
    path.write_text(",".join(FACE_COLUMNS) + "\n")
    text = format_summary(build_report([path]), "text")
    assert text.splitlines() == [
        "empty_run: neutral (no faces) over 0 faces of 0 people",
        "no faces were found",
    ]


def test_text_names_are_printable(tmp_path):
    df = face_rows((0, 0.0, "two\nlines\x1b", "happy", 0.9))
    text = format_summary(build_report([write_run(tmp_path / "r", df)]), "text")
    assert "two?lines? " in text and len(text.splitlines()) == 3


def test_json_has_every_column(report, tmp_path):
    write_report(report, tmp_path / "out", plots=False)
    report.db = {"path": "t.sqlite", "added": [], "already": ["talk"]}
    data = json.loads(format_summary(report, "json"))
    assert data["verdict"] == "interested" and data["faces"] == 5 and data["videos"] == ["talk"]
    assert data["positive"] == pytest.approx(2.3) and data["negative"] == pytest.approx(1.2)
    assert [p["person"] for p in data["people"]] == list(report.people["person"])
    assert list(data["people"][0]) == list(report.people.columns)
    assert isinstance(data["people"][0]["attended"], int)
    assert set(data["outputs"]) == {"class_summary", "windows", "html"}
    assert data["db"] == {"path": "t.sqlite", "added": [], "already": ["talk"]}


def test_csv_is_the_class_summary_file(report, tmp_path):
    write_report(report, tmp_path / "out", plots=False)
    text = format_summary(report, "csv")
    assert text + "\n" == (tmp_path / "out" / "class_summary.csv").read_text(encoding="utf-8")
    assert "\n'=cmd()," in text


def split_row(line: str) -> list[str]:
    """The cells of a markdown table row (``\\|`` is not a separator)."""
    cells = re.split(r"(?<!\\)\|", line)
    assert cells[0] == "" and cells[-1] == ""
    return [c.strip() for c in cells[1:-1]]


def test_markdown_table(report):
    lines = format_summary(report, "markdown").splitlines()
    assert split_row(lines[0]) == list(SHORT_COLUMNS.values())
    assert re.fullmatch(r"(\|-+)+\|", lines[1])
    rows = [split_row(line) for line in lines[2:]]
    assert len(rows) == 4 and all(len(r) == 7 for r in rows)
    assert rows[2][0] == "Bob\\|the\\\\builder"  # | and \ escaped
    assert rows[1] == ["ann", "1", "2", "happy", "1.70", "0.00", "interested"]
    assert len({len(line) for line in lines}) == 1  # aligned


def test_unknown_format(report):
    with pytest.raises(ValueError, match="format must be one of text, json, csv, markdown"):
        format_summary(report, "yaml")
    assert FORMATS == ("text", "json", "csv", "markdown")


def test_zero_faces_reports_zero(tmp_path, cli):
    csv_path = tmp_path / "empty_run" / "faces.csv"
    csv_path.parent.mkdir()
    csv_path.write_text(",".join(FACE_COLUMNS) + "\n")
    out = tmp_path / "out"
    result = cli("report", csv_path, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert "over 0 faces" in result.stdout and "no faces were found" in result.stdout
    assert len(pd.read_csv(out / "class_summary.csv")) == 0
    windows = pd.read_csv(out / "windows.csv")
    assert windows["faces"].tolist() == [0]
    assert (out / "report.html").exists()


def test_headline_of_several_videos_pools_no_verdict(tmp_path):
    happy = face_rows((0, 0.0, "ann", "happy", 0.9), (10, 1.0, "ann", "happy", 0.8))
    sad = face_rows(*[(i, float(i), "bob", "sad", 0.9) for i in range(5)])
    report = build_report(
        [write_run(tmp_path / "a", happy, 2.0), write_run(tmp_path / "b", sad, 5.0)]
    )
    line = format_summary(report, "text").splitlines()[0]
    assert line == (
        "2 videos, each judged on its own faces: 1 interested, 0 neutral, 1 not interested; "
        "7 faces of 2 people"
    )
