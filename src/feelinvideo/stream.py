"""The streaming stages of one video: decode -> sample -> backend (faces, emotions) ->
identity, frame by frame; writes nothing.

:func:`analyze_frames` yields ``(frame, Faces)`` per sampled frame; it is the one path that
every run (:func:`feelinvideo.runs.driver.analyze_videos`, through
:func:`collect_samples` per segment) and live streams (:func:`analyze_stream`) reuse.

Streaming: three stages overlap, each on its own thread and at most one backend call ahead of the
next (:func:`feelinvideo.video.run_ahead`): decoding, the backend's models, and identity
(tracks, embeddings, names) in time order, a backend call's frames at a time (their faces
needing an embedding go through one network call: :meth:`IdentityStage.update_many`).
Frames go to the backend in calls of up to ``backend.frames_per_call`` sampled frames
(capped at :data:`CALL_BYTES` of decoded pixels), so peak memory depends on the frames per
call and the frame size, not on the video's length. Only the per-face numbers are kept
(tens of bytes a face).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager

from .backends.protocol import Backend
from .cores import available_cores
from .faces import Faces, Sample
from .identity.smoothing import EmotionSmoother
from .identity.stage import IdentityStage, identity_stage
from .prefetch import run_ahead
from .settings import AnalyzeOptions
from .specs import BackendSpec
from .video import Frame, VideoInfo, estimate_sampled_frames, iter_frames, probe

#: upper bound on the decoded RGB frames held for one backend call, in bytes: 9 frames at
#: 1280x720. Three calls' frames are held at once (decoded, scored, being tracked); the models
#: keep their own buffers per image or per bounded call, so peak memory follows this, not
#: the video's length. The detectors' speed barely depends on it.
CALL_BYTES = 25_000_000
#: nice value added to the decoding thread (:func:`feelinvideo.prefetch.lower_priority`)
DECODE_NICENESS = 10
#: a video of few sampled frames is still analysed in at least this many backend calls, so
#: that its progress bar moves; a video of 1 minute at 1 sample a second (60 samples) gets
#: full calls at 720p, so its peak memory is that of any longer video
PROGRESS_STEPS = 6


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
        numbered by :func:`feelinvideo.analyze`).

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
    frames_per_call: int = 1,
) -> Iterator[tuple[Frame, Faces]]:
    """:func:`analyze_frames` for frames that come from elsewhere: a live camera or stream
    (:mod:`feelinvideo.watch`), already sampled, in time order. The same stages (backend,
    identity, smoothing); ``options.every_s`` is not applied (the frames are the samples).

    Args:
        frames: :class:`~feelinvideo.video.Frame` objects (``timestamp_s`` non-decreasing).
        backend, options, identity: as for :func:`analyze_frames`.
        frames_per_call: frames per backend call (>= 1); 1 keeps a live source's latency low.

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
        limit=max(1, int(frames_per_call)),
    )


def _or_default(backend: Backend | None) -> Backend:
    """``backend``, or the local MTCNN + fer backend when None."""
    if backend is not None:
        return backend
    return BackendSpec().build()


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
    smooth: bool = True,
) -> Iterator[tuple[Frame, Faces]]:
    """:func:`analyze_frames` for a video already probed (``info``), optionally over the
    time range ``[start_s, end_s)`` only (a segment, :mod:`feelinvideo.runs`); or, with
    ``frames`` and ``limit``, for frames from elsewhere (a live source,
    :func:`analyze_stream`). ``smooth`` False leaves ``smoothed_scores`` unset: a run
    smooths once per track after its segments are joined (:mod:`feelinvideo.runs.merge`)."""
    span = None
    if frames is None:
        limit = call_frames(backend.frames_per_call, info, options.every_s)
        span = call_span_s(limit, options.every_s, info.fps)
        sampled = iter_frames(video, options.every_s, notes, start_s=start_s, end_s=end_s)
        frames = run_ahead(sampled, limit, niceness=DECODE_NICENESS)
    smoother = EmotionSmoother(options.smooth_s) if identity is not None and smooth else None
    # three stages on their own threads, each at most one backend call ahead of the next: decoding,
    # the backend's models (OpenCV's networks or the service), and here, in time order, identity
    calls = _backend_results(frames, backend, limit, span)
    # closed explicitly, not when garbage-collected: an exception's traceback keeps this
    # frame alive, and the stage threads must be joined before the run ends
    decoded = _frames_decoded_a_sample(info, options.every_s) if info is not None else None
    with _opencv_threads(identity is not None, decoded), closing(run_ahead(calls, 1)) as staged:
        for call in staged:
            got = [faces for _, faces in call]
            if identity is not None:  # the call's embeddings in one network call
                got = identity.update_many([frame for frame, _ in call], got)
            for (frame, _), faces in zip(call, got, strict=True):
                if smoother is not None:
                    faces = smoother.update(frame.timestamp_s, faces)
                yield frame, faces


#: At most this many frames decoded a sampled frame, decoding is light beside the models and
#: OpenCV gets every core (:func:`_opencv_threads`).
LIGHT_DECODING_FRAMES = 5


