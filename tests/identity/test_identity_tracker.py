"""FaceTracker on synthetic boxes and a fake encoder (no models): links, splits, embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from feelinvideo.faces import Faces
from feelinvideo.identity.tracker import FaceTracker
from feelinvideo.video import Frame

IMAGE = np.zeros((100, 900, 3), np.uint8)


def fake_encoder(vectors: dict[int, np.ndarray]):
    """Encoder giving each face the vector keyed by its box's left edge (rounded to 100 px)."""

    def encode(image, xyxy):
        chips = np.zeros((len(xyxy), 150, 150, 3), np.uint8)
        keys = [int(round(x / 100.0)) * 100 for x in np.asarray(xyxy)[:, 0]]
        return chips, np.array([vectors[k] for k in keys])

    return encode


def unit(k: int) -> np.ndarray:
    v = np.zeros(128)
    v[k] = 1.0
    return v


def faces_at(lefts: list[float]) -> Faces:
    xyxy = [[x, 10, x + 50, 60] for x in lefts]
    n = len(lefts)
    return Faces(xyxy, np.ones(n), np.full((n, 7), 1 / 7))


def frame(t: float, index: int = 0) -> Frame:
    return Frame(index, t, IMAGE)


def test_update_returns_faces_with_tracker_id_and_embeddings_at_intervals():
    tracker = FaceTracker(
        thumbnails=False, encoder=fake_encoder({0: unit(0), 300: unit(1)}), refresh_s=1.0
    )
    for k in range(25):  # 25 frames at 10 fps: 2.5 s, two still faces
        faces = tracker.update(frame(k * 0.1, k), faces_at([0, 300]))
        assert isinstance(faces, Faces)
        assert faces.tracker_id.tolist() == [0, 1]
        # embedded when the tracks start and then once a second
        assert faces.embedded.tolist() == ([True, True] if k in (0, 10, 20) else [False, False])
    assert tracker.faces_seen == 50
    assert tracker.embeddings_computed == 6
    assert len(tracker.tracks) == 2


def test_moving_face_keeps_its_track_and_new_face_starts_one():
    tracker = FaceTracker(thumbnails=False, encoder=fake_encoder({0: unit(0), 500: unit(1)}))
    ids = []
    for k, x in enumerate([0, 10, 20, 30]):  # moves 10 px a frame: IoU stays high
        lefts = [x] if k < 2 else [x, 500]
        ids.append(tracker.update(frame(k * 0.2, k), faces_at(lefts)).tracker_id.tolist())
    assert ids == [[0], [0], [0, 1], [0, 1]]


def test_missed_detection_is_bridged_and_long_gap_is_not():
    tracker = FaceTracker(thumbnails=False, encoder=fake_encoder({0: unit(0)}))
    assert tracker.update(frame(0.0), faces_at([0])).tracker_id.tolist() == [0]
    tracker.update(frame(0.5), Faces.empty())  # missed once, 0.5 s
    assert tracker.update(frame(1.0), faces_at([0])).tracker_id.tolist() == [0]
    tracker.update(frame(2.0), Faces.empty())
    tracker.update(frame(3.0), Faces.empty())
    # seen again 3 s later, no sampled frame in between with it: a new track
    assert tracker.update(frame(4.0), faces_at([0])).tracker_id.tolist() == [1]


def test_contested_overlap_splits_when_the_embedding_jumps():
    """Two boxes overlap one track (contested): the face on the track's box keeps it when its
    refreshed embedding agrees, and leaves it when the embedding is someone else's."""
    for same_person, expected in ((True, 0), (False, None)):
        tracker = FaceTracker(thumbnails=False, encoder=fake_encoder({0: unit(0)}), refresh_s=0.1)
        tracker.update(frame(0.0), faces_at([0]))
        tracker.update(frame(0.1), faces_at([0]))
        tracker._encoder = fake_encoder({0: unit(0) if same_person else unit(1)})
        ids = tracker.update(frame(0.2), faces_at([0, 12])).tracker_id.tolist()
        if expected is None:
            assert 0 not in ids and sorted(ids) == [1, 2]
        else:
            assert ids[0] == expected


def test_empty_frame_gives_empty_faces():
    tracker = FaceTracker(thumbnails=False, encoder=fake_encoder({}))
    out = tracker.update(frame(0.0), Faces.empty())
    assert len(out) == 0 and out.tracker_id.shape == (0,)


def person_encoder(image, xyxy):
    """Encoder giving each face the vector of the person painted in the frame's first pixel."""
    chips = np.zeros((len(xyxy), 150, 150, 3), np.uint8)
    return chips, np.array([unit(int(image[0, 0, 0])) for _ in range(len(xyxy))])


def test_prepared_batches_give_the_frame_by_frame_results():
    """Person 0 at x=0 for 1.5 s, then person 5 moved in beside the same place (a weak
    link: split by embedding): prepare() cannot foresee the split, so the new track's
    second embedding is missed by the batch and embedded on the spot; the tracks,
    embeddings and counts are those of update() alone, in one batch call per 9 frames."""
    frames, faces = [], []
    for k in range(30):
        image = np.zeros((100, 900, 3), np.uint8)
        image[0, 0, 0] = 0 if k < 15 else 5
        frames.append(Frame(k, 0.1 * k, image))
        faces.append(faces_at([0 if k < 15 else 25]))
    alone = FaceTracker(thumbnails=False, encoder=person_encoder)
    expected = [alone.update(f, x) for f, x in zip(frames, faces_at_each(faces), strict=True)]
    spot, calls = [], []

    def on_the_spot(image, xyxy):
        spot.append(len(xyxy))
        return person_encoder(image, xyxy)

    def batch(requests):
        calls.append(len(requests))
        return [person_encoder(image, xyxy) for image, xyxy in requests]

    batched = FaceTracker(thumbnails=False, encoder=on_the_spot)
    batched._batch_encoder = batch
    got = []
    for start in range(0, 30, 9):
        chunk, found = frames[start : start + 9], faces_at_each(faces[start : start + 9])
        batched.prepare(chunk, found)
        got += [batched.update(f, x) for f, x in zip(chunk, found, strict=True)]
    assert [e.tracker_id.tolist() for e in expected] == [g.tracker_id.tolist() for g in got]
    assert sorted({int(e.tracker_id[0]) for e in expected}) == [0, 1]  # the split happened
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(e.embedding, g.embedding)
    assert batched.embeddings_computed == alone.embeddings_computed
    assert batched.faces_seen == alone.faces_seen and len(batched.tracks) == len(alone.tracks)
    assert len(calls) <= 4  # one batch call per prepared chunk with embeddings
    assert spot  # the new track's embeddings the rehearsal could not foresee


def test_update_refuses_a_frame_out_of_the_prepared_order():
    tracker = FaceTracker(thumbnails=False, encoder=fake_encoder({0: unit(0)}))
    frames = [frame(0.0, 0), frame(0.1, 1)]
    found = [faces_at([0]), faces_at([0])]
    tracker.prepare(frames, found)
    with pytest.raises(ValueError, match="order"):
        tracker.update(frames[1], found[1])


def faces_at_each(faces: list[Faces]) -> list[Faces]:
    """Fresh copies (update() sets tracker_id and embedding on the Faces it is given)."""
    return [Faces(f.xyxy.copy(), f.confidence.copy(), f.scores.copy()) for f in faces]
