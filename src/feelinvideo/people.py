"""Who is who: face tracks, gallery names, distinct unknown people, and the people outputs.

Method (all local):

1. **Tracks.** Faces of consecutive sampled frames are linked when their boxes overlap:
   the pairing maximising total IoU (Hungarian assignment, :func:`scipy.optimize.
   linear_sum_assignment`) over pairs with IoU >= ``iou_threshold`` (0.3). Tracks of the
   previous sampled frame, and tracks lost at most ``relink_s`` (1 s) ago (a missed
   detection), take part, with their last box or the box moved on at their last velocity.
   A face with no such partner may re-join a lost track by embedding, else starts a track.
2. **Embeddings.** A track is embedded (dlib's 128-d descriptor, :mod:`feelinvideo.embed`,
   about 58 ms a face) when it starts and then at most once every ``refresh_s`` seconds
   of video time (1 s), never once per face per frame. Up to :data:`MAX_TRACK_EMBEDDINGS`
   are kept per track (evenly thinned), plus the running mean.
3. **Names.** A track takes the enrolled name with the smallest *track distance* when
   that distance is within ``tolerance`` (dlib's 0.6): for each enrolled person, the median
   over the track's embeddings of the distance to that person's nearest gallery embedding.
   When a backend already named the face (Rekognition's ``rek_person``), that name wins.
   A track has one name from start to end.
4. **Distinct unknown people.** Tracks without a name are grouped by agglomerative
   clustering with *average* linkage (:func:`scipy.cluster.hierarchy.linkage`) over the
   tracks' mean embeddings, cut at ``cluster_threshold`` (0.55). Average linkage joins two
   groups only when their faces are close on average, so one look-alike pair cannot chain
   two different people together (single linkage would; the seed joined A and B only when
   at least two other faces matched both). Two tracks seen in the same frame are never
   the same person (their distance is set to :data:`CANNOT_LINK`). Groups are numbered
   ``unknown-1``, ``unknown-2``, ... in order of first appearance.

Memory is constant per track: a few embeddings, a running sum and up to
:data:`MAX_TRACK_THUMBNAILS` small face thumbnails (only when thumbnails are wanted).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .embed import DEFAULT_TOLERANCE, EMBEDDING_SIZE
from .faces import Faces, box_iou
from .schema import EMOTIONS, format_time

#: Boxes of consecutive sampled frames with at least this IoU continue the same track.
DEFAULT_IOU = 0.3
#: A track is re-embedded at most once per this many seconds of video time.
DEFAULT_REFRESH_S = 1.0
#: A face may re-join a track lost at most this long ago (seconds of video time) ...
DEFAULT_RELINK_S = 1.0
#: ... when its embedding is this close (euclidean) to the track's mean embedding.
DEFAULT_RELINK_DISTANCE = 0.4
#: A refreshed embedding farther than this from its track's mean splits a contested track.
DEFAULT_SPLIT_DISTANCE = 0.6
#: Average-linkage cut between unnamed tracks' mean embeddings (euclidean).
DEFAULT_CLUSTER_THRESHOLD = 0.55
#: Distance given to two tracks seen in the same frame (they cannot be one person).
CANNOT_LINK = 1e6
#: Embeddings and thumbnails kept per track (evenly thinned as the track grows).
MAX_TRACK_EMBEDDINGS = 16
MAX_TRACK_THUMBNAILS = 8
#: Side in pixels of the face thumbnails kept for people.png.
THUMB_SIZE = 72
#: Thumbnails shown per person in people.png.
THUMBS_PER_PERSON = 4
UNKNOWN_PREFIX = "unknown-"
PEOPLE_JSON = "people.json"
PEOPLE_PNG = "people.png"


def _thin(items: list, limit: int) -> list:
    """Keep every other item once ``items`` exceeds ``limit`` (even spacing over time)."""
    return items[::2] if len(items) > limit else items


@dataclass
class Track:
    """One face followed across consecutive sampled frames.

    Attributes:
        track_id: 0-based, in order of creation (= first appearance).
        first_sample, last_sample: sampled-frame counters (0-based) of its first and last face.
        first_s, last_s: video times in seconds of its first and last face.
        first_x: left edge (pixels) of its first box, to order people who appear together.
        box: float32 (4,) ``xyxy`` of its latest box.
        velocity: float32 (4,) change of ``box`` per second between its last two sampled
            frames (zero until it has been seen in two consecutive ones).
        segments: ``[first, last]`` sampled-frame ranges it was seen in (more than one
            when it was re-linked across a short gap).
        faces: faces on the track.
        embeddings: float64 (k, 128) arrays kept (k <= MAX_TRACK_EMBEDDINGS).
        emb_sum, emb_count: sum and number of all embeddings computed for it.
        last_embed_s: video time of its latest embedding.
        rek_names: counts of names a backend (Rekognition) gave its faces.
        thumbs: uint8 (THUMB_SIZE, THUMB_SIZE, 3) aligned face thumbnails, RGB.
    """

    track_id: int
    first_sample: int
    last_sample: int
    first_s: float
    last_s: float
    first_x: float
    box: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    segments: list[list[int]] = field(default_factory=list)
    faces: int = 0
    embeddings: list[np.ndarray] = field(default_factory=list)
    emb_sum: np.ndarray = field(default_factory=lambda: np.zeros(EMBEDDING_SIZE))
    emb_count: int = 0
    last_embed_s: float = -math.inf
    rek_names: Counter = field(default_factory=Counter)
    thumbs: list[np.ndarray] = field(default_factory=list)
    _thumb_every: int = 1

    def predicted_box(self, timestamp_s: float) -> np.ndarray:
        """float32 (4,): the box moved on at its last velocity to ``timestamp_s``."""
        return self.box + self.velocity * np.float32(timestamp_s - self.last_s)

    def observe(self, sample: int, timestamp_s: float, box: np.ndarray) -> None:
        """Extend the track with its face ``box`` (4,) in sampled frame ``sample``."""
        if self.segments and self.segments[-1][1] == sample - 1 and timestamp_s > self.last_s:
            self.velocity = ((box - self.box) / np.float32(timestamp_s - self.last_s)).astype(
                np.float32
            )
            self.segments[-1][1] = sample
        else:
            self.velocity = np.zeros(4, np.float32)
            self.segments.append([sample, sample])
        self.last_sample, self.last_s = sample, timestamp_s
        self.box = np.asarray(box, np.float32).copy()
        self.faces += 1

    @property
    def mean_embedding(self) -> np.ndarray:
        """float64 (128,): mean of every embedding computed for the track."""
        return self.emb_sum / max(1, self.emb_count)

    def add_embedding(self, vector: np.ndarray, chip: np.ndarray | None, t: float) -> None:
        """Record an embedding (128,) computed at video time ``t``, and its aligned chip."""
        self.emb_sum = self.emb_sum + vector
        self.emb_count += 1
        self.last_embed_s = t
        self.embeddings = _thin([*self.embeddings, vector], MAX_TRACK_EMBEDDINGS)
        if chip is not None and (self.emb_count - 1) % self._thumb_every == 0:
            import cv2

            small = cv2.resize(chip, (THUMB_SIZE, THUMB_SIZE), interpolation=cv2.INTER_AREA)
            self.thumbs.append(small)
            if len(self.thumbs) > MAX_TRACK_THUMBNAILS:
                self.thumbs = self.thumbs[::2]
                self._thumb_every *= 2


@dataclass
class Identity:
    """Who a track is.

    Attributes:
        person: enrolled name, or ``unknown-N``.
        enrolled: True when the name comes from the gallery (or the backend's collection).
        match_distance: the track distance to the enrolled person (euclidean, 0-2; within
            the tolerance), or None for unknowns and backend-named tracks.
        source: ``"gallery"``, ``"backend"`` or ``"cluster"``.
    """

    person: str
    enrolled: bool
    match_distance: float | None
    source: str


class IdentityTracker:
    """Follows faces across sampled frames and embeds each track at intervals.

    Feed every sampled frame, in order, to :meth:`update`; then call :meth:`resolve`.

    Args:
        refresh_s: re-embed a track at most once per this many seconds of video time (> 0).
        iou_threshold: smallest IoU in (0, 1] linking a face to a track of the previous
            sampled frame.
        thumbnails: keep small aligned face thumbnails for people.png.
        encoder: function ``(image RGB uint8 (H, W, 3), xyxy (K, 4)) -> (chips uint8
            (K, 150, 150, 3), embeddings float64 (K, 128))``; default dlib
            (:func:`feelinvideo.embed.face_chips` + :func:`~feelinvideo.embed.chip_encodings`).
        relink_s: a face that overlaps no track may continue a track lost at most this
            many seconds ago (a missed detection, fast motion) ...
        relink_distance: ... when its embedding is within this euclidean distance of the
            track's mean embedding.
        split_distance: a face continuing a track by a contested overlap (it overlaps several
            tracks, or its track overlaps several faces) leaves it when its refreshed
            embedding is farther than this from the track's mean (the boxes swapped people).
    """

    def __init__(
        self,
        refresh_s: float = DEFAULT_REFRESH_S,
        iou_threshold: float = DEFAULT_IOU,
        thumbnails: bool = True,
        encoder=None,
        relink_s: float = DEFAULT_RELINK_S,
        relink_distance: float = DEFAULT_RELINK_DISTANCE,
        split_distance: float = DEFAULT_SPLIT_DISTANCE,
    ):
        if refresh_s <= 0:
            raise ValueError(f"refresh_s must be > 0, got {refresh_s}")
        self.refresh_s = float(refresh_s)
        self.iou_threshold = float(iou_threshold)
        self.relink_s = float(relink_s)
        self.relink_distance = float(relink_distance)
        self.split_distance = float(split_distance)
        self.thumbnails = thumbnails
        self._encoder = encoder or _dlib_encoder
        self.tracks: list[Track] = []
        self._recent: list[Track] = []
        self._sample = -1
        #: faces seen and embeddings computed so far.
        self.faces_seen = 0
        self.embeddings_computed = 0

    def update(self, timestamp_s: float, image: np.ndarray, faces: Faces) -> np.ndarray:
        """Link one sampled frame's faces to tracks, embedding those that need it.

        Args:
            timestamp_s: the frame's video time in seconds (non-decreasing between calls).
            image: the frame, uint8 (H, W, 3) RGB.
            faces: its faces (boxes in pixels of ``image``).

        Returns:
            int array (N,): the track id of each face.

        Raises:
            BackendError: dlib or its model files are missing.
        """
        from scipy.optimize import linear_sum_assignment

        self._sample += 1
        sample, n = self._sample, len(faces)
        self.faces_seen += n
        ids = np.full(n, -1, dtype=int)
        # Tracks seen lately: those of the previous sampled frame continue by box overlap,
        # those lost for at most relink_s seconds may continue by embedding.
        # (The previous sampled frame's tracks stay whatever the sampling interval.)
        self._recent = [
            t
            for t in self._recent
            if t.last_sample == sample - 1 or timestamp_s - t.last_s <= self.relink_s + 1e-6
        ]
        if not n:
            return ids
        assigned: dict[int, Track] = {}
        contested: set[int] = set()
        # overlap continues tracks of the previous sampled frame and, across a missed
        # detection, tracks lost at most relink_s ago (their last or predicted box)
        prev = list(self._recent)
        if prev:
            iou = np.maximum(
                box_iou(faces.xyxy, np.array([t.box for t in prev])),
                box_iou(faces.xyxy, np.array([t.predicted_box(timestamp_s) for t in prev])),
            )
            rows, cols = linear_sum_assignment(-iou)
            overlaps = iou >= self.iou_threshold
            for r, c in zip(rows, cols, strict=True):
                if overlaps[r, c]:
                    assigned[int(r)] = prev[int(c)]
                    # contested: the face overlaps several tracks, or the track several faces
                    if overlaps[r].sum() > 1 or overlaps[:, c].sum() > 1:
                        contested.add(int(r))
        vectors: dict[int, np.ndarray] = {}
        chips: dict[int, np.ndarray] = {}
        need = [
            i
            for i in range(n)
            if i not in assigned or timestamp_s - assigned[i].last_embed_s >= self.refresh_s - 1e-6
        ]
        if need:
            got_chips, got = self._encoder(image, faces.xyxy[need])
            self.embeddings_computed += len(need)
            vectors = {i: got[k] for k, i in enumerate(need)}
            chips = {i: got_chips[k] for k, i in enumerate(need)}
        # Where boxes overlap ambiguously (two faces crossing), a refreshed embedding far from
        # its track's mean means the boxes swapped people: the face leaves the track. An
        # uncontested overlap always continues the track (a hand over the face, a turned head
        # change the embedding, not the person).
        for i in need:
            track = assigned.get(i)
            if track is not None and track.emb_count and i in contested:
                if np.linalg.norm(vectors[i] - track.mean_embedding) > self.split_distance:
                    del assigned[i]
        # Faces not continued by overlap: re-link to a lately lost track whose mean
        # embedding is within relink_distance (one face per track), else a new track.
        loose = [i for i in range(n) if i not in assigned]
        taken = {id(t) for t in assigned.values()}
        lost = [t for t in self._recent if id(t) not in taken and t.emb_count]
        if loose and lost:
            from .embed import pairwise_distances

            dist = pairwise_distances(
                np.array([vectors[i] for i in loose]), np.array([t.mean_embedding for t in lost])
            )
            rows, cols = linear_sum_assignment(dist)
            for r, c in zip(rows, cols, strict=True):
                if dist[r, c] <= self.relink_distance:
                    assigned[loose[int(r)]] = lost[int(c)]
        rek = faces.extra.get("rek_person")
        for i in range(n):
            track = assigned.get(i)
            if track is None:
                box = faces.xyxy[i]
                track = Track(
                    len(self.tracks),
                    sample,
                    sample,
                    timestamp_s,
                    timestamp_s,
                    float(box[0]),
                    box.copy(),
                )
                self.tracks.append(track)
                self._recent.append(track)
                assigned[i] = track
            track.observe(sample, timestamp_s, faces.xyxy[i])
            ids[i] = track.track_id
            if rek is not None and str(rek[i] or "").strip():
                track.rek_names[str(rek[i]).strip()] += 1
            if i in vectors:
                track.add_embedding(vectors[i], chips[i] if self.thumbnails else None, timestamp_s)
        return ids

    def resolve(
        self,
        gallery: tuple[list[str], np.ndarray] | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        cluster_threshold: float = DEFAULT_CLUSTER_THRESHOLD,
    ) -> dict[int, Identity]:
        """Decide who every track is (see the module docstring for the method).

        Args:
            gallery: ``(names (M,), float64 embeddings (M, 128))`` from
                :meth:`feelinvideo.gallery.Gallery.embeddings`, or None.
            tolerance: largest track distance (euclidean, dlib's 0.6 default) to take an
                enrolled name.
            cluster_threshold: average-linkage cut for grouping unnamed tracks.

        Returns:
            ``{track_id: Identity}`` for every track.
        """
        out: dict[int, Identity] = {}
        for track in self.tracks:
            if track.rek_names:
                name = track.rek_names.most_common(1)[0][0]
                out[track.track_id] = Identity(name, True, None, "backend")
            elif gallery is not None and len(gallery[0]) and track.embeddings:
                name, dist = _gallery_match(track, gallery)
                if dist <= tolerance:
                    out[track.track_id] = Identity(name, True, dist, "gallery")
        rest = [t for t in self.tracks if t.track_id not in out]
        labels = _cluster(rest, cluster_threshold)
        first: dict[int, tuple] = {}
        for track, label in zip(rest, labels, strict=True):
            key = (track.first_sample, track.first_x, track.track_id)
            first[label] = min(first.get(label, key), key)
        order = {label: k + 1 for k, label in enumerate(sorted(first, key=first.get))}
        for track, label in zip(rest, labels, strict=True):
            out[track.track_id] = Identity(
                f"{UNKNOWN_PREFIX}{order[label]}", False, None, "cluster"
            )
        return out

    def thumbnails_by_person(self, identities: dict[int, Identity]) -> dict[str, list[np.ndarray]]:
        """Up to :data:`THUMBS_PER_PERSON` thumbnails per person, spread over their tracks."""
        pooled: dict[str, list[np.ndarray]] = {}
        for track in self.tracks:
            pooled.setdefault(identities[track.track_id].person, []).extend(track.thumbs)
        picked = {}
        for person, thumbs in pooled.items():
            if len(thumbs) > THUMBS_PER_PERSON:
                idx = np.linspace(0, len(thumbs) - 1, THUMBS_PER_PERSON).round().astype(int)
                thumbs = [thumbs[i] for i in idx]
            picked[person] = thumbs
        return picked


def _dlib_encoder(image: np.ndarray, xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from .embed import chip_encodings, face_chips

    chips = face_chips(image, xyxy)
    return chips, chip_encodings(chips)


def _gallery_match(track: Track, gallery: tuple[list[str], np.ndarray]) -> tuple[str, float]:
    """The enrolled person nearest to a track, and the track distance to them."""
    from .embed import pairwise_distances

    names, vectors = gallery
    dist = pairwise_distances(np.array(track.embeddings), vectors)  # (k, M)
    best_name, best = "", math.inf
    names_arr = np.array(names)
    for name in dict.fromkeys(names):
        per_embedding = dist[:, names_arr == name].min(axis=1)
        d = float(np.median(per_embedding))
        if d < best:
            best_name, best = name, d
    return best_name, best


def _together(tracks: list[Track]) -> np.ndarray:
    """bool (T, T): whether two tracks were seen in the same sampled frame."""
    seg = np.array([(k, a, b) for k, t in enumerate(tracks) for a, b in t.segments], dtype=int)
    hit = (seg[:, None, 1] <= seg[None, :, 2]) & (seg[None, :, 1] <= seg[:, None, 2])
    out = np.zeros((len(tracks), len(tracks)), dtype=bool)
    i, j = np.nonzero(hit)
    out[seg[i, 0], seg[j, 0]] = True
    return out


def _cluster(tracks: list[Track], threshold: float) -> list[int]:
    """Average-linkage cluster labels of tracks by mean embedding, with cannot-links."""
    if not tracks:
        return []
    if len(tracks) == 1:
        return [0]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    from .embed import pairwise_distances

    means = np.array([t.mean_embedding for t in tracks])
    dist = pairwise_distances(means, means)
    together = _together(tracks)
    dist[together] = CANNOT_LINK
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    return [int(v) for v in fcluster(tree, t=threshold, criterion="distance")]


# --------------------------------------------------------------------------- outputs


def people_frames(df: pd.DataFrame) -> pd.DataFrame:
    """Per person: sampled frames seen, first time, enrolled flag; ordered by first appearance.

    Args:
        df: ``faces.csv`` rows with ``person``, ``frame_index``, ``timestamp_s``, ``x_min``
            and ``enrolled`` (bool) columns.

    Returns:
        DataFrame indexed by person with ``frames`` (int), ``first_s``, ``last_s``, ``enrolled``.
    """
    if not len(df):
        return pd.DataFrame(columns=["frames", "first_s", "last_s", "enrolled"])
    ordered = df.sort_values(["frame_index", "x_min"], kind="stable")
    grouped = ordered.groupby("person", sort=False)
    table = pd.DataFrame(
        {
            "frames": grouped["frame_index"].nunique(),
            "first_s": grouped["timestamp_s"].min(),
            "last_s": grouped["timestamp_s"].max(),
            "enrolled": grouped["enrolled"].first(),
        }
    )
    return table


def people_json(df: pd.DataFrame, width: int, height: int, keep: list[str]) -> dict:
    """The ``people.json`` dict, in the seed's shape.

    ``{"People": [{"Person": name, "Enrolled": bool, "Frames": [{"FrameNumber": int,
    "FrameTimePosition": "HH:MM:SS", "BoundingBox": {"Height", "Left", "Top", "Width"}}]}]}``
    with the box as fractions of the frame (0-1). People appear in ``keep`` order.

    Args:
        df: ``faces.csv`` rows with ``person`` and ``enrolled`` columns.
        width, height: frame size in pixels.
        keep: the people to write (those seen in at least ``--min-frames`` frames).
    """
    people = []
    for name in keep:
        rows = df[df["person"] == name].sort_values(["frame_index", "face_index"])
        frames = [
            {
                "FrameNumber": int(r.frame_index),
                "FrameTimePosition": format_time(r.timestamp_s, millis=False),
                "BoundingBox": {
                    "Height": round((r.y_max - r.y_min) / height, 5),
                    "Left": round(r.x_min / width, 5),
                    "Top": round(r.y_min / height, 5),
                    "Width": round((r.x_max - r.x_min) / width, 5),
                },
            }
            for r in rows.itertuples(index=False)
        ]
        enrolled = bool(rows["enrolled"].iloc[0]) if len(rows) else False
        people.append({"Person": name, "Enrolled": enrolled, "Frames": frames})
    return {"People": people}


def person_summaries(df: pd.DataFrame, keep: list[str]) -> list[dict]:
    """Per person: frames attended, first/last seen, mean scores, dominant emotion, verdict.

    ``dominant_emotion`` weights each face's scores by its detection confidence (as the
    summary's time windows do); the verdict is the interest rule over the person's faces.
    """
    from .summary import group_totals

    totals = group_totals(df, "person")
    grouped = df.groupby("person")
    frames = grouped["frame_index"].nunique()
    first, last = grouped["timestamp_s"].min(), grouped["timestamp_s"].max()
    enrolled = grouped["enrolled"].first()
    distance = pd.to_numeric(df["match_distance"], errors="coerce").groupby(df["person"]).median()
    out = []
    for name in keep:
        row = totals.loc[name]
        out.append(
            {
                "person": name,
                "enrolled": bool(enrolled[name]),
                "frames": int(frames[name]),
                "faces": int(row["faces"]),
                "first_seen_s": round(float(first[name]), 3),
                "last_seen_s": round(float(last[name]), 3),
                "match_distance": None
                if pd.isna(distance[name])
                else round(float(distance[name]), 4),
                "mean_scores": {e: round(float(row[f"mean_{e}"]), 4) for e in EMOTIONS},
                "dominant_emotion": row["dominant_emotion"],
                "positive": round(float(row["positive"]), 4),
                "negative": round(float(row["negative"]), 4),
                "verdict": row["verdict"],
            }
        )
    return out


def draw_people(
    path: str | os.PathLike,
    df: pd.DataFrame,
    keep: list[str],
    duration_s: float,
    thumbnails: dict[str, list[np.ndarray]] | None,
) -> None:
    """Write ``people.png``: one row per person, thumbnails then a timeline.

    Each row shows up to four face thumbnails (left; omitted when ``thumbnails`` is None)
    and a time axis from 0 to ``duration_s`` seconds with a red mark at every sampled frame
    where the person appears (the seed's picture). Written atomically.

    Raises:
        OutputError: the file cannot be written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .atomic import atomic_path

    rows = max(1, len(keep))
    thumb_cols = THUMBS_PER_PERSON if thumbnails is not None else 0
    fig_w = 10.0
    row_h = 0.9
    fig = plt.figure(figsize=(fig_w, 0.6 + row_h * rows), dpi=100)
    label_w, thumb_w = 0.16, 0.075
    timeline_left = label_w + thumb_cols * thumb_w + 0.01
    top, bottom = 1 - 0.25 / fig.get_figheight(), 0.45 / fig.get_figheight()
    h = (top - bottom) / rows
    end = max(float(duration_s), float(df["timestamp_s"].max()) if len(df) else 0.0, 1e-3)
    if not keep:
        fig.text(0.5, 0.5, "no people found", ha="center", va="center")
    for k, name in enumerate(keep):
        y0 = top - (k + 1) * h
        times = df.loc[df["person"] == name, "timestamp_s"].to_numpy(dtype=float)
        enrolled = bool(df.loc[df["person"] == name, "enrolled"].iloc[0])
        fig.text(
            0.01,
            y0 + h / 2,
            name,
            ha="left",
            va="center",
            fontsize=10,
            fontweight="bold" if enrolled else "normal",
        )
        for j, thumb in enumerate((thumbnails or {}).get(name, [])[:thumb_cols]):
            ax = fig.add_axes([label_w + j * thumb_w, y0 + 0.08 * h, thumb_w * 0.95, 0.84 * h])
            ax.imshow(thumb)
            ax.set_axis_off()
        ax = fig.add_axes([timeline_left, y0 + 0.3 * h, 0.98 - timeline_left, 0.4 * h])
        ax.vlines(times, 0, 1, colors="red", linewidth=1.2)
        ax.set_xlim(-0.01 * end, 1.01 * end)  # marks at 0 and at the end stay visible
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.text(
            1.0,
            1.05,
            f"{len(np.unique(times))} frames",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="0.3",
        )
        if k < len(keep) - 1:
            ax.set_xticklabels([])
        else:
            ax.set_xlabel("video time (s)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def left_out(frames: pd.Series, min_frames: int) -> list[str]:
    """People (index of ``frames``) seen in fewer than ``min_frames`` sampled frames."""
    return [str(p) for p, n in frames.items() if n < min_frames]


def apply_identities(rows: list[dict], identities: dict[int, Identity]) -> None:
    """Set ``person`` and ``match_distance`` on ``faces.csv`` rows (in place) from ``track_id``."""
    for row in rows:
        ident = identities[int(row["track_id"])]
        row["person"] = ident.person
        row["match_distance"] = (
            round(ident.match_distance, 4) if ident.match_distance is not None else None
        )


def write_people(
    out_dir: str | os.PathLike,
    df: pd.DataFrame,
    identities: dict[int, Identity],
    tracker: IdentityTracker,
    width: int,
    height: int,
    duration_s: float,
    min_frames: int = 1,
    thumbnails: bool = True,
) -> tuple[dict, dict[str, str]]:
    """Write ``people.json`` and ``people.png`` into ``out_dir``; return the summary block.

    Args:
        out_dir: the run's output folder.
        df: the ``faces.csv`` rows, with IDENTITY_COLUMNS.
        identities: from :meth:`IdentityTracker.resolve`.
        tracker: the tracker that saw the run (thumbnails, embedding counts).
        width, height: frame size in pixels; duration_s: video length in seconds.
        min_frames: people seen in fewer sampled frames are left out of both files and of
            the per-person block, and counted in ``people_left_out``.
        thumbnails: draw face thumbnails in people.png.

    Returns:
        ``(summary keys, {output key: file name})``. The summary keys are ``identity``
        (settings and embedding counts), ``people_count``, ``people_left_out`` and ``people``
        (see :func:`person_summaries`).

    Raises:
        OutputError: a file cannot be written.
    """
    from .atomic import write_json

    out_dir = Path(out_dir)
    enrolled = {i.person: i.enrolled for i in identities.values()}
    work = df.assign(enrolled=df["person"].map(enrolled).fillna(False).astype(bool))
    frames = people_frames(work)
    dropped = left_out(frames["frames"], min_frames)
    keep = [str(p) for p in frames.index if str(p) not in dropped]
    write_json(out_dir / PEOPLE_JSON, people_json(work, width, height, keep))
    thumbs = tracker.thumbnails_by_person(identities) if thumbnails else None
    draw_people(out_dir / PEOPLE_PNG, work, keep, duration_s, thumbs)
    faces = tracker.faces_seen
    block = {
        "identity": {
            "tracks": len(tracker.tracks),
            "faces_seen": faces,
            "embeddings_computed": tracker.embeddings_computed,
            "embeddings_per_face": round(tracker.embeddings_computed / faces, 4) if faces else 0.0,
            "min_frames": min_frames,
        },
        "people_count": len(keep),
        "people_left_out": len(dropped),
        "people": person_summaries(work, keep),
    }
    return block, {"people_json": PEOPLE_JSON, "people_png": PEOPLE_PNG}
