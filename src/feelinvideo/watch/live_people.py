"""Who is present, decided as the watch goes (a live run cannot wait for the end to cluster).

Enrolled names come from the gallery's votes as in ``analyze``
(:meth:`feelinvideo.identity.naming.Naming.winner`). A track without a name is matched, when
it first shows up in a window, to the nearest unknown person seen so far: the euclidean
distance between its mean dlib embedding and that person's running mean embedding, within
naming's average-linkage cut (:data:`~feelinvideo.identity.naming.DEFAULT_CLUSTER_THRESHOLD`,
0.55), never to a person another track of the same window already holds (two faces of one
frame are two people, as in naming). Otherwise it is a new ``unknown-N``, numbered in order
of first appearance. This is the online counterpart of ``analyze``'s clustering: a track's
name is fixed when its rows are written, so later evidence cannot rename earlier rows.

Memory is bounded: at most :data:`MAX_LIVE_PEOPLE` unknown people are remembered (the
longest unseen are forgotten first; someone forgotten who returns gets a new number), and
ended tracks are dropped (:meth:`LivePeople.forget`).
"""

from __future__ import annotations

import numpy as np

from ..faces import Faces
from ..identity import IdentityStage
from ..identity.naming import DEFAULT_CLUSTER_THRESHOLD, Naming
from ..identity.tracker import Track
from ..models.dlib import pairwise_distances
from ..schema import DEFAULT_REFRESH_S, DEFAULT_TOLERANCE, unknown_name
from ..video import Frame

#: Unknown people remembered for matching returning faces.
MAX_LIVE_PEOPLE = 1000


class LivePeople:
    """Names tracks window by window (see the module docstring).

    Args:
        naming: the identity stage's :class:`~feelinvideo.identity.naming.Naming` (its
            gallery votes name enrolled people).
        threshold: largest distance (euclidean, 0-2) between a track's mean embedding and an
            unknown person's for the track to be that person.
        max_people: unknown people remembered (>= 1).
    """

    def __init__(
        self,
        naming: Naming,
        threshold: float = DEFAULT_CLUSTER_THRESHOLD,
        max_people: int = MAX_LIVE_PEOPLE,
    ):
        self.naming = naming
        self.threshold = float(threshold)
        self.max_people = max(1, int(max_people))
        self.created = 0
        self._track_person: dict[int, str] = {}
        # unknown person -> [embedding sum (128,), count, last seen s]
        self._people: dict[str, list] = {}

    def names(
        self, tracks: dict[int, Track], tracker_ids, now_s: float
    ) -> dict[int, tuple[str, float | None]]:
        """``{tracker_id: (person, match_distance or None)}`` for the tracks of one window.

        Args:
            tracks: the tracker's live tracks by ``tracker_id``.
            tracker_ids: the window's track ids (-1, untracked, is left out).
            now_s: the window's time, seconds (for forgetting the longest unseen).
        """
        out: dict[int, tuple[str, float | None]] = {}
        pending = []
        for tid in sorted({int(t) for t in tracker_ids if int(t) >= 0}):
            won = self.naming.winner(tid)
            if won is not None:
                out[tid] = won
                self._track_person[tid] = won[0]
            elif tid in self._track_person:
                out[tid] = (self._track_person[tid], None)
            else:
                pending.append(tid)
        held = {name for name, _ in out.values()}
        for tid in pending:
            name = self._match(tracks.get(tid), held)
            held.add(name)
            self._track_person[tid] = name
            out[tid] = (name, None)
        for tid, (name, _) in out.items():
            self._learn(name, tracks.get(tid), now_s)
        return out

    def _match(self, track: Track | None, held: set[str]) -> str:
        if track is not None and track.emb_count:
            names = [n for n, e in self._people.items() if e[1] and n not in held]
            if names:
                means = np.array([self._people[n][0] / self._people[n][1] for n in names])
                dist = pairwise_distances(track.mean_embedding[None, :], means)[0]
                best = int(np.argmin(dist))
                if dist[best] <= self.threshold:
                    return names[best]
        self.created += 1
        return unknown_name(self.created)

    def _learn(self, name: str, track: Track | None, now_s: float) -> None:
        """Fold the track's mean embedding into unknown person ``name``'s (enrolled names
        are the gallery's business)."""
        if not name.startswith("unknown-"):
            return
        entry = self._people.get(name)
        if entry is None:
            if len(self._people) >= self.max_people:
                oldest = min(self._people, key=lambda n: self._people[n][2])
                del self._people[oldest]
            entry = self._people[name] = [np.zeros(128), 0, now_s]
        entry[2] = now_s
        if track is not None and track.emb_count:
            entry[0] = entry[0] + track.mean_embedding
            entry[1] += 1

    def forget(self, tracker_ids) -> None:
        """Drop the tracks that ended (their people stay remembered)."""
        for tid in tracker_ids:
            self._track_person.pop(int(tid), None)


#: A live watch drops what it keeps about a track this long (seconds) after it ended.
FORGET_AFTER_S = 30.0


class LiveIdentity(IdentityStage):
    """The identity stage of a live watch: ``analyze``'s tracker and gallery naming
    (:class:`~feelinvideo.identity.IdentityStage`), plus, per frame, a final name for every
    face (:class:`LivePeople`: enrolled or ``unknown-N`` at once, no clustering at the end)
    and the forgetting of tracks ended :data:`FORGET_AFTER_S` ago, so memory stays flat.

    Args:
        gallery, tolerance, reembed_s: as for :class:`~feelinvideo.identity.IdentityStage`
            (no thumbnails are kept).
        forget_after_s: seconds after which an ended track is forgotten (> 1).
    """

    def __init__(
        self,
        gallery=None,
        tolerance: float = DEFAULT_TOLERANCE,
        reembed_s: float = DEFAULT_REFRESH_S,
        forget_after_s: float = FORGET_AFTER_S,
    ):
        super().__init__(gallery, tolerance, thumbnails=False, reembed_s=reembed_s)
        self.people = LivePeople(self.naming)
        self.forget_after_s = float(forget_after_s)
        self._forgot_s = 0.0

    def update(self, frame: Frame, faces: Faces) -> Faces:
        """Track, vote and name one sampled frame's faces (``person`` final, never ``""``)."""
        faces = super().update(frame, faces)
        t = float(frame.timestamp_s)
        wanted = {int(tid) for tid in faces.tracker_id}
        tracks = {tr.tracker_id: tr for tr in self.tracker.tracks if tr.tracker_id in wanted}
        names = self.people.names(tracks, faces.tracker_id, t)
        for i, tid in enumerate(faces.tracker_id):
            if int(tid) in names:
                person, distance = names[int(tid)]
                faces.person[i] = person
                faces.match_distance[i] = np.nan if distance is None else distance
        if t - self._forgot_s >= 1.0:
            self._forgot_s = t
            gone = self.forget(t - self.forget_after_s)
            self.people.forget([tr.tracker_id for tr in gone])
        return faces
