"""fer's emotion network: the shipped OpenCV copy, and the same scores as Keras on real faces
where TensorFlow is installed (``pip install 'feelinvideo[keras]'``); the crop rules (what
square of the frame becomes the model's input) and mirror averaging."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from conftest import data_file

from feelinvideo.errors import BackendError
from feelinvideo.models import fer
from feelinvideo.models.fer import (
    BOX_RULE,
    FER_RULE,
    CropRule,
    FerEmotionModel,
    default_model_path,
    face_crops,
)
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


def ramp_frame(width: int = 320, height: int = 240) -> np.ndarray:
    """A grey frame whose every pixel says where it is: value = (x + 2y) mod 256."""
    y, x = np.mgrid[0:height, 0:width]
    return ((x + 2 * y) % 256).astype(np.uint8)


def expected_crop(gray, left, top, side, size=(64, 64)):
    import cv2

    window = gray[top : top + side, left : left + side]
    how = cv2.INTER_AREA if side > size[0] else cv2.INTER_LINEAR
    crop = cv2.resize(window, size, interpolation=how).astype(np.float32)
    return (crop / 255.0 - 0.5) * 2.0


def test_crop_rules_cut_the_square_they_describe():
    gray = ramp_frame()
    box = np.array([[100, 60, 140, 110]], np.float32)  # 40 x 50: square on the 50-px side
    got = face_crops(gray, box, rule=BOX_RULE)[0, :, :, 0]
    assert np.allclose(got, expected_crop(gray, 95, 60, 50), atol=1e-6)
    # a margin in proportion to the box: 10% of 50 px = 5 px a side
    got = face_crops(gray, box, rule=CropRule(margin=0.1))[0, :, :, 0]
    assert np.allclose(got, expected_crop(gray, 90, 55, 60), atol=1e-6)
    # moved down by 10% of the side
    got = face_crops(gray, box, rule=CropRule(shift_y=0.1))[0, :, :, 0]
    assert np.allclose(got, expected_crop(gray, 95, 65, 50), atol=1e-6)
    # fer's fixed 10 px: a third of a 30-px face's crop, a tenth of a 200-px one's
    small = face_crops(gray, np.array([[100, 60, 130, 90]]), rule=FER_RULE)[0, :, :, 0]
    assert np.allclose(small, expected_crop(gray, 90, 50, 50), atol=1e-6)
    large = face_crops(gray, np.array([[60, 20, 260, 220]]), rule=FER_RULE)[0, :, :, 0]
    assert np.allclose(large, expected_crop(gray, 50, 10, 220), atol=1e-6)


def test_a_crop_past_the_frame_repeats_its_edge_and_an_empty_box_is_zero():
    gray = ramp_frame(100, 80)
    crops = face_crops(gray, np.array([[-20, -10, 30, 40], [50, 50, 50, 50]], np.float32))
    assert crops.shape == (2, 64, 64, 1) and crops.dtype == np.float32
    assert crops.min() >= -1 and crops.max() <= 1
    left_column = crops[0, :, :20, 0]  # x < 0 in the frame: column 0 repeated
    assert np.allclose(left_column, left_column[:, :1])
    assert not crops[1].any()
    assert face_crops(gray, np.zeros((0, 4))).shape == (0, 64, 64, 1)


def test_crop_rule_values_are_checked():
    for bad in ({"margin": -0.5}, {"shift_y": 0.9}, {"offset_px": -1}, {"margin": float("nan")}):
        with pytest.raises(ValueError):
            CropRule(**bad)
    assert FER_RULE.describe() == "box +10 px a side"
    assert CropRule(margin=0.05, mirror=True).describe() == "box +5% a side, mirror averaged"
    assert BOX_RULE.describe("the crop itself") == "the crop itself"
    assert (
        CropRule(shift_y=-0.05, align=True, mirror=True).describe()
        == "box centre 5% up, aligned by the eye line, mirror averaged"
    )


def test_alignment_levels_the_eye_line_and_leaves_faces_without_landmarks_as_they_are():
    import cv2

    gray = np.full((200, 240), 200, np.uint8)
    centre = np.array([120.0, 100.0])
    turn = np.radians(20)  # the eye line falls 20 degrees to the image's right
    step = 25 * np.array([np.cos(turn), np.sin(turn)])
    eyes = np.round([centre - step, centre + step])
    for x, y in eyes.astype(int):
        cv2.circle(gray, (int(x), int(y)), 4, 0, -1)
    box = np.array([[70, 50, 170, 150]], np.float32)
    marks = np.full((1, 5, 2), np.nan, np.float32)
    marks[0, :2] = eyes
    aligned = CropRule(align=True)
    assert fer.eye_line_degrees(marks[0], 100.0) == pytest.approx(np.degrees(turn), abs=1.5)
    crop = face_crops(gray, box, (100, 100), aligned, marks)[0, :, :, 0]
    rows, cols = np.nonzero(crop < 0)  # the dark dots
    left, right = cols < 50, cols >= 50
    assert abs(rows[left].mean() - rows[right].mean()) < 1.0  # level after the turn
    assert abs(cols[left].mean() - (50 - 25)) < 1.5 and abs(cols[right].mean() - (50 + 25)) < 1.5
    unturned = face_crops(gray, box, (100, 100), BOX_RULE)
    rows, cols = np.nonzero(unturned[0, :, :, 0] < 0)
    assert rows[cols >= 50].mean() - rows[cols < 50].mean() > 10  # tilted as drawn
    # no landmarks, NaN ones, an implausible roll or too close eyes: cut unturned
    nan = np.full((1, 5, 2), np.nan, np.float32)
    steep = marks.copy()
    steep[0, 1] = centre + 25 * np.array([np.cos(1.2), np.sin(1.2)])
    close = marks.copy()
    close[0, 1] = close[0, 0] + 5
    for points in (None, nan, steep, close):
        got = face_crops(gray, box, (100, 100), aligned, points)
        assert np.array_equal(got, unturned)
    with pytest.raises(ValueError, match="rows of landmarks"):
        face_crops(gray, box, (100, 100), aligned, np.zeros((2, 5, 2)))


def test_mirror_averaging_is_the_mean_of_a_crop_and_its_mirror_image(woman2):
    images, boxes = woman2
    model = FerEmotionModel(crop=CropRule(mirror=True))
    gray = [np.ascontiguousarray(images[0][:, :, 0])]
    crops = face_crops(gray[0], boxes[0], rule=BOX_RULE)  # the model's rule without mirror
    plain = model.score(crops)
    flipped = model.score(np.ascontiguousarray(crops[:, :, ::-1]))
    got = model.score_gray(gray, boxes[:1])[0]
    assert np.allclose(got, (plain + flipped) / 2, atol=1e-6)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert not np.allclose(plain, flipped, atol=1e-4)  # the mirror image scores otherwise
    assert np.allclose(model.score_gray(gray, boxes[:1], BOX_RULE)[0], plain, atol=1e-6)
