"""Segments: a long video cut into time ranges analysed independently, then merged.

A video of more than ``--segment`` seconds is cut into ranges ``[k*S, (k+1)*S)``, each
decoded from its own seek point (:func:`feelinvideo.video.iter_frames` with ``start_s`` /
``end_s``, on the whole video's sampling grid, with its ``frame_index``). A
:class:`SegmentTask` is a pure, picklable function of (video, range, options, backend and
gallery spec) -> :class:`SegmentResult` (per sampled frame the faces, with tracker ids
local to the segment; the segment's tracks with their embeddings and thumbnails; the
gallery's votes), so an engine (:mod:`feelinvideo.engines`) can run it in this process, in
worker processes or on a Ray cluster, and a finished one can be kept on disk
(:class:`WorkFolder`) for a rerun after a crash.

:func:`merge_segments` puts the results back together: rows in time order, tracks joined
across each boundary the way :class:`~feelinvideo.identity.tracker.FaceTracker` links
consecutive frames (the last sampled frame of segment k and the first of k+1: no cut
between them, boxes overlapping by IoU and the tracks' mean embeddings within the
tracker's split distance; or a track lost at most ``relink_s`` before the boundary and a
new one within its relink distance), emotion smoothing over the joined tracks; then
:func:`feelinvideo.pipeline.finish_analysis` resolves who is who over the whole video
(gallery votes, unknown-N clustering) exactly as for a video analysed in one piece.
:func:`run_videos` drives it all: plan, reuse finished segments, run the rest on an
engine, merge, save.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import FeelinvideoError
from .faces import Sample
from .pipeline import (
    AnalyzeOptions,
    batch_limit,
    batch_span_s,
    collect_samples,
    finish_analysis,
    identity_stage,
)
from .schema import DEFAULT_SEGMENT_S, WORK_DIR

#: A last piece shorter than this fraction of a segment is added to the one before.
MIN_LAST_FRACTION = 0.1
#: Bump when a SegmentResult's content changes, so older work is not reused.
WORK_FORMAT = 1


@dataclass(frozen=True)
class Segment:
    """A time range of a video: ``[start_s, end_s)`` seconds of video time, ``end_s`` None
    for the last (to the end, whatever the container states); ``index`` 0-based."""

    index: int
    start_s: float
    end_s: float | None

    @property
    def name(self) -> str:
        return f"segment-{self.index:05d}"


def plan_segments(
    video: str | os.PathLike, duration_s: float, segment_s: float, span_s: float = 0.0
) -> list[Segment]:
    """The segments of a video of ``duration_s`` seconds.

    ``segment_s`` is rounded to a whole number of backend batches (``span_s`` seconds,
    :func:`feelinvideo.pipeline.batch_span_s`: 32 s at one frame a second) so the batches,
    and so the results, are those of a one-piece run. One piece when ``segment_s`` is 0,
    the video is not longer than one segment, or it cannot be decoded in ranges with the
    same frames (:func:`feelinvideo.video.seekable`: joined files, elementary streams).
    A last piece under :data:`MIN_LAST_FRACTION` of a segment joins the one before.

    Raises:
        VideoError: the video cannot be opened.
    """
    from .video import seekable

    if segment_s > 0 and span_s > 0:
        segment_s = max(1, round(segment_s / span_s)) * span_s
    if segment_s <= 0 or duration_s <= segment_s * (1 + MIN_LAST_FRACTION):
        return [Segment(0, 0.0, None)]
    if not seekable(video):
        return [Segment(0, 0.0, None)]
    count = max(1, math.ceil(duration_s / segment_s - MIN_LAST_FRACTION))
    return [
        Segment(k, k * segment_s, (k + 1) * segment_s if k < count - 1 else None)
        for k in range(count)
    ]


@dataclass(frozen=True)
class BackendSpec:
    """How to build a backend in any process: ``kind`` ``local`` (``min_face_px``,
    ``detector``) or ``rekognition`` (``region``, ``profile``); ``batch_size``: frames per
    call (None: the backend's default)."""

    kind: str = "local"
    min_face_px: float = 40.0
    detector: str = "mtcnn"
    region: str | None = None
    profile: str | None = None
    batch_size: int | None = None

    @property
    def batch_frames(self) -> int:
        """Frames per backend call (the local backend's 32 by default; 1 for Rekognition,
        whose results do not depend on the batch)."""
        return self.batch_size or (32 if self.kind == "local" else 1)

    def build(self):
        """The :class:`~feelinvideo.backends.base.Backend` (models load on first use)."""
        if self.kind == "rekognition":
            from .backends.rekognition import RekognitionBackend

            return RekognitionBackend(
                region=self.region, profile=self.profile, batch_size=self.batch_size
            )
        from .backends.local import LocalBackend

        return LocalBackend(
            min_face_px=self.min_face_px, detector=self.detector, batch_size=self.batch_frames
        )


@dataclass(frozen=True)
class GallerySpec:
    """How to open a gallery in any process: a local gallery file ``path``, or a
    Rekognition ``collection`` (``region``, ``profile``, ``face_match_threshold``)."""

    path: str | None = None
    collection: str | None = None
    region: str | None = None
    profile: str | None = None
    face_match_threshold: float | None = None

    def open(self):
        """The open :class:`~feelinvideo.identity.gallery.Gallery` (close it after use).

        Raises:
            GalleryError: it cannot be opened.
        """
        from .identity.gallery import open_gallery

        if self.collection is not None:
            return open_gallery(
                collection=self.collection,
                region=self.region,
                profile=self.profile,
                face_match_threshold=self.face_match_threshold,
            )
        return open_gallery(self.path)

    def state(self) -> dict:
        """What identifies its content for a fingerprint (a local file's size and mtime)."""
        out = asdict(self)
        if self.path is not None and Path(self.path).exists():
            st = Path(self.path).stat()
            out["file"] = [st.st_size, st.st_mtime_ns]
        return out


@dataclass(frozen=True)
class SegmentTask:
    """One unit of work: a segment of a video with everything needed to analyse it.

    Attributes:
        key: the caller's label (e.g. the video's position in a batch), handed back.
        video: the video's path (readable at this path wherever the task runs).
        segment: the time range.
        options: analysis settings.
        backend: how to build the backend.
        gallery: how to open the gallery, or None.
    """

    key: int
    video: str
    segment: Segment
    options: AnalyzeOptions
    backend: BackendSpec
    gallery: GallerySpec | None = None


@dataclass
class SegmentResult:
    """What a segment's analysis found; picklable, saved in the work folder.

    Attributes:
        segment: the range analysed.
        samples: one :class:`~feelinvideo.faces.Sample` per sampled frame in the range, in
            time order; ``tracker_id`` local to the segment (0-based).
        tracks: the segment's :class:`~feelinvideo.identity.tracker.Track` list (sampled
            frame counters local), empty without identity.
        votes: the gallery's votes, ``{tracker_id: (looked at, {name: distances})}``.
        faces_seen, embeddings_computed, cuts: the tracker's counts.
        first_signature, last_signature: cut signatures of the first and last sampled
            frames (:class:`~feelinvideo.identity.cuts.CutDetector`), or None.
        notes: warnings about the input.
        seconds: wall time the analysis took.
        backend_name, backend_columns: the backend's name and ``faces.csv`` columns.
    """

    segment: Segment
    samples: list[Sample]
    tracks: list = field(default_factory=list)
    votes: dict = field(default_factory=dict)
    faces_seen: int = 0
    embeddings_computed: int = 0
    cuts: int = 0
    first_signature: tuple | None = None
    last_signature: tuple | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    backend_name: str = ""
    backend_columns: tuple[str, ...] = ()


def run_segment(
    task: SegmentTask,
    backend=None,
    gallery=None,
    advance: Callable[[float], None] | None = None,
) -> SegmentResult:
    """Analyse one segment (a pure function of the task; writes nothing).

    Args:
        task: the segment and its settings.
        backend: a ready backend (default: built from ``task.backend``).
        gallery: an open gallery (default: opened from ``task.gallery``, closed after).
        advance: called with each sampled frame's video time.

    Raises:
        VideoError, BackendError, GalleryError; OptionError for options out of range.
    """
    from .video import probe

    start = time.perf_counter()
    task.options.check()
    info = probe(task.video)
    backend = backend if backend is not None else task.backend.build()
    opened = None
    if gallery is None and task.gallery is not None and task.options.identity:
        gallery = opened = task.gallery.open()
    try:
        stage = identity_stage(gallery, task.options)
        notes: list[str] = []
        seg = task.segment
        samples = collect_samples(
            Path(task.video), info, backend, task.options, stage, notes, advance,
            seg.start_s, seg.end_s,
        )  # fmt: skip
    finally:
        if opened is not None:
            opened.close()
    result = SegmentResult(
        task.segment, samples, notes=notes, backend_name=backend.name,
        backend_columns=tuple(backend.columns),
    )  # fmt: skip
    if stage is not None:
        tracker = stage.tracker
        result.tracks = tracker.tracks
        result.votes = stage.naming.votes()
        result.faces_seen = tracker.faces_seen
        result.embeddings_computed = tracker.embeddings_computed
        if tracker.cuts is not None:
            result.cuts = tracker.cuts.cuts
            result.first_signature, result.last_signature = tracker.cuts.first, tracker.cuts.last
    result.seconds = round(time.perf_counter() - start, 3)
    return result


# ---------------------------------------------------------------------------- merge


def merge_segments(results: list[SegmentResult], gallery, options: AnalyzeOptions):
    """Join segment results into one video's samples and identity stage.

    Args:
        results: every segment's result (any order; sorted by segment index here).
        gallery: the open gallery the names come from (for the stage), or None.
        options: the analysis settings.

    Returns:
        ``(samples, stage, notes)``: time-ordered samples with global ``tracker_id`` and
        ``smoothed_scores``, the :class:`~feelinvideo.identity.IdentityStage` holding the
        joined tracks and votes (None without identity), the input warnings.
    """
    from .smoothing import EmotionSmoother

    results = sorted(results, key=lambda r: r.segment.index)
    stage = identity_stage(gallery, options)
    samples: list[Sample] = []
    notes: list[str] = []
    previous: SegmentResult | None = None
    for result in results:
        notes += [n for n in result.notes if n not in notes]
        offset = len(samples)
        if stage is not None:
            _merge_identity(stage, previous, result, offset)
        samples += result.samples
        previous = result
    if stage is not None:
        smoother = EmotionSmoother(options.smooth_s)
        for sample in samples:
            smoother.update(sample.timestamp_s, sample.faces)
    return samples, stage, notes


def _merge_identity(stage, previous: SegmentResult | None, result: SegmentResult, offset: int):
    """Add ``result``'s tracks and votes to ``stage`` (global ids, sample counters shifted by
    ``offset``), joining those that continue a track of ``previous`` across the boundary;
    rewrite its samples' ``tracker_id`` to the global ids."""
    tracker = stage.tracker
    tracker.faces_seen += result.faces_seen
    tracker.embeddings_computed += result.embeddings_computed
    if tracker.cuts is not None:
        tracker.cuts.cuts += result.cuts
    local_ids = [t.tracker_id for t in result.tracks]
    for track in result.tracks:
        track.first_sample += offset
        track.last_sample += offset
        track.segments = [[a + offset, b + offset] for a, b in track.segments]
    joins = _boundary_links(tracker, previous, result, offset) if previous is not None else {}
    mapping: dict[int, int] = {}
    for local, track in zip(local_ids, result.tracks, strict=True):
        if local in joins:
            target = joins[local]
            target.absorb(track)
            mapping[local] = target.tracker_id
        else:
            track.tracker_id = len(tracker.tracks)
            tracker.tracks.append(track)
            mapping[local] = track.tracker_id
    for local, (checked, votes) in result.votes.items():
        stage.naming.add_votes(mapping[int(local)], checked, votes)
    if mapping:
        lookup = np.full(max(mapping) + 1, -1, np.int64)
        for local, global_id in mapping.items():
            lookup[local] = global_id
        for sample in result.samples:
            ids = sample.faces.tracker_id
            sample.faces.tracker_id = np.where(ids >= 0, lookup[np.clip(ids, 0, None)], ids)


def _boundary_links(tracker, previous: SegmentResult, result: SegmentResult, offset: int):
    """``{local tracker_id of result: global Track}`` for the tracks of ``result`` that
    continue a track of the video so far, by the tracker's own rules (module docstring)."""
    from scipy.optimize import linear_sum_assignment

    from .faces import box_iou
    from .models.dlib import pairwise_distances

    if not result.samples or not result.tracks or not previous.samples:
        return {}
    cuts = tracker.cuts
    if cuts is not None and previous.last_signature is not None:
        if result.first_signature is not None and cuts.is_cut(
            previous.last_signature, result.first_signature
        ):
            cuts.cuts += 1
            return {}
    first = result.samples[0]
    t0 = first.timestamp_s
    by_id = {t.tracker_id: t for t in result.tracks}
    joins: dict[int, object] = {}
    # 1. faces of the first sampled frame continue tracks of the last one by box overlap
    ongoing = [t for t in tracker.tracks if t.last_sample == offset - 1 and t.emb_count]
    starts = [int(i) for i in first.faces.tracker_id if int(i) in by_id]
    if ongoing and starts:
        boxes = np.array([first.faces.xyxy[list(first.faces.tracker_id).index(i)] for i in starts])
        iou = np.maximum(
            box_iou(boxes, np.array([t.box for t in ongoing])),
            box_iou(boxes, np.array([t.predicted_box(t0) for t in ongoing])),
        )
        overlaps = iou >= tracker.iou_threshold
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols, strict=True):
            if not overlaps[r, c]:
                continue
            late, early = by_id[starts[r]], ongoing[c]
            weak = overlaps[r].sum() > 1 or overlaps[:, c].sum() > 1 or iou[r, c] < tracker.weak_iou
            limit = tracker.split_distance if weak else tracker.strong_split_distance
            if late.emb_count and _distance(late, early) <= limit:
                joins[starts[r]] = early
    # 2. a track starting within relink_s of a track lost before the boundary, by embedding
    taken = {id(t) for t in joins.values()}
    lost = [
        t
        for t in tracker.tracks
        if id(t) not in taken and t.emb_count and t0 - t.last_s <= tracker.relink_s + 1e-6
    ]
    loose = [
        t
        for t in result.tracks
        if t.tracker_id not in joins
        and t.emb_count
        and _first_time(result, t.tracker_id) - t0 <= tracker.relink_s + 1e-6
    ]
    if lost and loose:
        dist = pairwise_distances(
            np.array([t.mean_embedding for t in loose]), np.array([t.mean_embedding for t in lost])
        )
        rows, cols = linear_sum_assignment(dist)
        for r, c in zip(rows, cols, strict=True):
            if dist[r, c] <= tracker.relink_distance:
                joins[loose[r].tracker_id] = lost[c]
    return joins


