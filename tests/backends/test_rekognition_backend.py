"""The Rekognition backend (DetectFaces), through boto3 and the fake service on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest
from fake_rekognition import noise_frame, serve_fake

pytest.importorskip("boto3")

from feelinvideo.backends.rekognition import REK_COLUMNS, RekognitionBackend  # noqa: E402
from feelinvideo.errors import BackendError, MissingDependencyError  # noqa: E402
from feelinvideo.schema import EMOTIONS  # noqa: E402


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A started fake service, with the environment pointing boto3 at it."""
    with serve_fake(monkeypatch, tmp_path) as server:
        yield server


def test_backend_interface():
    assert RekognitionBackend.name == "rekognition"
    assert RekognitionBackend.columns == REK_COLUMNS


def test_prepare_has_nothing_to_make_and_sends_nothing(fake):
    backend = RekognitionBackend(workers=1)
    assert backend.prepare() is None
    assert fake.operations() == []


def test_detect_faces_through_boto3(fake):
    backend = RekognitionBackend(workers=4)
    assert backend.frames_per_call == 8 and backend.columns == REK_COLUMNS
    frames = [noise_frame(596, 336, 1), noise_frame(640, 360, 2)]
    found = backend.analyze(frames)
    assert fake.operations() == ["DetectFaces", "DetectFaces"]
    assert all(params["Attributes"] == ["ALL"] for _, params, _ in fake.calls)
    assert sorted(size for _, _, size in fake.calls) == [(596, 336), (640, 360)]
    for faces, (w, h) in zip(found, [(596, 336), (640, 360)], strict=True):
        assert len(faces) == 2
        np.testing.assert_allclose(faces.xyxy[0], [0.35 * w, 0.2 * h, 0.65 * w, 0.7 * h], rtol=1e-5)
        # Left -0.1, Top 0.75, Height 0.4: clipped to the frame's left and bottom edges
        np.testing.assert_allclose(faces.xyxy[1], [0, 0.75 * h, 0.15 * w, h], rtol=1e-5)
        assert faces.dominant_index.tolist() == [EMOTIONS.index("happy"), EMOTIONS.index("neutral")]
        assert list(faces.data) == list(REK_COLUMNS)
        assert faces.data["rek_happy"].tolist() == [80.0, 0.0]
        assert faces.data["rek_calm"].tolist() == [10.0, 60.0]
        assert (faces.person == "").all() and (faces.tracker_id == -1).all()


def test_no_face_still_has_the_columns(fake):
    fake.faces = []
    (faces,) = RekognitionBackend(workers=1).analyze([noise_frame()])
    assert len(faces) == 0 and list(faces.data) == list(REK_COLUMNS)


def test_requests_run_concurrently_bounded_and_in_order(fake):
    fake.delay_s = 0.2  # long enough for 4 threads to overlap even on a loaded machine
    sizes = [(200 + 10 * i, 120 + 5 * i) for i in range(12)]
    backend = RekognitionBackend(workers=4)
    found = backend.analyze([noise_frame(w, h, i) for i, (w, h) in enumerate(sizes)])
    assert 1 < fake.max_in_flight <= 4
    for faces, (w, h) in zip(found, sizes, strict=True):  # each result is its own frame's
        assert faces.xyxy[1, 3] == pytest.approx(h) and faces.xyxy[0, 2] == pytest.approx(0.65 * w)


def test_throttling_is_retried_then_answered(fake):
    fake.fail("DetectFaces", "ThrottlingException", "Rate exceeded", times=1)
    (faces,) = RekognitionBackend(workers=1).analyze([noise_frame()])
    assert len(faces) == 2 and fake.operations() == ["DetectFaces"] * 2


def test_errors_are_one_line(fake):
    fake.fail("DetectFaces", "AccessDeniedException", "User: x is not authorized")
    with pytest.raises(BackendError, match=r"^AWS Rekognition DetectFaces: access denied \("):
        RekognitionBackend(workers=2).analyze([noise_frame(), noise_frame(seed=1)])


def test_missing_boto3_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'feelinvideo\[aws\]'"):
        RekognitionBackend()
