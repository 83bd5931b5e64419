"""fer's emotion network: the shipped OpenCV copy, and the same scores as Keras on real faces
where TensorFlow is installed (``pip install 'feelinvideo[keras]'``)."""

from __future__ import annotations

import importlib.util
import shutil
import sys

import numpy as np
import pytest
from conftest import data_file

from feelinvideo.errors import BackendError
from feelinvideo.models import fer, tflite
from feelinvideo.models.fer import FerEmotionModel, default_model_path
from feelinvideo.schema import EMOTIONS
from feelinvideo.video import iter_frames

needs_keras = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("keras", "tensorflow")),
    reason="TensorFlow/Keras not installed: the Keras reference needs "
    "pip install 'feelinvideo[keras]' (CI's parity step)",
)


@pytest.fixture(scope="module")
def woman2():
    """Frames of woman2 (one face each) and their boxes from the default detector."""
    from feelinvideo.backends.local import LocalBackend

    images = [f.image for f in iter_frames(data_file("fer/woman2.mp4"), 1.0)]
    boxes = [faces.xyxy for faces in LocalBackend().detector.detect(images)]
    assert sum(len(b) for b in boxes) >= 0.8 * len(images)
    return images, boxes


@pytest.fixture()
def weights(tmp_path, monkeypatch):
    """A copy of the shipped weights folder, which the package reads instead."""
    folder = tmp_path / "weights"
    shutil.copytree(tflite.WEIGHTS, folder)
    monkeypatch.setattr(tflite, "WEIGHTS", folder)
    return folder


@needs_keras
def test_shipped_copy_scores_like_keras(woman2):
    images, boxes = woman2
    fast = FerEmotionModel()
    got = np.concatenate(fast.score_frames(images, boxes))
    keras = FerEmotionModel(runtime="keras")
    want = np.concatenate(keras.score_frames(images, boxes))
    assert (fast.runtime_used, keras.runtime_used) == ("opencv", "keras")
    assert got.shape == want.shape == (sum(len(b) for b in boxes), 7)
    assert np.abs(got - want).max() < 1e-4


def test_shipped_copy_scores_real_faces(woman2):
    """woman2 is neutral, then smiles: both show among the top scores, and rows sum to 1."""
    images, boxes = woman2
    model = FerEmotionModel()
    scores = np.concatenate(model.score_frames(images, boxes))
    assert model.runtime_used == "opencv"
    assert scores.dtype == np.float32 and scores.shape == (sum(len(b) for b in boxes), 7)
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    top = {EMOTIONS[k] for k in scores.argmax(axis=1)}
    assert {"happy", "neutral"} <= top


def test_a_damaged_shipped_copy_is_refused(woman2, weights, monkeypatch):
    images, boxes = woman2
    path = weights / "fer" / "emotion_model.tflite"
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(fer, "_keras_installed", lambda: False)
    with pytest.raises(BackendError, match=r"emotion_model\.tflite: damaged.*reinstall"):
        FerEmotionModel().score_frames(images[:1], boxes[:1])
    with pytest.raises(BackendError, match="damaged"):
        fer.prepare()


@needs_keras
def test_a_damaged_shipped_copy_falls_back_to_keras(woman2, weights):
    images, boxes = woman2
    (weights / "fer" / "emotion_model.tflite").write_bytes(b"not a model")
    model = FerEmotionModel()
    scores = model.score_frames(images[:2], boxes[:2])
    assert model.runtime_used == "keras"
    assert all(np.allclose(s.sum(axis=1), 1.0, atol=1e-5) for s in scores)


def test_the_keras_runtime_without_tensorflow_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow fails
    monkeypatch.setitem(sys.modules, "keras", None)
    model = FerEmotionModel(runtime="keras")
    with pytest.raises(BackendError, match=r"pip install 'feelinvideo\[keras\]'"):
        model.score_frames([np.zeros((64, 64, 3), np.uint8)], [np.zeros((1, 4))])


def test_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="runtime must be one of"):
        FerEmotionModel(runtime="onnx")


@needs_keras
def test_another_model_file_runs_in_keras(woman2):
    images, boxes = woman2
    own = FerEmotionModel(model_path=default_model_path())  # Keras reads its input size
    scores = own.score_frames(images[:2], boxes[:2])
    assert own.runtime_used == "keras"
    assert all(np.allclose(s.sum(axis=1), 1.0, atol=1e-5) for s in scores)
