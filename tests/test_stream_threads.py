"""OpenCV's thread count during an analysis follows how heavy decoding is (stream.py)."""

from __future__ import annotations

import cv2

from feelinvideo import stream
from feelinvideo.cores import available_cores


def test_light_decoding_gives_opencv_every_core_and_heavy_decoding_leaves_some():
    before = cv2.getNumThreads()
    cores = available_cores()
    with stream._opencv_threads(True, 1.0):  # every frame analysed
        assert cv2.getNumThreads() == min(before, max(1, cores))
    with stream._opencv_threads(True, 25.0):  # 1 sample/s at 25 fps
        assert cv2.getNumThreads() == min(before, max(1, cores - 2))
    with stream._opencv_threads(False, None):  # a live source: unknown
        assert cv2.getNumThreads() == min(before, max(1, cores - 1))
    assert cv2.getNumThreads() == before  # restored


def test_frames_decoded_a_sample():
    from conftest import data_file

    from feelinvideo.video import probe

    info = probe(data_file("fer/test.mp4"))
    assert stream._frames_decoded_a_sample(info, 0.0) == 1.0
    assert abs(stream._frames_decoded_a_sample(info, 1.0) - info.fps) < 1e-9
