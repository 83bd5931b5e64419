"""Naming: who each face track is, the same way for every gallery.

1. **Gallery votes.** Each sampled frame, the gallery
   (:class:`~feelinvideo.identity.gallery.Gallery`) matches the faces the tracker embedded
   (a track's first face, then about one a second). Each match is a vote for a name on that
   face's track. A track takes the name with the most votes when at least half of its
   looked-at faces voted for it (so one look-alike frame cannot name a track), with the
   median distance of those votes as ``match_distance``. The local gallery votes when a
   face's nearest enrolled embedding is within ``tolerance`` (dlib's 0.6); a Rekognition
   collection when ``SearchFacesByImage`` finds the face above its similarity threshold.
2. **Far faces.** A small face's descriptor is noisier, and a wrong name is worse than none
   (attendance), so a vote also depends on the face's width in the frame
   (:func:`size_tolerance`, applied by :func:`sized_matches` to every gallery's answer):
   faces narrower than :data:`MIN_NAMED_PX` (32) vote for no one; faces of 32-47 px only
   within :data:`SMALL_TOLERANCE` (0.55, or the tolerance if stricter); wider ones within
   the tolerance. Measured with ``feelinvideo evaluate identity --sizes``
   (``bench/bench_identity_sizes.py``: 14 people enrolled from ../shared/data, 8 probes
   each shown with its face 20-100 px wide in a 1280x720 H.264 frame, 2026-12-03): the
   probes' distances to their own person (genuine) rise as faces shrink, median 0.37 at
   100 px, 0.40 at 54, 0.44 at 40, 0.47 at 32, 0.51 at 24, 0.57 at 20, while the nearest
   other person (impostor) comes closer, at least 0.674-0.712 from 48 px up but 0.640-0.693
   under it. Under 32 px the largest genuine distances (0.58-0.68) reach the nearest
   impostors (0.64-0.66; at 20 px they overlap): a name there is a guess. From 32 to 47 px
   every genuine distance was at most 0.546, so 0.55 keeps them and stays 0.1 below every
   impostor. (The tracker's part, re-checking a small face whose look changed so that
   another person's face at the same place does not inherit the name, is in
   :mod:`feelinvideo.identity.tracker`.)
3. **Distinct unknown people.** Tracks without a name are grouped by agglomerative
   clustering with *average* linkage (:func:`scipy.cluster.hierarchy.linkage`) over the
   tracks' mean embeddings, cut at ``cluster_threshold`` (0.55). Average linkage joins two
   groups only when their faces are close on average, so one look-alike pair cannot chain
   two different people together (single linkage would; the seed joined A and B only when
   at least two other faces matched both). Two tracks seen in the same frame are never the
   same person (their distance is set to :data:`CANNOT_LINK`). Groups are numbered
   ``unknown-1``, ``unknown-2``, ... in order of first appearance.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..faces import Faces
from ..galleries.interface import Gallery, Matches
from ..models.dlib import pairwise_distances
from ..schema import DEFAULT_TOLERANCE, unknown_name
from ..video import Frame
from .tracker import Track

#: Faces narrower than this (pixels) take no name from the gallery ...
MIN_NAMED_PX = 32
#: ... and faces narrower than this one only within SMALL_TOLERANCE (see the docstring).
FULL_TOLERANCE_PX = 48
SMALL_TOLERANCE = 0.55
#: Average-linkage cut between unnamed tracks' mean embeddings (euclidean).
DEFAULT_CLUSTER_THRESHOLD = 0.55
#: Distance given to two tracks seen in the same frame (they cannot be one person).
CANNOT_LINK = 1e6


@dataclass
class Identity:
    """Who a track is.

    Attributes:
        person: an enrolled name (from the gallery), or ``unknown-N`` (from clustering; see
            :func:`feelinvideo.schema.is_unknown`).
        match_distance: median embedding distance of the gallery's votes for the name
            (euclidean, 0-2, within the tolerance), or None for unknowns and for galleries
            that give a similarity instead (Rekognition).
    """

    person: str
    match_distance: float | None


def size_tolerance(width_px: np.ndarray, tolerance: float) -> np.ndarray:
    """The largest distance that names a face of each width: the size rule.

    Args:
        width_px: float (N,), face box widths in pixels of the analysed frame.
        tolerance: the distance for faces of :data:`FULL_TOLERANCE_PX` and wider.

    Returns:
        float (N,): ``tolerance`` from :data:`FULL_TOLERANCE_PX` up; at most
        :data:`SMALL_TOLERANCE` from :data:`MIN_NAMED_PX` to there; ``-inf`` (no name)
        below :data:`MIN_NAMED_PX`. The figures are measured in the module docstring.
    """
    width_px = np.asarray(width_px, np.float64)
    return np.where(
        width_px >= FULL_TOLERANCE_PX,
        tolerance,
        np.where(width_px >= MIN_NAMED_PX, min(tolerance, SMALL_TOLERANCE), -np.inf),
    )


def sized_matches(faces: Faces, matches: Matches, tolerance: float) -> Matches:
    """``matches`` (a gallery's answer for ``faces``) with the names taken back from faces
    too small for them (:func:`size_tolerance`): narrower than :data:`MIN_NAMED_PX`
    whatever the gallery (a service's similarity too), or farther than their size allows.
    ``analyze`` (:meth:`Naming.update`) and ``evaluate identity`` both name through it."""
    width = faces.xyxy[:, 2] - faces.xyxy[:, 0]
    limit = size_tolerance(width, tolerance)
    far = np.isfinite(matches.distance) & (matches.distance > limit)
    drop = (far | (width < MIN_NAMED_PX)) & (matches.name != "")
    matches.name = np.where(drop, "", matches.name).astype(object)
    matches.distance = np.where(drop, np.nan, matches.distance).astype(np.float32)
    return matches


class Naming:
    """Collects a gallery's votes per track, frame by frame, and resolves who tracks are.

    Args:
        gallery: an open gallery, or None (everyone is an unknown person).
        tolerance: largest embedding distance (euclidean, 0-2; dlib's 0.6) for a vote.
    """

    def __init__(self, gallery: Gallery | None = None, tolerance: float = DEFAULT_TOLERANCE):
        self.gallery = gallery
        self.tolerance = float(tolerance)
        self._checked: dict[int, int] = defaultdict(int)
        self._votes: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))

    @property
    def columns(self) -> tuple[str, ...]:
        """The gallery's extra ``faces.csv`` columns (e.g. ``rek_person``), or ``()``."""
        return tuple(self.gallery.columns) if self.gallery is not None else ()

    def update(self, frame: Frame, faces: Faces) -> Faces:
        """Match one frame's tracked faces against the gallery and record the votes.

        Args:
            frame: the sampled frame (``image`` RGB uint8 (H, W, 3)).
            faces: its faces, ``tracker_id`` set by the tracker.

        Returns:
            ``faces`` with the gallery's columns added to ``data`` and a provisional
            ``person`` / ``match_distance``: the name each track has won so far, ``""`` for
            tracks not (yet) named. Unknown people are numbered by :meth:`resolve` only.
        """
        if self.gallery is not None and len(faces):
            matches = self.gallery.match(frame.image, faces, self.tolerance)
            matches = sized_matches(faces, matches, self.tolerance)
            faces.data.update(matches.data)
            for tid, checked, name, dist in zip(
                faces.tracker_id, matches.checked, matches.name, matches.distance, strict=True
            ):
                if checked:
                    self._checked[int(tid)] += 1
                    if name:
                        self._votes[int(tid)][str(name)].append(float(dist))
        for i, tid in enumerate(faces.tracker_id):
            won = self._winner(int(tid))
            if won is not None:
                faces.person[i] = won[0]
                faces.match_distance[i] = np.nan if won[1] is None else won[1]
        return faces

    def votes(self) -> dict[int, tuple[int, dict[str, list[float]]]]:
        """``{tracker_id: (faces looked at, {name: vote distances})}`` so far (plain,
        picklable: a segment's votes travel to the merge)."""
        ids = set(self._checked) | set(self._votes)
        return {
            t: (self._checked.get(t, 0), {n: list(d) for n, d in self._votes.get(t, {}).items()})
            for t in ids
        }

    def add_votes(self, tracker_id: int, checked: int, votes: dict[str, list[float]]) -> None:
        """Count a segment's votes (from :meth:`votes`) for track ``tracker_id``."""
        self._checked[tracker_id] += checked
        for name, distances in votes.items():
            self._votes[tracker_id][name].extend(distances)

    def forget(self, tracker_ids) -> None:
        """Drop the votes kept for these tracks (ended tracks of a live watch)."""
        for tid in tracker_ids:
            self._checked.pop(int(tid), None)
            self._votes.pop(int(tid), None)

    def winner(self, tracker_id: int) -> tuple[str, float | None] | None:
        """The enrolled name a track has won so far (``(name, median distance or None)``),
        or None (see :meth:`update`)."""
        return self._winner(tracker_id)

    def _winner(self, tracker_id: int) -> tuple[str, float | None] | None:
        """The name a track has won (``(name, median distance or None)``), or None."""
        votes = self._votes.get(tracker_id)
        if not votes:
            return None

        # most votes wins; a tie goes to the smaller median distance (NaN: a similarity)
        ranked = {name: (len(d), _median(d)) for name, d in votes.items()}

        def rank(n: str) -> tuple:
            median = ranked[n][1]
            return (-ranked[n][0], np.inf if median is None else median, n)

        name = min(ranked, key=rank)
        count, distance = ranked[name]
        if 2 * count < self._checked[tracker_id]:
            return None
        return name, distance

    def resolve(
        self, tracks: list[Track], cluster_threshold: float = DEFAULT_CLUSTER_THRESHOLD
    ) -> dict[int, Identity]:
        """Decide who every track is (see the module docstring for the method).

        Args:
            tracks: every track of the run (:attr:`FaceTracker.tracks`).
            cluster_threshold: average-linkage cut for grouping unnamed tracks.

        Returns:
            ``{tracker_id: Identity}`` for every track.
        """
        out: dict[int, Identity] = {}
        for track in tracks:
            won = self._winner(track.tracker_id)
            if won is not None:
                out[track.tracker_id] = Identity(won[0], won[1])
        rest = [t for t in tracks if t.tracker_id not in out]
        labels = cluster_tracks(rest, cluster_threshold)
        first: dict[int, tuple] = {}
        for track, label in zip(rest, labels, strict=True):
            key = (track.first_sample, track.first_x, track.tracker_id)
            first[label] = min(first.get(label, key), key)
        order = {label: k + 1 for k, label in enumerate(sorted(first, key=first.get))}
        for track, label in zip(rest, labels, strict=True):
            out[track.tracker_id] = Identity(unknown_name(order[label]), None)
        return out


def _median(distances: list[float]) -> float | None:
    """Median of the finite distances (4 decimals), None when there are none."""
    finite = [d for d in distances if np.isfinite(d)]
    return round(float(np.median(finite)), 4) if finite else None


def name_faces(identities: dict[int, Identity]):
    """A function setting ``person`` and ``match_distance`` of a :class:`Faces` from its
    ``tracker_id`` (vectorised: one lookup table for the run).

    Args:
        identities: ``{tracker_id: Identity}`` from :meth:`Naming.resolve`.

    Returns:
        ``apply(faces) -> faces``.
    """
    size = max(identities, default=-1) + 1
    names = np.full(size, "", dtype=object)
    distances = np.full(size, np.nan, dtype=np.float32)
    for tid, ident in identities.items():
        names[tid] = ident.person
        distances[tid] = np.nan if ident.match_distance is None else ident.match_distance

    def apply(faces: Faces) -> Faces:
        faces.person = names[faces.tracker_id]
        faces.match_distance = distances[faces.tracker_id]
        return faces

    return apply


def seen_together(tracks: list[Track]) -> np.ndarray:
    """bool (T, T): whether two tracks were seen in the same sampled frame."""
    seg = np.array([(k, a, b) for k, t in enumerate(tracks) for a, b in t.segments], dtype=int)
    hit = (seg[:, None, 1] <= seg[None, :, 2]) & (seg[None, :, 1] <= seg[:, None, 2])
    out = np.zeros((len(tracks), len(tracks)), dtype=bool)
    i, j = np.nonzero(hit)
    out[seg[i, 0], seg[j, 0]] = True
    return out


def cluster_tracks(tracks: list[Track], threshold: float) -> list[int]:
    """Average-linkage cluster labels (one int per track) by mean embedding, never joining
    two tracks seen in the same frame (scipy's ``linkage(method="average")``, cut by
    ``fcluster(criterion="distance")`` at ``threshold``)."""
    if not tracks:
        return []
    if len(tracks) == 1:
        return [0]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    means = np.array([t.mean_embedding for t in tracks])
    dist = pairwise_distances(means, means)
    dist[seen_together(tracks)] = CANNOT_LINK
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    return [int(v) for v in fcluster(tree, t=threshold, criterion="distance")]
