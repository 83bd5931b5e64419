"""Face tracks: the same face followed across sampled frames, embedded at intervals.

Method (all local):

0. **Cuts.** A hard cut between sampled frames (:mod:`feelinvideo.identity.cuts`) ends every
   track: a face after a cut starts a new track, however well the boxes overlap.
1. **Links.** Faces of consecutive sampled frames are linked when their boxes overlap:
   the pairing maximising total IoU (Hungarian assignment, :func:`scipy.optimize.
   linear_sum_assignment`) over pairs with IoU >= ``iou_threshold`` (0.3). Tracks of the
   previous sampled frame, and tracks lost at most ``relink_s`` (1 s) ago (a missed
   detection), take part, with their last box or the box moved on at their last velocity.
   A face with no such partner may re-join a lost track by embedding, else starts a track.
2. **Embeddings.** A face is embedded (dlib's 128-d descriptor, :mod:`feelinvideo.models.
   dlib`, about 25 ms a face here; the faces that need one in all the frames of a backend
   call go through one network call, see :meth:`FaceTracker.prepare`) when
   its track starts (after a cut too), when its link is weak (IoU under ``weak_iou``, e.g.
   fast motion; contested: a face overlapping several tracks or a track several faces; or
   the face's look changed: the correlation of its 24x24 grey patch with the track's last
   one is under ``min_patch_corr``; or under ``small_patch_corr`` for a face narrower than
   ``small_face_px`` or whose box moved (IoU under ``moved_iou``), a weak link then: see
   :data:`SMALL_FACE_PX` and :data:`MOVED_IOU`), and otherwise 1 s, 2 s,
   4 s... after its previous embedding, at most ``refresh_s`` seconds of video time
   apart: never once per face per frame. Up to
   :data:`MAX_TRACK_EMBEDDINGS` are kept per track (evenly thinned), plus the running mean.
3. **Verification.** Every refreshed embedding is checked against its track's mean: farther
   than ``split_distance`` (dlib's 0.6 tolerance) on a geometrically weak link, or farther
   than ``strong_split_distance`` (0.7) on a strong one (the box barely moved), means the
   box now holds someone else, and the face starts a new track instead of carrying the first
   person's name on. The stricter bar for strong links keeps a face through a hand over it:
   on the demo clip the crying woman's covered face was 0.63 from her own track, while
   different people of the knn_examples photos were at least 0.72 apart.

The tracker follows supervision's interface: :meth:`FaceTracker.update` takes a frame's
:class:`~feelinvideo.faces.Faces` and returns them with ``tracker_id`` set (and
``embedding`` rows for the faces it embedded). Naming is :mod:`feelinvideo.identity.naming`.

Memory is constant per track: a few embeddings, a running sum and up to
:data:`MAX_TRACK_THUMBNAILS` small face thumbnails (only when thumbnails are wanted).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..faces import EMBEDDING_SIZE, Faces, box_iou
from ..models.dlib import chip_encodings, face_chips, pairwise_distances, preload
from ..schema import DEFAULT_REFRESH_S
from ..video import Frame
from .cuts import CutDetector

#: Boxes of consecutive sampled frames with at least this IoU continue the same track.
DEFAULT_IOU = 0.3
#: A young track's second embedding comes this many seconds after its first, the interval
#: then doubling up to the refresh interval.
FIRST_REFRESH_S = 1.0
#: A link with a smaller IoU than this is weak (fast motion): the face is embedded to check it.
DEFAULT_WEAK_IOU = 0.4
#: A link whose face patch correlates less than this with the track's last patch is weak.
DEFAULT_MIN_PATCH_CORR = 0.4
#: Side in pixels of the grey face patch compared between sampled frames.
PATCH_SIZE = 24
#: A face narrower than SMALL_FACE_PX (pixels) whose patch correlates less than
#: SMALL_FACE_PATCH_CORR with its track's last one is verified by embedding, as a weak link
#: (split at ``split_distance``): the general bar (DEFAULT_MIN_PATCH_CORR) lets through a
#: small face replaced by another. Measured (``bench/bench_identity_sizes.py``'s slideshow:
#: portraits one after another at the same place of a grey 720p frame, no cut found since
#: the frame is mostly background; and the test photos obama1 then alex_lacamoire1 at 54 px
#: at the very same place): a portrait replaced by another kept patch correlations
#: 0.13-0.59 with the first one's track (IoU 0.33-0.87), and where that passed the general
#: bars the new face took the first one's name; the same portrait between sampled frames
#: kept 1.00. The same walking pedestrians of facenet-pytorch's street clip (faces 40-99
#: px, sampled every 0.2 s) kept a median correlation of 0.91 (5th percentile 0.58), with
#: IoU down to 0.33, so IoU is no sign of a swap there and is not used. At 0.7 the street
#: clip's extra checks split one pedestrian into two people at ``--every 0.1``; at 0.6 it
#: keeps its 7 people at 0.1 and 0.2.
SMALL_FACE_PX = 100
SMALL_FACE_PATCH_CORR = 0.6
#: A face of any size whose box moved (IoU with its track's box under MOVED_IOU) and whose
#: patch correlates less than SMALL_FACE_PATCH_CORR is verified by embedding as a weak link
#: too: neither its look nor its box confirms the link. Measured with every face embedded
#: (``python bench/bench_track_links.py --slideshow 32 40 54 64 80 100 120 160 200 --clips
#: MOSAIC:1 STREET:0.2 STREET:0.1 WOLFGANG:1 WOMAN2:0.2``, 2026-12-03): on
#: bench/bench_identity_sizes.py's slideshow the one swap the rules above let through at
#: 100-200 px (alex_lacamoire1 shown after obama1 at the same place) had IoU 0.41-0.43,
#: correlation 0.44-0.56 and distance 0.71-0.72 from the first one's faces, and the 12
#: swaps with a correlation of 0.4 or more at any size had IoU <= 0.44 and distance >= 0.685.
#: The same person between sampled frames with correlation and IoU both under 0.6 (22 links
#: of the 4-minute classroom mosaic at 1 s, faces 116-216 px; 5 of the street clip at 0.2 s;
#: 1 of WolfgangLanger at 1 s) stayed within 0.49 of their track's earlier faces, so a split
#: at 0.6 parts the swaps and none of them; with IoU of 0.6 or more the mosaic's reached 0.67
#: (171 links under a correlation of 0.6), so the rule leaves those to the general bars. On
#: the mosaic it costs 2 embeddings (186 instead of 184) and changes no track.
MOVED_IOU = 0.6
#: A face may re-join a track lost at most this long ago (seconds of video time) ...
DEFAULT_RELINK_S = 1.0
#: ... when its embedding is this close (euclidean) to the track's mean embedding.
DEFAULT_RELINK_DISTANCE = 0.4
#: A refreshed embedding farther than this from its track's mean splits a weak link ...
DEFAULT_SPLIT_DISTANCE = 0.6
#: ... and farther than this a strong one (uncontested, IoU >= DEFAULT_WEAK_IOU).
DEFAULT_STRONG_SPLIT_DISTANCE = 0.7
#: Embeddings and thumbnails kept per track (evenly thinned as the track grows).
MAX_TRACK_EMBEDDINGS = 16
MAX_TRACK_THUMBNAILS = 8
#: Side in pixels of the face thumbnails kept for people.png.
THUMB_SIZE = 72

#: ``(image RGB uint8 (H, W, 3), xyxy (K, 4)) -> (chips uint8 (K, 150, 150, 3),
#: embeddings float64 (K, 128))``
Encoder = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
#: ``[(image, xyxy (K_j, 4)), ...] -> [(chips (K_j, 150, 150, 3), embeddings (K_j, 128)), ...]``:
#: an :data:`Encoder` over several frames at once, one result per request, in order.
BatchEncoder = Callable[[list[tuple[np.ndarray, np.ndarray]]], list[tuple[np.ndarray, np.ndarray]]]


def _thin(items: list, limit: int) -> list:
    """Keep every other item once ``items`` exceeds ``limit`` (even spacing over time)."""
    return items[::2] if len(items) > limit else items


@dataclass
class Track:
    """One face followed across sampled frames.

    Attributes:
        tracker_id: 0-based, in order of creation (= first appearance).
        first_sample, last_sample: sampled-frame counters (0-based) of its first and last face.
        last_s: video time in seconds of its latest face.
        first_x: left edge (pixels) of its first box, to order people who appear together.
        box: float32 (4,) ``xyxy`` of its latest box.
        velocity: float32 (4,) change of ``box`` per second between its last two sampled
            frames (zero until it has been seen in two consecutive ones).
        segments: ``[first, last]`` sampled-frame ranges it was seen in (more than one
            when it was re-linked across a short gap).
        embeddings: float64 (128,) arrays kept (at most MAX_TRACK_EMBEDDINGS).
        emb_sum, emb_count: sum and number of all embeddings computed for it.
        last_embed_s: video time of its latest embedding.
        patch: float32 (PATCH_SIZE, PATCH_SIZE) normalised grey patch of its latest face.
        thumbs: uint8 (THUMB_SIZE, THUMB_SIZE, 3) aligned face thumbnails, RGB.
    """

    tracker_id: int
    first_sample: int
    last_sample: int
    last_s: float
    first_x: float
    box: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    segments: list[list[int]] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    emb_sum: np.ndarray = field(default_factory=lambda: np.zeros(EMBEDDING_SIZE))
    emb_count: int = 0
    last_embed_s: float = -math.inf
    patch: np.ndarray | None = None
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

    def absorb(self, later: Track) -> None:
        """Continue this track with ``later``, the same face tracked on in the next segment
        of the video (:mod:`feelinvideo.segments`; its sampled-frame counters already
        global): its frames, latest box and motion, embeddings and thumbnails (thinned
        evenly to the same limits as one track's)."""
        segments = [list(s) for s in later.segments]
        if self.segments and segments and self.segments[-1][1] + 1 >= segments[0][0]:
            self.segments[-1][1] = max(self.segments[-1][1], segments[0][1])
            segments = segments[1:]
        self.segments += segments
        self.last_sample, self.last_s = later.last_sample, later.last_s
        self.box, self.velocity, self.patch = later.box, later.velocity, later.patch
        self.embeddings = [*self.embeddings, *later.embeddings]
        while len(self.embeddings) > MAX_TRACK_EMBEDDINGS:
            self.embeddings = self.embeddings[::2]
        self.thumbs = [*self.thumbs, *later.thumbs]
        while len(self.thumbs) > MAX_TRACK_THUMBNAILS:
            self.thumbs = self.thumbs[::2]
        self.emb_sum = self.emb_sum + later.emb_sum
        self.emb_count += later.emb_count
        self.last_embed_s = max(self.last_embed_s, later.last_embed_s)


def face_patches(image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """float32 (N, PATCH_SIZE, PATCH_SIZE): each face box of an RGB uint8 image as a small
    grey patch normalised to mean 0 and standard deviation 1, so that the mean of the
    product of two patches is their correlation (-1 to 1; about 1 for the same face a
    moment later, lower after a cut or a swap)."""
    import cv2

    out = np.zeros((len(xyxy), PATCH_SIZE, PATCH_SIZE), np.float32)
    h, w = image.shape[:2]
    for k, (x1, y1, x2, y2) in enumerate(np.asarray(xyxy, np.float64)):
        x1, y1 = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
        x2, y2 = int(min(w, np.ceil(x2))), int(min(h, np.ceil(y2)))
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        crop = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
        patch = cv2.resize(crop, (PATCH_SIZE, PATCH_SIZE), interpolation=cv2.INTER_AREA)
        patch = patch.astype(np.float32)
        out[k] = (patch - patch.mean()) / max(float(patch.std()), 1e-3)
    return out


def dlib_encoder(image: np.ndarray, xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The default :data:`Encoder`: dlib's aligned chips and their 128-d descriptors, all
    the boxes in one network call (OpenCV's dnn, which releases the GIL while it runs, so
    the pipeline's decoding and model threads go on meanwhile)."""
    chips = face_chips(image, xyxy)
    return chips, chip_encodings(chips)


def dlib_batch_encoder(
    requests: list[tuple[np.ndarray, np.ndarray]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The default :data:`BatchEncoder`: each request's faces aligned in its own image
    (dlib's 5 points, per face), then every chip of every request through the network in
    one :func:`~feelinvideo.models.dlib.chip_encodings` call (16 chips a pass). The
    descriptors are bitwise those of one call per frame (checked on real chips)."""
    chips = [face_chips(image, xyxy) for image, xyxy in requests]
    sizes = [len(c) for c in chips]
    if not sum(sizes):
        return [(c, np.zeros((0, EMBEDDING_SIZE))) for c in chips]
    vectors = chip_encodings(np.concatenate([c for c in chips if len(c)]))
    bounds = np.cumsum([0, *sizes])
    return [(c, vectors[a:b]) for c, a, b in zip(chips, bounds[:-1], bounds[1:], strict=True)]


@dataclass
class _Planned:
    """One frame as :meth:`FaceTracker.prepare` worked it out ahead.

    Attributes:
        frame: the frame (matched by identity in :meth:`FaceTracker.update`).
        cut: whether a hard cut lies before it (the cut detector already advanced).
        patches: float32 (N, PATCH_SIZE, PATCH_SIZE), its faces' patches.
        embedded: ``{face row: (chip uint8 (150, 150, 3), embedding float64 (128,))}`` for
            the faces predicted to need an embedding.
    """

    frame: Frame
    cut: bool
    patches: np.ndarray
    embedded: dict[int, tuple[np.ndarray, np.ndarray]]


def _sketch(track: Track) -> Track:
    """A copy of ``track`` that :meth:`FaceTracker.prepare`'s rehearsal may change freely
    (its frame ranges copied; no embeddings or thumbnails kept)."""
    out = copy.copy(track)
    out.segments = [list(s) for s in track.segments]
    out.embeddings, out.thumbs = [], []
    return out


class FaceTracker:
    """Follows faces across sampled frames and embeds each track at intervals.

    Feed every sampled frame, in time order, to :meth:`update`; :attr:`tracks` holds what
    it learnt (for naming, unknown clustering and thumbnails).

    Args:
        refresh_s: re-embed a face on a steady track at most once per this many seconds of
            video time (> 0).
        iou_threshold: smallest IoU in (0, 1] linking a face to a track of the previous
            sampled frame.
        weak_iou: links with IoU under this (but over ``iou_threshold``) are verified by
            embedding.
        min_patch_corr: links whose face patch correlates less than this (-1 to 1) with
            the track's previous one are verified by embedding.
        thumbnails: keep small aligned face thumbnails for people.png.
        encoder: an :data:`Encoder`; default :func:`dlib_encoder` (and for
            :meth:`prepare`'s batches :func:`dlib_batch_encoder`; a given encoder is called
            once per frame there).
        relink_s: a face that overlaps no track may continue a track lost at most this
            many seconds ago (a missed detection, fast motion) ...
        relink_distance: ... when its embedding is within this euclidean distance of the
            track's mean embedding.
        split_distance: a face on a weak link (contested or IoU under ``weak_iou``) leaves
            its track when its refreshed embedding is farther than this from the track's
            mean (euclidean; dlib's 0.6) ...
        strong_split_distance: ... and a face on a strong link when farther than this.
        cuts: a :class:`~feelinvideo.identity.cuts.CutDetector` ending every track at a hard
            cut (default one with its measured thresholds); None: no cut detection.
        small_face_px: faces narrower than this (pixels) are verified by embedding, as weak
            links, when their patch correlates less than ``small_patch_corr`` with their
            track's (:data:`SMALL_FACE_PX`, :data:`SMALL_FACE_PATCH_CORR`; 0 turns it off).
        moved_iou: faces of any size whose link has an IoU under this are verified the same
            way when their patch correlates less than ``small_patch_corr``
            (:data:`MOVED_IOU`; 0 turns it off).

    Raises:
        ValueError: ``refresh_s`` <= 0.
    """

    def __init__(
        self,
        refresh_s: float = DEFAULT_REFRESH_S,
        iou_threshold: float = DEFAULT_IOU,
        thumbnails: bool = True,
        encoder: Encoder | None = None,
        relink_s: float = DEFAULT_RELINK_S,
        relink_distance: float = DEFAULT_RELINK_DISTANCE,
        split_distance: float = DEFAULT_SPLIT_DISTANCE,
        strong_split_distance: float = DEFAULT_STRONG_SPLIT_DISTANCE,
        weak_iou: float = DEFAULT_WEAK_IOU,
        min_patch_corr: float = DEFAULT_MIN_PATCH_CORR,
        cuts: CutDetector | None | str = "default",
        small_face_px: float = SMALL_FACE_PX,
        small_patch_corr: float = SMALL_FACE_PATCH_CORR,
        moved_iou: float = MOVED_IOU,
    ):
        if not refresh_s > 0:
            raise ValueError(f"refresh_s must be > 0, got {refresh_s}")
        self.refresh_s = float(refresh_s)
        self.iou_threshold = float(iou_threshold)
        self.relink_s = float(relink_s)
        self.relink_distance = float(relink_distance)
        self.split_distance = float(split_distance)
        self.strong_split_distance = float(strong_split_distance)
        self.weak_iou = float(weak_iou)
        self.min_patch_corr = float(min_patch_corr)
        self.cuts = CutDetector() if cuts == "default" else cuts
        self.small_face_px = float(small_face_px)
        self.small_patch_corr = float(small_patch_corr)
        self.moved_iou = float(moved_iou)
        self.thumbnails = thumbnails
        self._encoder = encoder or dlib_encoder
        self._batch_encoder: BatchEncoder = (
            dlib_batch_encoder
            if encoder is None
            else (lambda requests: [encoder(image, xyxy) for image, xyxy in requests])
        )
        if encoder is None:
            preload()  # loads dlib's models on a background thread meanwhile
        self._plan: list[_Planned] = []
        self.tracks: list[Track] = []
        #: tracks started so far (the next ``tracker_id``; :meth:`forget` keeps it).
        self.tracks_created = 0
        self._recent: list[Track] = []
        self._sample = -1
        #: faces seen and embeddings computed so far.
        self.faces_seen = 0
        self.embeddings_computed = 0
        #: embeddings :meth:`prepare` computed that the frames turned out not to need
        #: (after a split or a re-link it could not foresee): a cost, not in the summary.
        self.embeddings_unused = 0

    def forget(self, before_s: float) -> list[Track]:
        """Drop the tracks last seen before ``before_s`` (seconds of video time) that can no
        longer continue (neither in the previous sampled frame nor lost within
        ``relink_s``), so that a live watch's memory stays flat; ``tracker_id`` numbering
        goes on. Returns the tracks dropped."""
        keep = {id(t) for t in self._recent}
        gone = [t for t in self.tracks if t.last_s < before_s and id(t) not in keep]
        if gone:
            dropped = {id(t) for t in gone}
            self.tracks = [t for t in self.tracks if id(t) not in dropped]
        return gone

    def interval(self, track: Track) -> float:
        """Seconds until a steady track's next embedding: 1 s after its first, then doubling
        (2 s, 4 s, ...) up to ``refresh_s``, so that a young track gets a few embeddings
        for a reliable mean (short tracks of small faces are the noisiest) while a long one
        costs one every ``refresh_s``."""
        return min(self.refresh_s, FIRST_REFRESH_S * 2.0 ** max(0, track.emb_count - 1))

    def update(self, frame: Frame, faces: Faces) -> Faces:
        """Link one sampled frame's faces to tracks, embedding those that need it.

        Args:
            frame: the sampled frame (:class:`feelinvideo.video.Frame`): ``timestamp_s``
                (video time in seconds, non-decreasing between calls) and ``image``
                (uint8 (H, W, 3) RGB).
            faces: its faces (boxes in pixels of ``frame.image``).

        Returns:
            ``faces`` (the same object) with ``tracker_id`` set, and ``embedding`` rows set
            for the faces embedded in this frame (NaN rows for the others).

        Raises:
            BackendError: dlib or its model files are missing.
            ValueError: frames given to :meth:`prepare` are still due and ``frame`` is not
                the next of them.
        """
        if not self._plan:
            cut = self.cuts is not None and self.cuts.update(frame.image)
            patches = face_patches(frame.image, faces.xyxy)
            return self._update(frame, faces, cut, patches, self._encode_now(frame, faces))
        plan = self._plan[0]
        if plan.frame is not frame or len(plan.patches) != len(faces):
            raise ValueError("frames given to prepare() must be updated in their order")
        self._plan.pop(0)
        used: set[int] = set()

        def encode(rows: list[int]) -> tuple[list[np.ndarray], np.ndarray]:
            missing = [i for i in rows if i not in plan.embedded]
            if missing:  # foreseen wrongly (a split or re-link before): embedded now
                got_chips, got = self._encoder(frame.image, faces.xyxy[missing])
                plan.embedded.update(zip(missing, zip(got_chips, got, strict=True)))
            used.update(rows)
            return [plan.embedded[i][0] for i in rows], np.array(
                [plan.embedded[i][1] for i in rows]
            )

        faces = self._update(frame, faces, plan.cut, plan.patches, encode)
        self.embeddings_unused += len(set(plan.embedded) - used)
        return faces

    def prepare(self, frames: Sequence[Frame], faces: Sequence[Faces]) -> None:
        """Embed ahead, in one batch, the faces that the next :meth:`update` calls on these
        frames will need, so that the faces of a whole backend call go through one network
        call (:data:`BatchEncoder`) instead of one call per frame.

        The calls are rehearsed on a copy of the tracker's recent state that assumes no
        split and no re-link (those need the embeddings themselves); the faces the
        rehearsal embeds are aligned and embedded together. Then :meth:`update` is called
        as usual, for each of ``frames`` in order: it takes the embeddings from the batch,
        embeds any face the rehearsal did not foresee (after a split or a re-link) on the
        spot, and counts the foreseen ones it did not need in :attr:`embeddings_unused`.
        The tracks, names and counts are those of :meth:`update` alone (the network gives
        the same descriptors in a batch as alone). The cut detector and the face patches
        run here, once.

        Args:
            frames: consecutive sampled frames, in time order, not yet given to
                :meth:`update`.
            faces: their faces, one :class:`~feelinvideo.faces.Faces` per frame.

        Raises:
            BackendError: dlib or its model files are missing.
            ValueError: ``frames`` and ``faces`` differ in length.
        """
        if len(frames) != len(faces):
            raise ValueError(f"{len(frames)} frames but {len(faces)} Faces")
        self._plan = []
        if len(frames) < 2:
            return  # nothing to batch: update() embeds as it goes
        rehearsal = copy.copy(self)
        rehearsal.tracks = []
        rehearsal._recent = [_sketch(t) for t in self._recent]
        rehearsal.thumbnails = False
        rehearsal.split_distance = rehearsal.strong_split_distance = math.inf
        rehearsal.relink_distance = -math.inf
        plans, wanted = [], []
        for frame, found in zip(frames, faces, strict=True):
            cut = self.cuts is not None and self.cuts.update(frame.image)
            patches = face_patches(frame.image, found.xyxy)
            rows: list[int] = []

            def record(need: list[int], rows=rows) -> tuple[list[None], np.ndarray]:
                rows.extend(need)
                return [None] * len(need), np.zeros((len(need), EMBEDDING_SIZE))

            rehearsal._update(frame, copy.copy(found), cut, patches, record)
            plans.append(_Planned(frame, cut, patches, {}))
            wanted.append(rows)
        asked = [k for k, rows in enumerate(wanted) if rows]
        if asked:
            requests = [(frames[k].image, faces[k].xyxy[wanted[k]]) for k in asked]
            for k, (chips, vectors) in zip(asked, self._batch_encoder(requests), strict=True):
                plans[k].embedded = dict(zip(wanted[k], zip(chips, vectors, strict=True)))
        self._plan = plans

    def _encode_now(self, frame: Frame, faces: Faces):
        """The ``encode(rows)`` of :meth:`_update` without a plan: the encoder on those rows."""

        def encode(rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
            return self._encoder(frame.image, faces.xyxy[rows])

        return encode

    def _update(
        self,
        frame: Frame,
        faces: Faces,
        cut: bool,
        patches: np.ndarray,
        encode: Callable[[list[int]], tuple[Sequence, np.ndarray]],
    ) -> Faces:
        """:meth:`update`'s linking, given the frame's cut flag, its faces' patches and
        ``encode(rows) -> (chips, embeddings (K, 128))`` for the face rows needing one."""
        from scipy.optimize import linear_sum_assignment

        timestamp_s = float(frame.timestamp_s)
        self._sample += 1
        sample, n = self._sample, len(faces)
        self.faces_seen += n
        faces.tracker_id = np.full(n, -1, dtype=np.int64)
        faces.embedding = np.full((n, EMBEDDING_SIZE), np.nan)
        if cut:
            self._recent = []  # a hard cut ends every track
        # Tracks seen lately: those of the previous sampled frame continue by box overlap,
        # those lost for at most relink_s seconds may continue by embedding.
        self._recent = [
            t
            for t in self._recent
            if t.last_sample == sample - 1 or timestamp_s - t.last_s <= self.relink_s + 1e-6
        ]
        if not n:
            return faces
        assigned: dict[int, Track] = {}
        link_iou: dict[int, float] = {}
        weak: set[int] = set()  # geometrically weak links: contested or low overlap
        check: set[int] = set()  # links to verify by embedding
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
                    link_iou[int(r)] = float(iou[r, c])
                    contested = overlaps[r].sum() > 1 or overlaps[:, c].sum() > 1
                    if contested or iou[r, c] < self.weak_iou:
                        weak.add(int(r))
                        check.add(int(r))
        widths = faces.xyxy[:, 2] - faces.xyxy[:, 0]
        for i, track in assigned.items():
            flat = track.patch is None or not patches[i].any()
            corr = 1.0 if flat else float((patches[i] * track.patch).mean())
            if corr < self.min_patch_corr:
                check.add(i)  # the face looks different: check who it is
            small = widths[i] < self.small_face_px
            moved = link_iou[i] < self.moved_iou
            if (small or moved) and corr < self.small_patch_corr:
                check.add(i)  # a small or moved face that may be someone else: split at 0.6
                weak.add(i)
        chips: dict[int, np.ndarray] = {}
        need = [
            i
            for i in range(n)
            if i not in assigned
            or i in check
            or timestamp_s - assigned[i].last_embed_s >= self.interval(assigned[i]) - 1e-6
        ]
        if need:
            got_chips, got = encode(need)
            self.embeddings_computed += len(need)
            faces.embedding[need] = got
            chips = {i: got_chips[k] for k, i in enumerate(need)}
        # A refreshed embedding far from its track's mean means the box now holds someone
        # else (a cut the detector missed, two faces crossing): the face leaves the track.
        for i in need:
            track = assigned.get(i)
            if track is not None and track.emb_count:
                limit = self.split_distance if i in weak else self.strong_split_distance
                if np.linalg.norm(faces.embedding[i] - track.mean_embedding) > limit:
                    del assigned[i]
        # Faces not continued by overlap: re-link to a lately lost track whose mean
        # embedding is within relink_distance (one face per track), else a new track.
        loose = [i for i in range(n) if i not in assigned]
        taken = {id(t) for t in assigned.values()}
        lost = [t for t in self._recent if id(t) not in taken and t.emb_count]
        if loose and lost:
            dist = pairwise_distances(
                faces.embedding[loose], np.array([t.mean_embedding for t in lost])
            )
            rows, cols = linear_sum_assignment(dist)
            for r, c in zip(rows, cols, strict=True):
                if dist[r, c] <= self.relink_distance:
                    assigned[loose[int(r)]] = lost[int(c)]
        for i in range(n):
            track = assigned.get(i)
            if track is None:
                box = faces.xyxy[i]
                track = Track(self.tracks_created, sample, sample, timestamp_s, float(box[0]), box)
                self.tracks_created += 1
                self.tracks.append(track)
                self._recent.append(track)
            track.observe(sample, timestamp_s, faces.xyxy[i])
            track.patch = patches[i] if patches[i].any() else None
            faces.tracker_id[i] = track.tracker_id
            if i in chips:
                track.add_embedding(
                    faces.embedding[i], chips[i] if self.thumbnails else None, timestamp_s
                )
        return faces