def _distance(a, b) -> float:
    return float(np.linalg.norm(a.mean_embedding - b.mean_embedding))


def _first_time(result: SegmentResult, tracker_id: int) -> float:
    for sample in result.samples:
        if (sample.faces.tracker_id == tracker_id).any():
            return sample.timestamp_s
    return math.inf


# ---------------------------------------------------------------------------- work folder


def fingerprint(
    video: str | os.PathLike,
    options: AnalyzeOptions,
    backend: BackendSpec,
    gallery: GallerySpec | None,
    segment_s: float,
) -> str:
    """A hex digest of what a segment's result depends on: the input file (size, mtime,
    SHA-256 of its first and last MiB) and the settings that change results (sampling,
    identity settings, backend, gallery, segment length); not the summary window,
    smoothing, --min-frames or the overlay, which apply after the merge."""
    from . import __version__

    path = Path(video)
    st = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(1 << 20))
        if st.st_size > 1 << 20:
            f.seek(max(st.st_size - (1 << 20), 1 << 20))
            digest.update(f.read(1 << 20))
    state = {
        "format": WORK_FORMAT,
        "version": __version__,
        "file": [st.st_size, st.st_mtime_ns, digest.hexdigest()],
        "options": {
            k: getattr(options, k)
            for k in ("every_s", "identity", "tolerance", "thumbnails", "reembed_every_s")
        },
        "backend": asdict(backend),
        "gallery": gallery.state() if gallery is not None and options.identity else None,
        "segment_s": segment_s,
    }
    text = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class WorkFolder:
    """Finished segments of one video kept on disk: ``<path>/fingerprint.json`` and one
    pickle per segment, each written atomically (a crash never leaves half a segment).

    Args:
        path: the folder (e.g. ``OUT/.feelinvideo-work``).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def open(self, fingerprint: str, force: bool = False) -> WorkFolder:
        """Create the folder, or keep it when it holds work for the same ``fingerprint``;
        otherwise (or with ``force``) empty it first.

        Raises:
            OutputError: it cannot be created or written.
        """
        from .atomic import prepare_dir, write_json

        stamp = self.path / "fingerprint.json"
        if self.path.exists():
            try:
                same = json.loads(stamp.read_text()).get("fingerprint") == fingerprint
            except (OSError, ValueError):
                same = False
            if force or not same:
                shutil.rmtree(self.path, ignore_errors=True)
        prepare_dir(self.path)
        if not stamp.exists():
            write_json(stamp, {"fingerprint": fingerprint})
        return self

    def load(self, segment: Segment) -> SegmentResult | None:
        """The saved result of ``segment``, or None (absent or unreadable)."""
        path = self.path / f"{segment.name}.pkl"
        try:
            with open(path, "rb") as f:
                result = pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None
        return result if isinstance(result, SegmentResult) else None

    def save(self, result: SegmentResult) -> None:
        """Keep ``result`` (atomically).

        Raises:
            OutputError: it cannot be written.
        """
        from .atomic import atomic_path

        with atomic_path(self.path / f"{result.segment.name}.pkl") as tmp:
            with open(tmp, "wb") as f:
                pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)

    def mark_finished(self) -> None:
        """Record that the video's outputs were saved (a rerun of the batch reuses them)."""
        from .atomic import write_json

        write_json(self.path / "finished.json", {"finished": True})

    def finished(self, out: Path):
        """The saved run (an object with ``summary``, ``out_dir``, ``segments = 0``) when
        :meth:`mark_finished` was called for this fingerprint and ``out`` still holds its
        summary.json; else None."""
        from types import SimpleNamespace

        from .schema import SUMMARY_JSON

        if not (self.path / "finished.json").exists():
            return None
        try:
            summary = json.loads((out / SUMMARY_JSON).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return SimpleNamespace(
            summary=summary, out_dir=out, segments=0, segments_computed=0, seconds=0.0
        )

    def remove(self) -> None:
        """Delete the folder, and its parent when that is an emptied work folder."""
        shutil.rmtree(self.path, ignore_errors=True)
        parent = self.path.parent
        if parent.name == WORK_DIR and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


# ---------------------------------------------------------------------------- runs


@dataclass
class VideoRun:
    """One video of :func:`run_videos`: ``video``, its run folder ``out`` and its
    ``work`` folder."""

    video: Path
    out: Path
    work: Path


@dataclass
class _State:
    run: VideoRun
    info: object
    segments: list[Segment]
    work: WorkFolder
    done: dict[int, SegmentResult]
    computed: int = 0
    failed: bool = False


def run_videos(
    runs: list[VideoRun],
    engine,
    options: AnalyzeOptions,
    backend: BackendSpec,
    gallery: GallerySpec | None = None,
    segment_s: float = DEFAULT_SEGMENT_S,
    force: bool = False,
    keep_work: bool = False,
    open_gallery=None,
    advance: Callable[[int, float], None] | None = None,
    progress: bool = False,
) -> Iterator[tuple[int, object]]:
    """Analyse videos segment by segment on ``engine``; save each one's outputs when its
    last segment is done.

    Finished segments are kept in each run's work folder (with a :func:`fingerprint`) and
    reused by a rerun of the same command; ``force`` recomputes them. A video's outputs
    appear (all at once, :func:`feelinvideo.atomic.staged_folder`) only when all its
    segments are done; its work folder is then removed unless ``keep_work``.

    Args:
        runs: the videos, their run folders and work folders.
        engine: :class:`feelinvideo.engines.local.LocalEngine` or
            :class:`feelinvideo.engines.ray.RayEngine`.
        options, backend, gallery, segment_s: the settings (see :class:`SegmentTask`).
        force: recompute finished segments.
        keep_work: keep the work folders.
        open_gallery: the gallery open in this process, for the merge (names come from
            the segments' votes; the gallery gives the summary its location), or None.
        advance: ``advance(k, seconds)``: seconds of video ``k`` analysed so far.
        progress: show a bar while each overlay is rendered.

    Yields:
        ``(k, Analysis)`` for each video saved, ``(k, error)`` (a FeelinvideoError or
        ValueError) for each that failed, in the order they finish; each
        :class:`~feelinvideo.pipeline.Analysis` has ``segments`` and ``segments_computed``
        attributes added (how many there were, how many were computed in this run).
    """
    from .atomic import prepare_dir
    from .video import probe

    states: dict[int, _State] = {}
    tasks: list[SegmentTask] = []
    for k, run in enumerate(runs):
        try:
            info = probe(run.video)
            options.check(info.duration_s)
            limit = batch_limit(backend.batch_frames, info, options.every_s)
            span = batch_span_s(limit, options.every_s, info.fps)
            segments = plan_segments(run.video, info.duration_s, segment_s, span)
            prepare_dir(run.out)  # the outputs' folder first: its errors name it
            work = WorkFolder(run.work).open(
                fingerprint(run.video, options, backend, gallery, segment_s), force
            )
        except (FeelinvideoError, ValueError) as exc:
            yield k, exc
            continue
        reused = work.finished(run.out)
        if reused is not None:
            yield k, reused
            continue
        done = {s.index: r for s in segments if (r := work.load(s)) is not None}
        states[k] = _State(run, info, segments, work, done)
        tasks += [
            SegmentTask(k, str(run.video), s, options, backend, gallery)
            for s in segments
            if s.index not in done
        ]
        if advance is not None:
            advance(k, _seconds_done(states[k]))
        if len(done) == len(segments):
            yield k, _finish(states[k], options, open_gallery, keep_work, progress)

    def on_time(task: SegmentTask, t: float) -> None:
        if advance is not None:
            state = states[task.key]
            advance(task.key, _seconds_done(state) + max(0.0, t - task.segment.start_s))

    for task, outcome in engine.run(tasks, on_time=on_time):
        state = states[task.key]
        if state.failed:
            continue
        if isinstance(outcome, BaseException):
            state.failed = True
            state.work.remove()
            if state.run.out.is_dir() and not any(state.run.out.iterdir()):
                state.run.out.rmdir()  # made for this run, nothing in it
            yield task.key, outcome
            continue
        try:
            state.work.save(outcome)
        except FeelinvideoError as exc:
            state.failed = True
            yield task.key, exc
            continue
        state.done[task.segment.index] = outcome
        state.computed += 1
        if advance is not None:
            advance(task.key, _seconds_done(state))
        if len(state.done) == len(state.segments):
            try:
                yield task.key, _finish(state, options, open_gallery, keep_work, progress)
            except (FeelinvideoError, ValueError) as exc:
                yield task.key, exc


def _seconds_done(state: _State) -> float:
    """Seconds of video covered by the finished segments."""
    total = 0.0
    for s in state.segments:
        if s.index in state.done:
            end = state.info.duration_s if s.end_s is None else s.end_s
            total += max(0.0, end - s.start_s)
    return total


def _finish(state: _State, options, gallery, keep_work: bool, progress: bool):
    """Merge a video's segments, resolve identities, save the outputs, drop the work."""
    start = time.perf_counter()
    results = [state.done[s.index] for s in state.segments]
    samples, stage, notes = merge_segments(results, gallery, options)
    first = results[0]
    analysis = finish_analysis(
        state.run.video, state.info, first.backend_name, first.backend_columns,
        options, samples, stage, notes,
    )  # fmt: skip
    analysis.save(state.run.out, progress=progress)
    if keep_work:
        state.work.mark_finished()
    else:
        state.work.remove()
    analysis.segments = len(state.segments)
    analysis.segments_computed = state.computed
    analysis.seconds = sum(r.seconds for r in results) + time.perf_counter() - start
    return analysis
