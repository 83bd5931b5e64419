"""report's public surface: build_report computes, write_report writes, make_report does both."""

from __future__ import annotations

import pytest
from report_data import synthetic_faces, write_run

from feelinvideo.errors import CsvError, OutputError
from feelinvideo.report import Report, build_report, make_report, write_report
from feelinvideo.schema import CLASS_SUMMARY_CSV, PLOT_FILES, REPORT_HTML, WINDOWS_CSV


@pytest.fixture
def term(tmp_path):
    """A folder of two synthetic runs."""
    root = tmp_path / "term"
    write_run(root / "a", synthetic_faces(6, ["ann", "unknown-1"]), duration_s=8.0)
    write_run(root / "b", synthetic_faces(4, ["ann", "bob"], seed=1), duration_s=5.0)
    return root


def listing(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def test_build_report_writes_nothing(term):
    before = listing(term.parent)
    report = build_report([term], window_s=2)
    assert listing(term.parent) == before
    assert isinstance(report, Report)
    assert [r.video for r in report.runs] == ["a", "b"]
    assert report.faces == 20 and report.window_s == 2.0
    assert list(report.people["person"]) == ["ann", "bob", "a:unknown-1"]
    assert report.attendance.shape == (3, 2)
    assert len(report.windows) == 4 + 3
    assert report.files == {} and report.out_dir is None and report.db is None
    with pytest.raises(ValueError, match="window_s must be > 0"):
        build_report([term], window_s=0)


def test_write_report_writes_every_file(term, tmp_path):
    report = write_report(build_report([term]), tmp_path / "out" / "deep")
    out = tmp_path / "out" / "deep"
    assert report.out_dir == out
    expected = {
        "class_summary": out / CLASS_SUMMARY_CSV,
        "windows": out / WINDOWS_CSV,
        **{name: out / file for name, file in PLOT_FILES.items()},
        "video_1_emotions": out / "video_1_emotions.png",
        "video_2_emotions": out / "video_2_emotions.png",
        "html": out / REPORT_HTML,
    }
    assert report.files == expected
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in expected.values())
    for name in [*PLOT_FILES, "video_1_emotions", "video_2_emotions"]:
        assert report.files[name].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_write_report_without_plots(term, tmp_path):
    report = write_report(build_report([term]), tmp_path / "out", plots=False)
    assert list(report.files) == ["class_summary", "windows", "html"]
    assert "<img" not in (tmp_path / "out" / REPORT_HTML).read_text()


def test_make_report_as_the_cli_calls_it(term, tmp_path):
    result = make_report([term], tmp_path / "out", window_s=3.0, db_path=tmp_path / "t.db")
    assert result.warnings == []
    assert result.db["added"] == ["a", "b"]
    assert all(path.is_file() for path in result.files.values())


def test_make_report_writes_nothing_on_error(term, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(CsvError):
        make_report([term, tmp_path / "missing"], out)
    assert not out.exists()
    with pytest.raises(OutputError):
        make_report([term], out, db_path=tmp_path)  # a folder is no database
    assert not out.exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a folder"):
        make_report([term], tmp_path / "file")
