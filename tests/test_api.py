"""The library API: analyze() returns results and writes nothing; save() writes all files;
analyze_frames() yields Faces per sampled frame; the CLI is a thin layer over the same code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import data_file

import feelinvideo
from feelinvideo.schema import (
    EMOTION_SIZE_COLUMNS,
    FACE_COLUMNS,
    IDENTITY_COLUMNS,
    SMOOTHED_COLUMNS,
)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    """A folder holding only a copy of a real 4.6 s clip (one face)."""
    folder = tmp_path_factory.mktemp("only_the_video")
    shutil.copy(data_file("fer/test.mp4"), folder / "clip.mp4")
    return folder


def test_analyze_from_python_writes_nothing(clip_dir):
    """The issue's check, run as a user would: a fresh interpreter in the video's folder."""
    code = "import feelinvideo as f; a = f.analyze('clip.mp4'); print(a.faces.shape)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=clip_dir, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    rows, cols = (int(v) for v in done.stdout.strip().strip("()").split(","))
    assert 3 <= rows <= 6
    identity = len(IDENTITY_COLUMNS) + len(SMOOTHED_COLUMNS)
    assert cols == len(FACE_COLUMNS) + identity + len(EMOTION_SIZE_COLUMNS)
    assert os.listdir(clip_dir) == ["clip.mp4"]
    assert "analysing" not in done.stderr  # no progress bar unless asked


def test_analysis_then_save_matches_the_cli(clip_dir, tmp_path, cli):
    analysis = feelinvideo.analyze(clip_dir / "clip.mp4", options=feelinvideo.AnalyzeOptions())
    assert isinstance(analysis.faces, pd.DataFrame)
    assert analysis.summary["faces"] == len(analysis.faces)
    assert "outputs" not in analysis.summary
    assert [p["person"] for p in analysis.people] == ["unknown-1"]
    files = analysis.save(tmp_path / "api")
    assert sorted(p.name for p in files.values()) == sorted(
        ["faces.csv", "summary.json", "people.json", "people.png", "overlay.mp4", "thumbnails"]
    )
    assert os.listdir(tmp_path / "api" / "thumbnails") == ["unknown-1.jpg"]
    assert sorted(os.listdir(tmp_path / "api")) == sorted(p.name for p in files.values())
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]
    result = cli("analyze", clip_dir / "clip.mp4", "--out", tmp_path / "cli", "-q")
    assert result.exit_code == 0, result.output
    api = pd.read_csv(tmp_path / "api" / "faces.csv")
    by_cli = pd.read_csv(tmp_path / "cli" / "faces.csv")
    pd.testing.assert_frame_equal(api, by_cli)
    saved = json.loads((tmp_path / "api" / "summary.json").read_text())
    assert saved["outputs"]["faces_csv"] == "faces.csv"
    assert os.listdir(clip_dir) == ["clip.mp4"]


def test_analyze_frames_yields_faces_per_sampled_frame(clip_dir):
    seen = list(feelinvideo.analyze_frames(clip_dir / "clip.mp4"))
    assert [round(frame.timestamp_s) for frame, _ in seen] == [0, 1, 2, 3, 4]
    for frame, faces in seen:
        assert isinstance(faces, feelinvideo.Faces)
        assert frame.image.shape == (336, 596, 3)
        assert faces.xyxy.shape == (len(faces), 4)
        assert np.allclose(faces.scores.sum(axis=1), 1.0, atol=1e-3)
        assert (faces.tracker_id >= 0).all()
    assert sum(len(f) for _, f in seen) >= 3
    assert os.listdir(clip_dir) == ["clip.mp4"]


def test_save_refuses_to_overwrite_the_input(tmp_path):
    video = tmp_path / "overlay.mp4"
    shutil.copy(data_file("fer/test.mp4"), video)
    before = video.read_bytes()
    analysis = feelinvideo.analyze(video, options=feelinvideo.AnalyzeOptions(identity=False))
    with pytest.raises(feelinvideo.FeelinvideoError, match="is the input video"):
        analysis.save(tmp_path)
    assert video.read_bytes() == before
    assert os.listdir(tmp_path) == ["overlay.mp4"]


def test_options_out_of_range_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="every_s"):
        feelinvideo.analyze(
            tmp_path / "missing.mp4", options=feelinvideo.AnalyzeOptions(every_s=float("nan"))
        )


def test_cli_default_output_folder_is_beside_the_video(cli, tmp_path):
    video = tmp_path / "lecture.mp4"
    shutil.copy(data_file("fer/test.mp4"), video)
    result = cli("analyze", video, "--no-video", "-q")
    assert result.exit_code == 0, result.output
    out = tmp_path / "lecture_feelinvideo"
    assert sorted(p.name for p in out.iterdir()) == [
        "faces.csv",
        "people.json",
        "people.png",
        "summary.json",
        "thumbnails",
    ]
    assert f"wrote: {out / 'faces.csv'}" in result.stdout
