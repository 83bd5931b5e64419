"""fer's emotion network: the OpenCV runtime (cached TFLite copy) against Keras on real faces."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file

from feelinvideo.models.fer import FerEmotionModel, converted_path, default_model_path
from feelinvideo.video import iter_frames


@pytest.fixture()
def woman2():
    """Frames of woman2 (one face each) and their boxes from the default detector."""
    from feelinvideo.backends.local import LocalBackend

    images = [f.image for f in iter_frames(data_file("fer/woman2.mp4"), 1.0)]
    boxes = [faces.xyxy for faces in LocalBackend().detector.detect(images)]
    assert sum(len(b) for b in boxes) >= 0.8 * len(images)
    return images, boxes


def test_opencv_runtime_scores_like_keras(woman2, tmp_path, monkeypatch):
    monkeypatch.setenv("FEELINVIDEO_CACHE", str(tmp_path))
    images, boxes = woman2
    fast = FerEmotionModel()
    got = np.concatenate(fast.score_frames(images, boxes))
    keras = FerEmotionModel(runtime="keras")
    want = np.concatenate(keras.score_frames(images, boxes))
    assert (fast.runtime_used, keras.runtime_used) == ("opencv", "keras")
    assert got.shape == want.shape == (sum(len(b) for b in boxes), 7)
    assert np.abs(got - want).max() < 1e-4
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert converted_path(default_model_path()).parent == tmp_path
    assert [p.suffix for p in tmp_path.iterdir()] == [".tflite"]  # no temporary left


def test_damaged_cache_file_is_made_again(woman2, tmp_path, monkeypatch):
    monkeypatch.setenv("FEELINVIDEO_CACHE", str(tmp_path))
    images, boxes = woman2
    model = FerEmotionModel()
    cached = converted_path(default_model_path())
    cached.write_bytes(b"not a model")
    scores = model.score_frames(images[:2], boxes[:2])
    assert model.runtime_used == "opencv" and cached.stat().st_size > 100_000
    assert all(np.allclose(s.sum(axis=1), 1.0, atol=1e-5) for s in scores)


def test_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="runtime must be one of"):
        FerEmotionModel(runtime="onnx")


def test_another_model_file_runs_in_keras(woman2):
    images, boxes = woman2
    own = FerEmotionModel(model_path=default_model_path())  # Keras reads its input size
    scores = own.score_frames(images[:2], boxes[:2])
    assert own.runtime_used == "keras"
    assert all(np.allclose(s.sum(axis=1), 1.0, atol=1e-5) for s in scores)


def test_a_cache_folder_not_made_yet_is_made(woman2, tmp_path, monkeypatch):
    monkeypatch.setenv("FEELINVIDEO_CACHE", str(tmp_path / "new" / "cache"))
    images, boxes = woman2
    model = FerEmotionModel()
    model.score_frames(images[:1], boxes[:1])
    assert model.runtime_used == "opencv"
    assert converted_path(default_model_path()).is_file()
