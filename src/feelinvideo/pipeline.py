"""The analyze pipeline: decode -> sample -> backend (faces, emotions) -> identity -> results.

:func:`analyze_frames` yields ``(frame, Faces)`` per sampled frame and writes nothing; it
is the one pipeline that files, segments and streams reuse. :func:`analyze` runs it over a
whole video and returns an :class:`Analysis` (the ``faces.csv`` table, the summary, the
people); files are written only by :meth:`Analysis.save` (or ``analyze(..., out=DIR)``).

Streaming: three stages overlap, each on its own thread and at most one batch ahead of the
next (:func:`feelinvideo.video.run_ahead`): decoding, the backend's models, and identity
(tracks, embeddings, names) in time order. Frames go to the backend in batches of
``backend.batch_size`` sampled frames (capped at :data:`BATCH_BYTES` of decoded pixels), so
peak memory depends on the batch and the frame size, not on the video's length. Only the
per-face numbers are kept (tens of bytes a face).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .backends.base import Backend
from .faces import Faces, Sample
from .identity import IdentityStage
from .identity.gallery import Gallery
from .identity.naming import name_faces
from .options import AnalyzeOptions
from .prefetch import run_ahead
from .progress import advance_to, progress_bar
from .smoothing import EmotionSmoother
from .video import Frame, VideoInfo, estimate_sampled_frames, iter_frames, probe

#: upper bound on the decoded RGB frames held for one backend call, in bytes: 9 frames at
#: 1280x720. Three batches are held at once (decoded, scored, being tracked); the models
#: keep their own buffers per image or per bounded call, so peak memory follows this, not
#: the video's length. The detectors' speed barely depends on it.
BATCH_BYTES = 25_000_000
#: nice value added to the decoding thread (:func:`feelinvideo.prefetch.lower_priority`)
DECODE_NICENESS = 10
#: a video of few sampled frames is still analysed in at least this many backend calls, so
#: that its progress bar moves; a video of 1 minute at 1 sample a second (60 samples) gets
#: full batches at 720p, so its peak memory is that of any longer video
PROGRESS_STEPS = 6
#: share of the progress a callable ``progress`` gets for the analysis when the overlay is
#: rendered too (the rest follows the rendering)
ANALYSIS_SHARE = 0.5


def analyze_frames(
    video: str | os.PathLike,
    backend: Backend | None = None,
    options: AnalyzeOptions | None = None,
    identity: IdentityStage | None = None,
    notes: list[str] | None = None,
) -> Iterator[tuple[Frame, Faces]]:
    """Analyse a video's sampled frames one by one; writes nothing.

    Args:
        video: the video (any container/codec FFmpeg decodes).
        backend: face/emotion backend (default :class:`feelinvideo.backends.local.
            LocalBackend`).
        options: sampling settings (``every_s``; with ``identity`` True and no
            ``identity`` stage given, an :class:`IdentityStage` without a gallery is used).
        identity: the identity stage to run (tracks and names); pass one to read its
            tracks afterwards or to name faces from a gallery.
        notes: gets one line per warning about the input (frames stopping well before
            the stated duration), once the frames are exhausted.

    Yields:
        ``(frame, faces)`` per sampled frame in time order: the
        :class:`~feelinvideo.video.Frame` (``frame_index``, ``timestamp_s``, RGB
        ``image``) and its :class:`~feelinvideo.faces.Faces` (boxes, confidences, scores;
        with identity, ``tracker_id``, ``smoothed_scores`` and the provisional
        ``person``: enrolled names as far as known, ``""`` for the not yet named, who are
        numbered by :func:`analyze`).

    Raises:
        VideoError: missing, empty, non-video, corrupt or truncated input.
        BackendError: the backend failed.
        ValueError: options out of range.
    """
    options = options or AnalyzeOptions()
    options.check()
    if identity is None:
        identity = identity_stage(None, options)
    yield from _frames(video, probe(video), _or_default(backend), options, identity, notes)


def analyze_stream(
    frames: Iterable[Frame],
    backend: Backend | None = None,
    options: AnalyzeOptions | None = None,
    identity: IdentityStage | None = None,
    batch_size: int = 1,
) -> Iterator[tuple[Frame, Faces]]:
    """:func:`analyze_frames` for frames that come from elsewhere: a live camera or stream
    (:mod:`feelinvideo.watch`), already sampled, in time order. The same stages (backend,
    identity, smoothing); ``options.every_s`` is not applied (the frames are the samples).

    Args:
        frames: :class:`~feelinvideo.video.Frame` objects (``timestamp_s`` non-decreasing).
        backend, options, identity: as for :func:`analyze_frames`.
        batch_size: frames per backend call (>= 1); 1 keeps a live source's latency low.

    Yields:
        ``(frame, faces)`` per frame, as :func:`analyze_frames`.
    """
    options = options or AnalyzeOptions()
    options.check()
    if identity is None:
        identity = identity_stage(None, options)
    backend = _or_default(backend)
    yield from _frames(
        None,
        None,
        backend,
        options,
        identity,
        None,
        frames=iter(frames),
        limit=max(1, int(batch_size)),
    )


def _or_default(backend: Backend | None) -> Backend:
    """``backend``, or the local MTCNN + fer backend when None."""
    if backend is not None:
        return backend
    from .backends.local import LocalBackend

    return LocalBackend()


def _frames(
    video,
    info: VideoInfo | None,
    backend: Backend,
    options: AnalyzeOptions,
    identity: IdentityStage | None,
    notes: list[str] | None,
    start_s: float = 0.0,
    end_s: float | None = None,
    frames: Iterator[Frame] | None = None,
    limit: int | None = None,
) -> Iterator[tuple[Frame, Faces]]:
    """:func:`analyze_frames` for a video already probed (``info``), optionally over the
    time range ``[start_s, end_s)`` only (a segment, :mod:`feelinvideo.segments`); or, with
    ``frames`` and ``limit``, for frames from elsewhere (a live source,
    :func:`analyze_stream`)."""
    span = None
    if frames is None:
        limit = batch_limit(backend.batch_size, info, options.every_s)
        span = batch_span_s(limit, options.every_s, info.fps)
        sampled = iter_frames(video, options.every_s, notes, start_s=start_s, end_s=end_s)
        frames = run_ahead(sampled, limit, niceness=DECODE_NICENESS)
    smoother = EmotionSmoother(options.smooth_s) if identity is not None else None
    # three stages on their own threads, each at most one batch ahead of the next: decoding,
    # the backend's models (OpenCV's networks or the service), and here, in time order, identity
    results = _backend_results(frames, backend, limit, span)
    with _opencv_threads(identity is not None):
        for frame, faces in run_ahead(results, limit):
            if identity is not None:
                faces = smoother.update(frame.timestamp_s, identity.update(frame, faces))
            yield frame, faces


@contextmanager
def _opencv_threads(identity: bool):
    """OpenCV's own worker threads (its dnn networks, resizing) during an analysis: the
    cores left once decoding and identity (dlib's child process) have theirs, at least one.
    The stages already overlap on threads; on 2 cores OpenCV's extra thread only added
    synchronisation (2-minute mosaic, alternating runs: 21.4-23.3 s on one thread against
    23.2-25.3 s on two, and 6% fewer CPU-seconds). The previous count is restored after."""
    import cv2

    from .engines import default_jobs

    before = cv2.getNumThreads()  # a worker's share when the engine set one
    cv2.setNumThreads(min(before, max(1, default_jobs() - 1 - int(identity))))
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _backend_results(
    frames: Iterator[Frame], backend: Backend, limit: int, span_s: float | None = None
) -> Iterator[tuple[Frame, Faces]]:
    """``(frame, faces)`` from the backend, one batch of up to ``limit`` frames a call;
    ``frames`` is closed when this ends (an interrupt stops the decoding thread).

    With ``span_s``, a batch holds the sampled frames of one block
    ``[j * span_s, (j + 1) * span_s)`` of video time (at most ``limit`` of them), so the
    batches, and with them the results, are the same whether the video is analysed in one
    piece or in segments cut at multiples of ``span_s``: MTCNN's batched network calls may
    give results that differ slightly with the batch's make-up (a box a pixel off, then a
    different face crop).
    """
    batch: list[Frame] = []
    block = None
    try:
        for frame in frames:
            here = None if span_s is None else math.floor((frame.timestamp_s + 1e-6) / span_s)
            if batch and (here != block or len(batch) >= limit):
                yield from zip(batch, backend.analyze([f.image for f in batch]), strict=True)
                batch = []
            block = here
            batch.append(frame)
        if batch:
            yield from zip(batch, backend.analyze([f.image for f in batch]), strict=True)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


def batch_limit(batch_size: int, info: VideoInfo, every_s: float) -> int:
    """Frames per backend call: the backend's ``batch_size``, capped so one batch of decoded
    RGB frames stays under :data:`BATCH_BYTES` (32 frames at 640x360, 4 at 1920x1080), and
    so a short video still takes :data:`PROGRESS_STEPS` calls (the progress bar follows
    finished batches). Depends on the whole video only, so segments batch alike."""
    limit = min(int(batch_size), BATCH_BYTES // max(1, info.width * info.height * 3))
    expected = estimate_sampled_frames(info.duration_s, info.fps, info.frame_count, every_s)
    return max(1, min(limit, math.ceil(expected / PROGRESS_STEPS)))


def batch_span_s(limit: int, every_s: float, fps: float) -> float:
    """Seconds of video one backend batch of ``limit`` sampled frames covers: ``limit``
    sampling intervals, or ``limit`` frames at ``fps`` when every frame is analysed."""
    return limit * every_s if every_s > 0 else limit / (fps if fps > 0 else 25.0)


@dataclass
class Analysis:
    """The result of :func:`analyze`: tables and summary in memory, files only on :meth:`save`.

    Attributes:
        video: the analysed video; info: its :class:`~feelinvideo.video.VideoInfo`.
        options: the settings used; backend: the backend's name.
        faces: the ``faces.csv`` table (one row per face per sampled frame).
        summary: the ``summary.json`` dict (``outputs`` is added by :meth:`save`).
        people: per person, as in ``summary["people"]`` (empty without identity).
        people_json: the ``people.json`` dict, or None without identity.
        samples: one :class:`~feelinvideo.faces.Sample` per sampled frame (the overlay
            draws them).
        thumbnails: face thumbnails per person (RGB uint8 (72, 72, 3)), or None.
        out_dir: the folder saved into, None until saved; files: output key -> path.
    """

    video: Path
    info: VideoInfo
    options: AnalyzeOptions
    backend: str
    faces: pd.DataFrame
    summary: dict
    people: list[dict]
    people_json: dict | None
    samples: list[Sample]
    thumbnails: dict | None = None
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def save(
        self,
        out_dir: str | os.PathLike | None = None,
        progress: bool | Callable[[float], None] = False,
    ) -> dict:
        """Write the run's files into ``out_dir`` (default ``<video stem>_feelinvideo/``):
        ``faces.csv``, ``summary.json``, with identity ``people.json`` and ``people.png``,
        and ``overlay.mp4`` unless ``options.write_video`` is False. See
        :func:`feelinvideo.outputs.save.save_analysis`.

        Returns:
            output key -> path of each file written.

        Raises:
            OutputError: the folder cannot be written, or would overwrite the input video.
            VideoError: the video cannot be decoded again for the overlay.
        """
        from .outputs.save import save_analysis

        return save_analysis(self, out_dir, progress=progress)

    def describe(self) -> str:
        """A short human summary for stdout (see :func:`feelinvideo.outputs.summary.describe`)."""
        from .outputs.summary import describe

        return describe(self.summary, self.out_dir)


def analyze(
    video: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    backend: Backend | None = None,
    gallery: Gallery | str | os.PathLike | None = None,
    options: AnalyzeOptions | None = None,
    progress: bool | Callable[[float], None] = False,
) -> Analysis:
    """Analyse a whole video: faces, emotions and (by default) who is who.

    Args:
        video: the video (any container/codec FFmpeg decodes).
        out: when given, save every output file into this folder (see
            :meth:`Analysis.save`); by default nothing is written.
        backend: face/emotion backend (default local MTCNN + fer).
        gallery: a :class:`~feelinvideo.identity.gallery.Gallery` or a local gallery file
            whose enrolled names faces may take; None: everyone is ``unknown-N``.
        options: settings (:class:`AnalyzeOptions`).
        progress: True: show tqdm progress bars on stderr (analysing: sampled frames
            analysed; rendering: frames written); a function: called with the seconds of
            video done so far, 0 to the video's duration, never going back (a batch's bar):
            with ``out`` and ``write_video``, the analysis moves it to half the duration and
            the overlay's frames written the other half.

    Returns:
        an :class:`Analysis`: ``.faces`` (DataFrame), ``.summary`` (dict), ``.people``.

    Raises:
        VideoError, BackendError, GalleryError, OutputError; ValueError for options out of
        range.

    Example:
        >>> import feelinvideo
        >>> a = feelinvideo.analyze("lecture.mp4")            # doctest: +SKIP
        >>> a.faces.groupby("person")["happy"].mean()          # doctest: +SKIP
    """
    options = options or AnalyzeOptions()
    options.check()
    info = probe(video)
    options.check(info.duration_s)
    opened = None
    if not options.identity:
        gallery = None
    elif gallery is not None and not isinstance(gallery, Gallery):
        from .identity.gallery import open_gallery

        gallery = opened = open_gallery(gallery)
    report = progress if callable(progress) else None
    share = ANALYSIS_SHARE if out is not None and options.write_video else 1.0
    if report is not None:
        progress = lambda t: report(t * share)  # noqa: E731
    try:
        analysis = _analyze(Path(video), info, backend, gallery, options, progress)
    finally:
        if opened is not None:
            opened.close()
    if out is not None:
        if report is not None:
            base = info.duration_s * share
            progress = lambda t: report(base + t * (1 - share))  # noqa: E731
        analysis.save(out, progress=progress)
    return analysis


def _analyze(video, info, backend, gallery, options, progress) -> Analysis:
    backend = _or_default(backend)
    stage = identity_stage(gallery, options)
    notes: list[str] = []
    report = progress if callable(progress) else None
    with progress_bar(info.duration_s, "analysing", progress is True) as bar:

        def advance(t: float) -> None:
            advance_to(bar, t)
            if report is not None:
                report(t)

        samples = collect_samples(video, info, backend, options, stage, notes, advance)
        advance_to(bar, bar.total)
    columns = tuple(backend.columns)
    return finish_analysis(
        video, info, backend.name, columns, options, samples, stage, notes,
        models=getattr(backend, "models", ""),
    )  # fmt: skip


def identity_stage(gallery: Gallery | None, options: AnalyzeOptions) -> IdentityStage | None:
    """The :class:`IdentityStage` the options ask for (None without identity)."""
    if not options.identity:
        return None
    return IdentityStage(gallery, options.tolerance, options.thumbnails, options.reembed_every_s)


def collect_samples(
    video,
    info: VideoInfo,
    backend: Backend,
    options: AnalyzeOptions,
    stage: IdentityStage | None,
    notes: list[str],
    advance: Callable[[float], None] | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> list[Sample]:
    """The analysis of a video's sampled frames (or of the range ``[start_s, end_s)``):
    one :class:`~feelinvideo.faces.Sample` per sampled frame, faces without their pixels
    or embeddings (those stay per track in ``stage``); ``advance(timestamp_s)`` after each.

    Raises:
        as :func:`analyze_frames`.
    """
    samples: list[Sample] = []
    for frame, faces in _frames(video, info, backend, options, stage, notes, start_s, end_s):
        faces.embedding = None  # kept per track, not per face: memory stays small
        samples.append(Sample(frame.frame_index, frame.timestamp_s, faces))
        if advance is not None:
            advance(frame.timestamp_s)
    return samples


def finish_analysis(
    video: Path,
    info: VideoInfo,
    backend_name: str,
    backend_columns: tuple[str, ...],
    options: AnalyzeOptions,
    samples: list[Sample],
    stage: IdentityStage | None,
    notes: list[str],
    models: str = "",
) -> Analysis:
    """Resolve who is who over the whole video (names, unknown-N) and build the
    :class:`Analysis` (table, summary, people) from the time-ordered ``samples`` and the
    identity ``stage`` that tracked them (one that ran over the video, or the merge of
    segments' stages); ``models`` names the backend's models in the summary."""
    from .outputs import people as people_out
    from .outputs.summary import rounded, run_summary
    from .outputs.table import faces_table

    gallery = stage.naming.gallery if stage is not None else None
    identities = {}
    if stage is not None:
        identities = stage.resolve()
        name = name_faces(identities)
        for sample in samples:
            name(sample.faces)
    columns = tuple(backend_columns) + (stage.columns if stage is not None else ())
    df = faces_table(samples, identity=stage is not None, data_columns=columns)
    summary = run_summary(
        df,
        info,
        len(samples),
        backend_name,
        options.every_s,
        options.window_s,
        options.neutral_margin,
    )
    if models:
        summary["models"] = models
    if notes:
        summary["warnings"] = notes
    people: list[dict] = []
    people_json = thumbnails = None
    if stage is not None:
        work = people_out.with_enrolled(df)
        keep, dropped = people_out.kept_people(work, options.min_frames)
        people = people_out.person_summaries(work, keep, options.neutral_margin)
        people_json = people_out.people_json(work, info.width, info.height, keep)
        if options.thumbnails:
            thumbnails = people_out.thumbnails_by_person(stage.tracker.tracks, identities)
        summary["identity"] = stage.stats() | {
            "min_frames": options.min_frames,
            "gallery": gallery.location if gallery is not None else None,
            "tolerance": options.tolerance,
        }
        summary |= {"people_count": len(keep), "people_left_out": len(dropped), "people": people}
    return Analysis(
        video=video,
        info=info,
        options=options,
        backend=backend_name,
        faces=df,
        summary=rounded(summary),
        people=people,
        people_json=people_json,
        samples=samples,
        thumbnails=thumbnails,
    )
