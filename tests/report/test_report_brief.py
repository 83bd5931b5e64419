"""People seen too briefly (issue 22 item 8): ``analyze`` leaves them out of the class by
its measured default rule (or ``--min-frames``) and counts them apart; the report follows
the run's decision, counts none of their faces and names them on one line."""

from __future__ import annotations

import json

import pandas as pd
from conftest import data_file
from report_data import synthetic_faces, write_run

from feelinvideo.report import build_report, format_summary


def _run_with_a_phantom(folder, brief: bool = True):
    df = synthetic_faces(20, ["unknown-1", "unknown-2"])
    phantom = synthetic_faces(1, ["unknown-5"], seed=3).assign(frame_index=[70])
    identity = {"min_frames": None, "brief": {"share": 0.05, "persist_s": 3.0}}
    people = [{"person": "unknown-1"}, {"person": "unknown-2"}]
    summary = {"identity": identity if brief else {"min_frames": 1}, "people": people}
    return write_run(folder, pd.concat([df, phantom], ignore_index=True), 21.0, summary)


def test_the_report_leaves_out_whom_the_run_left_out(tmp_path):
    _run_with_a_phantom(tmp_path / "lecture")
    report = build_report([tmp_path / "lecture"])
    assert sorted(report.people["person"]) == ["lecture:unknown-1", "lecture:unknown-2"]
    assert report.faces == 40  # the phantom's face is not counted
    assert report.runs[0].brief == {"lecture:unknown-5": 1}
    text = format_summary(report)
    assert "left out as seen too briefly: 1 person (lecture:unknown-5, 1 frame)" in text
    data = json.loads(format_summary(report, "json"))
    assert data["people_brief"] == [
        {"video": "lecture", "person": "lecture:unknown-5", "frames": 1}
    ]


def test_a_run_without_the_rule_keeps_everyone(tmp_path):
    """An older run (min_frames 1, no rule recorded) or a live watch: nobody left out."""
    _run_with_a_phantom(tmp_path / "lecture", brief=False)
    report = build_report([tmp_path / "lecture"])
    assert len(report.people) == 3 and report.runs[0].brief == {}
    assert "too briefly" not in format_summary(report)


def test_analyze_keeps_brief_passers_by_and_min_frames_counts_them_apart(cli, tmp_path):
    """The street clip (4.2 s, 5 sampled frames): every passer-by counts by default (the
    least seen is in 1 of 5 frames: 20%, over the 5% share); with --min-frames 3 the
    briefest are left out, counted in people_left_out, and the report names them."""
    clip = data_file("facenet-pytorch/video.mp4")
    out = tmp_path / "default"
    result = cli("analyze", clip, "--out", out, "--no-video", "--no-gallery", "-q")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["identity"]["brief"] == {"share": 0.05, "persist_s": 3.0}
    assert summary["people_left_out"] == 0 and summary["people_count"] >= 5
    faces = json.loads((out / "people.json").read_text())["People"]
    assert len(faces) == summary["people_count"]
    strict = tmp_path / "strict"
    result = cli("analyze", clip, "--out", strict, "--no-video", "--no-gallery", "--min-frames", 3)
    assert result.exit_code == 0, result.output
    cut = json.loads((strict / "summary.json").read_text())
    assert cut["people_left_out"] >= 1
    assert cut["people_count"] + cut["people_left_out"] == summary["people_count"]
    assert f"({cut['people_left_out']} seen too briefly left out)" in result.stdout
    assert all(p["frames"] >= 3 for p in cut["people"])
    report = build_report([strict])
    assert len(report.runs[0].brief) == cut["people_left_out"]
    assert len(report.people) == cut["people_count"]
    assert "left out as seen too briefly" in format_summary(report)
