"""Embeddings in batches (real clip, real photos, real models): a backend call's faces and a
folder's photos go through one descriptor call, with the results of one call at a time."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import data_file

import feelinvideo.galleries.sqlite as sqlite_gallery
import feelinvideo.identity.tracker as tracker_module
from feelinvideo.faces import Faces
from feelinvideo.galleries.enroll import enroll_folder, find_photos, load_photo
from feelinvideo.identity.stage import IdentityStage
from feelinvideo.models.dlib import face_encodings
from feelinvideo.models.mtcnn import MtcnnDetector
from feelinvideo.settings import AnalyzeOptions
from feelinvideo.stream import analyze_frames


def counted(monkeypatch, module) -> list[int]:
    """Chips per ``chip_encodings`` call made through ``module``."""
    calls: list[int] = []
    real = module.chip_encodings

    def count(chips):
        calls.append(len(chips))
        return real(chips)

    monkeypatch.setattr(module, "chip_encodings", count)
    return calls


@pytest.fixture(scope="module")
def street():
    """facenet-pytorch's street clip sampled every 0.2 s: frames and faces, no identity."""
    video = data_file("facenet-pytorch/video.mp4")
    options = AnalyzeOptions(every_s=0.2, identity=False)
    return list(analyze_frames(video, None, options))


def fresh(faces: Faces) -> Faces:
    return Faces(faces.xyxy.copy(), faces.confidence.copy(), faces.scores.copy())


def test_a_calls_faces_are_embedded_together_with_the_same_results(street, monkeypatch):
    calls = counted(monkeypatch, tracker_module)
    alone = IdentityStage(thumbnails=False)
    expected = [alone.update(frame, fresh(faces)) for frame, faces in street]
    per_frame = list(calls)
    calls.clear()
    batched = IdentityStage(thumbnails=False)
    got = []
    for start in range(0, len(street), 9):
        part = street[start : start + 9]
        got += batched.update_many([f for f, _ in part], [fresh(x) for _, x in part])
    for e, g in zip(expected, got, strict=True):
        assert e.tracker_id.tolist() == g.tracker_id.tolist()
        np.testing.assert_array_equal(e.embedding, g.embedding)
    assert batched.stats() == alone.stats()
    assert 4 <= batched.stats()["tracks"] <= 16
    assert sum(calls) == sum(per_frame) + batched.tracker.embeddings_unused
    assert len(calls) < len(per_frame)


def test_enrolling_a_folder_embeds_its_photos_together(monkeypatch, tmp_path):
    train = data_file("face_recognition/knn_examples/train")
    calls = counted(monkeypatch, sqlite_gallery)
    with sqlite_gallery.SqliteGallery(tmp_path / "g.sqlite", create=True) as gallery:
        report = enroll_folder(train, gallery)
        names, vectors = gallery.embeddings()
    photos = find_photos(train)
    assert report.enrolled == {name: len(paths) for name, paths in photos.items()}
    assert calls == [sum(len(p) for p in photos.values())]  # all 7 photos: one call
    detector = MtcnnDetector()
    for name, paths in photos.items():
        mine = vectors[[n == name for n in names]]
        for k, path in enumerate(paths):
            image = load_photo(path)
            faces = detector.detect([image])[0]
            alone = face_encodings(image, faces.xyxy[[int(np.argmax(faces.area))]])[0]
            np.testing.assert_array_equal(mine[k], alone)