def _frames_decoded_a_sample(info: VideoInfo, every_s: float) -> float:
    """Frames the decoder reads for each sampled frame (>= 1): ``every_s`` times the frame
    rate, 1 when every frame is analysed."""
    fps = info.fps if info.fps and info.fps > 0 else 25.0
    return max(1.0, every_s * fps)


@contextmanager
def _opencv_threads(identity: bool, decoded_a_sample: float | None = None):
    """OpenCV's own worker threads (its dnn networks, resizing) during an analysis.

    Where decoding is heavy (more than :data:`LIGHT_DECODING_FRAMES` frames decoded a
    sampled frame, or unknown: a live source), the cores left once decoding and identity
    (its embedding network) have theirs, at least one: the stages already overlap on
    threads, and there OpenCV's extra thread only added synchronisation. Where decoding is
    light, every core, so the models (the critical path) use the core decoding leaves idle.
    Measured on 2 cores, alternating runs of ``analyze`` in one session, identity on, one
    OpenCV thread against two: the 4-minute classroom mosaic at 1 sample/s (25 frames
    decoded a sample) 14.5-15.1 s against 15.9-16.0 s (one is faster); at 0.2 s (5 frames)
    69.0-73.6 s against 63.0-66.2 s; the street clip (1080p) every frame 15.2-15.4 s
    against 14.0-14.2 s, at 1 s 2.7-2.8 s against 2.8-2.9 s; WolfgangLanger (640x360) every
    frame with the overlay 9.0-9.5 s against 8.1-8.2 s. The previous count is restored
    after."""
    import cv2

    before = cv2.getNumThreads()  # a worker's share when the engine set one
    if decoded_a_sample is not None and decoded_a_sample <= LIGHT_DECODING_FRAMES:
        wanted = available_cores()
    else:
        wanted = available_cores() - 1 - int(identity)
    cv2.setNumThreads(min(before, max(1, wanted)))
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _backend_results(
    frames: Iterator[Frame], backend: Backend, limit: int, span_s: float | None = None
) -> Iterator[list[tuple[Frame, Faces]]]:
    """The ``(frame, faces)`` pairs of each backend call (a list per call, up to ``limit``
    frames), so that identity takes a call's frames together; ``frames`` is closed when this
    ends (an interrupt stops the decoding thread).

    With ``span_s``, a call holds the sampled frames of one block
    ``[j * span_s, (j + 1) * span_s)`` of video time (at most ``limit`` of them), so the
    calls, and with them the results, are the same whether the video is analysed in one
    piece or in segments cut at multiples of ``span_s``: MTCNN's batched network calls may
    give results that differ slightly with a call's make-up (a box a pixel off, then a
    different face crop).
    """
    pending: list[Frame] = []
    block = None
    try:
        for frame in frames:
            here = None if span_s is None else math.floor((frame.timestamp_s + 1e-6) / span_s)
            if pending and here != block:
                yield list(zip(pending, backend.analyze([f.image for f in pending]), strict=True))
                pending = []
            block = here
            pending.append(frame)
            if len(pending) >= limit:  # full: now, not when the next frame comes (live)
                yield list(zip(pending, backend.analyze([f.image for f in pending]), strict=True))
                pending = []
        if pending:
            yield list(zip(pending, backend.analyze([f.image for f in pending]), strict=True))
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


def call_frames(frames_per_call: int, info: VideoInfo, every_s: float) -> int:
    """Frames per backend call: the backend's ``frames_per_call``, capped so one call's decoded
    RGB frames stays under :data:`CALL_BYTES` (32 frames at 640x360, 4 at 1920x1080), and
    so a short video still takes :data:`PROGRESS_STEPS` calls (the progress bar follows
    finished calls). Depends on the whole video only, so segments are cut into calls alike."""
    limit = min(int(frames_per_call), CALL_BYTES // max(1, info.width * info.height * 3))
    expected = estimate_sampled_frames(info.duration_s, info.fps, info.frame_count, every_s)
    return max(1, min(limit, math.ceil(expected / PROGRESS_STEPS)))


def call_span_s(limit: int, every_s: float, fps: float) -> float:
    """Seconds of video one backend call of ``limit`` sampled frames covers: ``limit``
    sampling intervals, or ``limit`` frames at ``fps`` when every frame is analysed."""
    return limit * every_s if every_s > 0 else limit / (fps if fps > 0 else 25.0)


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
    or embeddings (those stay per track in ``stage``) and not yet smoothed (smoothing runs
    once per track over the whole video: :func:`feelinvideo.runs.merge.merge_segments`);
    ``advance(timestamp_s)`` after each.

    Raises:
        as :func:`analyze_frames`.
    """
    samples: list[Sample] = []
    frames = _frames(video, info, backend, options, stage, notes, start_s, end_s, smooth=False)
    with closing(frames):  # an interrupt stops and joins the stage threads here
        for frame, faces in frames:
            faces.embedding = None  # kept per track, not per face: memory stays small
            samples.append(Sample(frame.frame_index, frame.timestamp_s, faces))
            if advance is not None:
                advance(frame.timestamp_s)
    return samples
