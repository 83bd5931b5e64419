"""Naming on synthetic tracks with a fake gallery: votes per track, unknown clustering."""

from __future__ import annotations

import numpy as np
from test_identity_tracker import faces_at, fake_encoder, frame, unit

from feelinvideo.galleries.interface import Gallery, Matches
from feelinvideo.identity import IdentityStage
from feelinvideo.identity.naming import Naming
from feelinvideo.identity.tracker import FaceTracker


class ScriptedGallery:
    """A gallery answering from a script: ``answers[call] = [(name, distance), ...]``."""

    location = "scripted"
    columns = ("scripted_name",)

    def __init__(self, answers):
        self.answers = list(answers)

    def match(self, image, faces, tolerance):
        answer = self.answers.pop(0)
        out = Matches.none(len(faces))
        out.checked = faces.embedded.copy()
        for i, (name, dist) in enumerate(answer):
            if out.checked[i] and name:
                out.name[i], out.distance[i] = name, dist
        out.data = {"scripted_name": out.name.copy()}
        return out

    def people(self):
        return {}

    def enroll(self, name, photos, replace=False): ...

    def remove(self, name):
        return 0

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run(answers, lefts_per_frame, vectors, refresh_s=0.1):
    gallery = ScriptedGallery(answers)
    assert isinstance(gallery, Gallery)
    stage = IdentityStage(
        gallery,
        tracker=FaceTracker(thumbnails=False, encoder=fake_encoder(vectors), refresh_s=refresh_s),
    )
    out = [
        stage.update(frame(k * 0.1, k), faces_at(lefts)) for k, lefts in enumerate(lefts_per_frame)
    ]
    return stage, out


def test_majority_of_votes_names_the_track_with_median_distance():
    answers = [[("ada", 0.3)], [("ada", 0.5)], [("", np.nan)], [("bob", 0.2)], [("ada", 0.4)]]
    stage, out = run(answers, [[0]] * 5, {0: unit(0)})
    people = stage.resolve()
    assert (people[0].person, people[0].match_distance) == ("ada", 0.4)
    # provisional names are shown as they are won; the gallery's columns reach Faces.data
    assert out[0].person.tolist() == ["ada"]
    assert out[3].data["scripted_name"].tolist() == ["bob"]


def test_a_minority_of_votes_leaves_the_track_unknown():
    answers = [[("ada", 0.5)], [("", np.nan)], [("", np.nan)]]
    stage, _ = run(answers, [[0]] * 3, {0: unit(0)})
    people = stage.resolve()
    assert (people[0].person, people[0].match_distance) == ("unknown-1", None)


def test_no_gallery_numbers_unknown_people_by_first_appearance():
    stage = IdentityStage(
        None,
        tracker=FaceTracker(thumbnails=False, encoder=fake_encoder({0: unit(0), 500: unit(1)})),
    )
    stage.update(frame(0.0), faces_at([500]))
    stage.update(frame(0.1), faces_at([0, 500]))
    people = stage.resolve()
    assert people[0].person == "unknown-1" and people[1].person == "unknown-2"
    assert stage.stats()["tracks"] == 2


def test_average_linkage_does_not_chain_people():
    # A and B are 0.9 apart; C sits between them (0.45 from each): single linkage would
    # chain all three into one person; average linkage must not put A and B together.
    a, b = unit(0) * 0.0, unit(1) * 0.9
    vectors = {0: a, 200: b, 400: (a + b) / 2}
    tracker = FaceTracker(thumbnails=False, encoder=fake_encoder(vectors))
    for k, left in enumerate([0, 200, 400]):  # one at a time, 5 s apart: never together
        tracker.update(frame(k * 5.0, k), faces_at([left]))
    people = Naming().resolve(tracker.tracks)
    assert people[0].person != people[1].person
    assert people[0].person == "unknown-1"


def test_tracks_seen_together_are_never_one_person():
    # two faces with the same embedding side by side: two people, not one
    tracker = FaceTracker(thumbnails=False, encoder=fake_encoder({0: unit(0), 500: unit(0)}))
    tracker.update(frame(0.0), faces_at([0, 500]))
    people = Naming().resolve(tracker.tracks)
    assert {p.person for p in people.values()} == {"unknown-1", "unknown-2"}
