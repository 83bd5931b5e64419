"""The one conversion from a detector's output to Faces, shared by MTCNN (both runtimes)
and YuNet: back to source pixels, the same keep rule, clipped to the frame."""

from __future__ import annotations

import numpy as np
import pytest

from feelinvideo.models.detections import MTCNN_LANDMARKS, mtcnn_landmarks, mtcnn_rows, to_faces


def test_mtcnn_package_result_scales_back_and_clips_to_the_frame():
    found = [
        {
            "box": [10, 20, 60, 90],
            "confidence": 0.99,
            "keypoints": {k: (30, 40) for k in ("left_eye", "right_eye", "nose")}
            | {"mouth_left": (25, 70), "mouth_right": (45, 70)},
        },
        {
            "box": [150, -5, 210, 40],
            "confidence": 0.95,
            "keypoints": dict.fromkeys(MTCNN_LANDMARKS, (170, 10)),
        },
    ]
    rows = mtcnn_rows(found)
    assert rows.shape == (2, 15) and rows.dtype == np.float64
    # landmarks as the OpenCV cascade gives them: five x, then five y
    assert rows[0, 5:].tolist() == [30, 30, 30, 25, 45, 40, 40, 40, 70, 70]
    faces = to_faces(rows[:, :4], rows[:, 4], width=400, height=300, scale=0.5)
    assert faces.xyxy.tolist() == [[20, 40, 120, 180], [300, 0, 400, 80]]
    assert faces.xyxy.dtype == faces.confidence.dtype == np.float32
    assert np.allclose(faces.confidence, [0.99, 0.95])
    assert np.isnan(faces.scores).all()
    empty = mtcnn_rows([])
    assert empty.shape == (0, 15) and len(to_faces(empty[:, :4], empty[:, 4], 400, 300)) == 0


def test_keep_rule_is_in_source_pixels_and_before_clipping():
    # boxes in pixels of a copy scaled by 0.5; source minimum face 40 px = 20 px there
    xyxy = np.array(
        [
            [0, 0, 20, 10],  # longer side 20 -> 40 source px: kept
            [0, 0, 19, 19],  # 38 source px: dropped
            [190, 0, 230, 20],  # 80 px wide, mostly outside a 400-px frame: kept, clipped
            [0, 0, 50, 50],  # big but under the confidence: dropped
        ],
        np.float64,
    )
    confidence = np.array([0.9, 0.99, 0.95, 0.89])
    faces = to_faces(xyxy, confidence, 400, 300, 0.5, min_confidence=0.9, min_face_px=40)
    assert faces.xyxy.tolist() == [[0, 0, 40, 20], [380, 0, 400, 40]]
    assert np.allclose(faces.confidence, [0.9, 0.95])


def test_confidence_is_clipped_and_rows_must_pair():
    faces = to_faces(np.array([[0, 0, 10, 10]], np.float32), np.array([1.2], np.float32), 10, 10)
    assert faces.confidence.tolist() == [1.0]
    with pytest.raises(ValueError, match="2 boxes but 1 confidences"):
        to_faces(np.zeros((2, 4)), np.zeros(1), 10, 10)


def test_landmarks_go_back_to_source_pixels_with_the_faces_kept():
    rows = np.full((2, 15), np.nan)
    rows[:, :5] = [[10, 10, 40, 40, 0.99], [0, 0, 5, 5, 0.99]]  # the second is too small
    rows[0, 5:] = [15, 35, 25, 17, 33, 20, 20, 28, 35, 35]
    points = mtcnn_landmarks(rows)
    faces = to_faces(rows[:, :4], rows[:, 4], 400, 300, 0.5, min_face_px=40, landmarks=points)
    assert faces.landmarks.shape == (1, 5, 2) and faces.landmarks.dtype == np.float32
    assert faces.landmarks[0].tolist() == [[30, 40], [70, 40], [50, 56], [34, 70], [66, 70]]
    without = to_faces(rows[:, :4], rows[:, 4], 400, 300)
    assert without.landmarks.shape == (2, 5, 2) and np.isnan(without.landmarks).all()
    with pytest.raises(ValueError, match="rows of landmarks"):
        to_faces(rows[:, :4], rows[:, 4], 400, 300, landmarks=np.zeros((1, 5, 2)))
