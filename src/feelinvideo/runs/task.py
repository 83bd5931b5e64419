"""The unit of work: a picklable :class:`SegmentTask` and the :class:`SegmentResult` that
:func:`run_segment` makes of it, in any process (this one, a worker, a Ray actor)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..faces import Sample
from ..identity.stage import identity_stage
from ..settings import AnalyzeOptions
from ..specs import BackendSpec, GallerySpec
from ..stream import collect_samples
from ..video import VideoInfo
from .plan import Segment


@dataclass(frozen=True)
class SegmentTask:
    """One unit of work: a segment of a video with everything needed to analyse it.

    Attributes:
        key: the caller's label (e.g. the video's position in a batch), handed back.
        video: the video's path (readable at this path wherever the task runs).
        info: the video's :class:`~feelinvideo.video.VideoInfo` (probed once, by the
            driver).
        segment: the time range.
        options: analysis settings.
        backend: how to build the backend; None: the engine's own backend object (then
            the task runs in the process that holds it).
        gallery: how to open the gallery, or None.
    """

    key: int
    video: str
    info: VideoInfo
    segment: Segment
    options: AnalyzeOptions
    backend: BackendSpec | None
    gallery: GallerySpec | None = None

    def run(self, backend=None, gallery=None, advance=None) -> SegmentResult:
        """:func:`run_segment` of this task (what an engine calls, in any process)."""
        return run_segment(self, backend, gallery, advance)


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
        backend_name, backend_columns, backend_models: the backend's name, ``faces.csv``
            columns and models.
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
    backend_models: str = ""


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
    start = time.perf_counter()
    task.options.check()
    info = task.info
    if backend is None:
        if task.backend is None:
            raise ValueError("a task without a backend spec needs the engine's backend")
        backend = task.backend.build()
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
        backend_columns=tuple(backend.columns), backend_models=getattr(backend, "models", ""),
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
