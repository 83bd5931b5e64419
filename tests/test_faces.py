"""Faces, the one columnar face type: construction, selection, derived columns, and its
place as the ground layer (it imports no detector or backend)."""

from __future__ import annotations

import subprocess
import sys

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


def test_faces_imports_no_model_and_no_backend():
    """faces.py is the ground layer: the detectors and backends import it, never the other
    way round (no import loop)."""
    code = (
        "import sys, feelinvideo.faces; "
        "print(sorted(m for m in sys.modules "
        "if m.startswith(('feelinvideo.models', 'feelinvideo.backends'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["[]"], done.stderr[-500:]
    assert not hasattr(Faces, "from_mtcnn") and not hasattr(Faces, "from_rekognition")


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


def test_landmarks_follow_selection_concatenation_and_pickling():
    import pickle

    points = np.arange(30, dtype=np.float32).reshape(3, 5, 2)
    faces = Faces(np.zeros((3, 4)), np.ones(3), landmarks=points, embedding=np.zeros((3, 128)))
    assert faces[np.array([False, True, True])].landmarks.tolist() == points[1:].tolist()
    assert faces[0].landmarks.shape == (1, 5, 2)
    plain = Faces(np.zeros((1, 4)), np.ones(1))
    assert plain.landmarks.shape == (1, 5, 2) and np.isnan(plain.landmarks).all()
    joined = Faces.concatenate([faces, plain])
    assert len(joined) == 4 and joined.landmarks[:3].tolist() == points.tolist()
    assert np.isnan(joined.landmarks[3]).all() and joined.embedded.tolist() == [1, 1, 1, 0]
    assert len(Faces.concatenate([])) == 0
    again = pickle.loads(pickle.dumps(faces))
    assert again.landmarks.tolist() == points.tolist()
    # a Faces pickled before landmarks existed reads back with NaN landmarks
    old = pickle.loads(pickle.dumps(faces))
    del old.__dict__["landmarks"]
    older = pickle.loads(pickle.dumps(old))
    assert older.landmarks.shape == (3, 5, 2) and np.isnan(older.landmarks).all()
    with pytest.raises(ValueError, match="landmarks has 2 rows"):
        Faces(np.zeros((3, 4)), np.ones(3), landmarks=np.zeros((2, 5, 2)))
