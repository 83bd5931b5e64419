"""The report's words follow their numbers (issue 22 item 9: "1 frames", "1 faces")."""

from __future__ import annotations

from report_data import synthetic_faces, write_run

from feelinvideo.report import build_report, format_summary, render_html


def test_the_report_says_1_face_and_1_frame(tmp_path):
    write_run(tmp_path / "clip", synthetic_faces(1, ["ada"]), duration_s=2.0)
    report = build_report([tmp_path / "clip"])
    assert " over 1 face of 1 person" in format_summary(report).splitlines()[0]
    page = render_html(report, {}, tmp_path / "out")
    assert "1 face of 1 person" in page and "1 frame<" in page
    assert "1 faces" not in page and "1 frames" not in page
