"""Faces, the one columnar face type: construction, adapters, selection, derived columns."""

from __future__ import annotations

import numpy as np
import pytest

from feelinvideo.faces import Faces, box_iou, clip_xyxy


def test_defaults_fill_every_column_with_n_rows():
    faces = Faces([[0, 0, 10, 10], [5, 5, 20, 30]], [0.9, 0.8])
    assert len(faces) == 2
    assert faces.scores.shape == (2, 7) and np.isnan(faces.scores).all()
    assert faces.tracker_id.tolist() == [-1, -1]
    assert faces.person.tolist() == ["", ""]
    assert np.isnan(faces.match_distance).all()
    assert faces.embedding is None and faces.embedded.tolist() == [False, False]
    assert faces.area.tolist() == [100.0, 375.0]


def test_mismatched_data_column_is_refused():
    with pytest.raises(ValueError, match="expected \\(2,\\)"):
        Faces(np.zeros((2, 4)), np.ones(2), data={"x": np.zeros(3)})


def test_from_mtcnn_scales_back_and_clips_to_the_frame():
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
            "keypoints": dict.fromkeys(
                ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right"), (170, 10)
            ),
        },
    ]
    faces = Faces.from_mtcnn(found, width=400, height=300, scale=0.5)
    assert faces.xyxy.tolist() == [[20, 40, 120, 180], [300, 0, 400, 80]]
    assert np.allclose(faces.confidence, [0.99, 0.95])
    assert len(Faces.from_mtcnn([], 400, 300)) == 0


def test_selection_keeps_every_column_aligned():
    faces = Faces(
        [[0, 0, 10, 10], [5, 5, 20, 30], [1, 1, 2, 2]],
        [0.9, 0.8, 0.7],
        np.eye(7)[[3, 6, 0]],
        tracker_id=[4, 5, 6],
        person=["ada", "unknown-1", "bob"],
        data={"rek_person": np.array(["a", "b", "c"], dtype=object)},
    )
    picked = faces[np.array([False, True, True])]
    assert picked.tracker_id.tolist() == [5, 6]
    assert picked.person.tolist() == ["unknown-1", "bob"]
    assert picked.data["rek_person"].tolist() == ["b", "c"]
    assert picked.dominant_index.tolist() == [6, 0]
    assert faces[0].person.tolist() == ["ada"]


def test_box_iou_and_clip():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    assert np.allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0, 0.0]])
    assert clip_xyxy([[-5, -5, 50, 50]], 40, 30).tolist() == [[0, 0, 40, 30]]
