"""The report names the videos of a batch it does not cover (issue 22 item 7): those that
failed, with the error batch.json records, and those whose run folder has no faces.csv any
more; on stdout (text, json, markdown) and on the page. batch.json is written by the
batch's own writer (:func:`feelinvideo.runs.index.write_batch_json`)."""

from __future__ import annotations

import json

import pytest
from report_data import NASTY, synthetic_faces, write_run

from feelinvideo.errors import CsvError
from feelinvideo.report import build_report, find_left_out, format_summary, render_html
from feelinvideo.runs.index import BatchItem, write_batch_json

BROKEN = "term/broken.mp4: not a readable video, or corrupt or truncated (Invalid data)"


@pytest.fixture()
def batch(tmp_path):
    """``runs/``: two analysed videos, one failed, one named twice, one whose run folder
    was deleted, and one failed with a name that is markup."""
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        write_run(runs / f"{name}_feelinvideo", synthetic_faces(3, ["ada"]), duration_s=3.0)
    items = [
        BatchItem("term/a.mp4", "done", None, 3.0, 1.0, "runs/a_feelinvideo", 3, 1),
        BatchItem("term/b.mp4", "kept", None, 3.0, 0.0, "runs/b_feelinvideo", 3, 1),
        BatchItem("term/broken.mp4", "failed", BROKEN),
        BatchItem("term/a.mp4", "skipped", "named twice"),
        BatchItem("term/gone.mp4", "done", None, 3.0, 1.0, "runs/gone_feelinvideo", 3, 1),
        BatchItem(f"term/{NASTY}.mp4", "failed", None),
    ]
    write_batch_json(runs, items)
    return runs


def test_failed_and_missing_videos_are_listed_with_their_reason(batch):
    left = find_left_out([batch])
    assert [(x.path, x.status) for x in left] == [
        ("term/broken.mp4", "failed"),
        ("term/gone.mp4", "missing"),
        (f"term/{NASTY}.mp4", "failed"),
    ]
    assert left[0].reason == "not a readable video, or corrupt or truncated (Invalid data)"
    assert "runs/gone_feelinvideo holds no faces.csv" in left[1].reason.replace("\\", "/")
    assert left[2].reason == "not analysed (batch.json gives no reason)"
    assert find_left_out([batch / "a_feelinvideo"]) == []  # a run folder, not the batch
    assert [x.path for x in find_left_out([batch.parent])] == [x.path for x in left]  # below


def test_text_json_and_markdown_name_them(batch):
    report = build_report([batch])
    assert len(report.runs) == 2
    text = format_summary(report).splitlines()
    assert text[0].endswith("; 3 more videos failed or were left out (listed below)")
    at = text.index("not in this report: 3 videos (from batch.json)")
    assert text[at + 1] == (
        "  term/broken.mp4: failed: not a readable video, or corrupt or truncated (Invalid data)"
    )
    assert text[at + 2].startswith("  term/gone.mp4: missing: batch.json says done")
    data = json.loads(format_summary(report, "json"))
    assert [x["status"] for x in data["left_out"]] == ["failed", "missing", "failed"]
    markdown = format_summary(report, "markdown")
    assert "- term/broken.mp4: failed: not a readable video" in markdown


def test_the_page_lists_them_escaped(batch, tmp_path):
    report = build_report([batch])
    page = render_html(report, {}, tmp_path / "report")
    assert 'id="left-out"' in page and "3 videos not in this report" in page
    assert "3 more videos failed or were left out" in page
    assert "term/broken.mp4" in page and NASTY not in page  # escaped
    assert "&lt;script&gt;" in page


def test_cli_report_of_a_batch_with_a_failure(batch, tmp_path, cli):
    result = cli("report", batch, "--out", tmp_path / "rep")
    assert result.exit_code == 0, result.output
    assert "term/broken.mp4: failed: not a readable video" in result.stdout
    assert "not in this report" in (tmp_path / "rep" / "report.html").read_text()


def test_a_batch_where_every_video_failed_says_so(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    write_batch_json(runs, [BatchItem("term/broken.mp4", "failed", BROKEN)])
    with pytest.raises(CsvError, match=r"batch.json lists 1 video not analysed: term/broken"):
        build_report([runs])


def test_a_report_without_batches_lists_nothing_and_bad_indexes_warn(tmp_path):
    write_run(tmp_path / "runs" / "a_feelinvideo", synthetic_faces(2, ["ada"]))
    report = build_report([tmp_path / "runs"])
    assert report.left_out == [] and "not in this report" not in format_summary(report)
    (tmp_path / "runs" / "batch.json").write_text("{not json")
    report = build_report([tmp_path / "runs"])
    assert report.left_out == []
    assert any("batch.json: ignored, not a batch index" in w for w in report.warnings)
