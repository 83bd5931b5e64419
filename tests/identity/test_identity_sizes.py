"""The far-face rules: small faces take no name, or only a close one, and a small face
replaced by another at the same place is checked by embedding (real photos, real models)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file
from test_identity_naming import ScriptedGallery

from feelinvideo.evaluate.identity import show_small
from feelinvideo.faces import Faces
from feelinvideo.galleries.enroll import load_photo
from feelinvideo.identity.naming import (
    FULL_TOLERANCE_PX,
    MIN_NAMED_PX,
    SMALL_TOLERANCE,
    Naming,
    size_tolerance,
)
from feelinvideo.identity.tracker import SMALL_FACE_PX, FaceTracker
from feelinvideo.models.mtcnn import MtcnnDetector
from feelinvideo.video import Frame

KNN = "face_recognition/knn_examples"


def test_size_tolerance_steps_down_with_face_width():
    widths = [20, MIN_NAMED_PX - 0.1, MIN_NAMED_PX, FULL_TOLERANCE_PX - 1, FULL_TOLERANCE_PX, 300]
    got = size_tolerance(np.array(widths), 0.6)
    assert got.tolist() == [-np.inf, -np.inf, SMALL_TOLERANCE, SMALL_TOLERANCE, 0.6, 0.6]
    assert size_tolerance(np.array([40.0]), 0.5).tolist() == [0.5]  # never looser than asked


def one_face(width: float) -> Faces:
    return Faces([[100, 100, 100 + width, 100 + width]], np.ones(1), np.full((1, 7), 1 / 7))


@pytest.mark.parametrize(
    ("width", "distance", "named"),
    [(200, 0.58, "obama"), (40, 0.58, ""), (40, 0.5, "obama"), (30, 0.2, "")],
)
def test_naming_applies_the_size_rule_to_the_gallery_votes(width, distance, named):
    naming = Naming(ScriptedGallery([[("obama", distance)]]), tolerance=0.6)
    faces = one_face(width)
    faces.tracker_id = np.array([0])
    faces.embedding = np.zeros((1, 128))
    naming.update(Frame(0, 0.0, np.zeros((400, 400, 3), np.uint8)), faces)
    assert (naming.winner(0) or ("",))[0] == named


@pytest.fixture(scope="module")
def small_portraits():
    """obama1 then alex_lacamoire1 shown at the same place of a 720p frame, faces 54 px."""
    detector = MtcnnDetector(min_face_px=30)
    frames = []
    for name in ("obama1", "alex_lacamoire1"):
        image = load_photo(data_file(f"{KNN}/test/{name}.jpg"))
        faces = MtcnnDetector().detect([image])[0]
        frame, _ = show_small(image, faces.xyxy[int(np.argmax(faces.area))], 54)
        frames.append((frame, detector.detect([frame])[0]))
    return frames


@pytest.mark.parametrize("small_face_px", [SMALL_FACE_PX, 0])
def test_a_small_face_replaced_at_the_same_place_leaves_the_track(small_portraits, small_face_px):
    tracker = FaceTracker(thumbnails=False, cuts=None, small_face_px=small_face_px)
    ids = []
    for k, (image, faces) in enumerate(small_portraits):
        assert len(faces) == 1
        ids.append(int(tracker.update(Frame(k, 0.5 * k, image), faces).tracker_id[0]))
    if small_face_px:
        assert ids == [0, 1]  # checked by embedding: someone else, a new track
    else:
        assert ids == [0, 0]  # without the rule the box and the patch keep the first track
