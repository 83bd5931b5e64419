"""One driver for every analysis: one or many videos -> plan -> engine -> merge -> finish ->
save.

:func:`analyze` (one video) and :func:`analyze_videos` (many videos and folders, indexed in
``batch.json``) are the library's entries and what the ``analyze`` command calls; both run
:func:`run_videos`. Each video is probed once; cut into segments (:mod:`.plan`) analysed on
an engine (this process, worker processes or a Ray cluster: :mod:`feelinvideo.engines`);
finished segments are kept in a work folder (:mod:`.work`) so that a rerun after a crash or
an interrupt computes only the rest; the segments are joined (:mod:`.merge`, smoothing once
per track), finished into an :class:`~feelinvideo.analysis.Analysis` and, with an output
folder, saved (all files or none). Without an output folder nothing is written: the same
code path runs in memory.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis import Analysis, finish_analysis, saved_analysis
from ..atomic import prepare_dir
from ..errors import FeelinvideoError, OptionError
from ..progress import advance_to, progress_bar
from ..schema import DEFAULT_SEGMENT_S, SUMMARY_JSON, WORK_DIR
from ..settings import AnalyzeOptions
from ..specs import BackendSpec, EngineSpec, GallerySpec
from ..stream import call_frames, call_span_s
from ..video import VideoInfo, probe
from .index import (
    BATCH_JSON,
    DONE,
    FAILED,
    KEPT,
    SKIPPED,
    BatchItem,
    check_out_dir,
    failure_message,
    find_videos,
    run_dir_names,
    write_batch_json,
)
from .lock import folder_locks
from .merge import merge_segments
from .plan import Segment, plan_segments
from .task import SegmentResult, SegmentTask
from .work import WorkFolder, fingerprint, outputs_fingerprint

#: share of the progress a video's analysis takes when its overlay is rendered too (the
#: rendering takes the rest)
ANALYSIS_SHARE = 0.5

Progress = bool | Callable[[float], None]


@dataclass
class VideoRun:
    """One video of :func:`run_videos`.

    Attributes:
        video: the video file.
        info: its :class:`~feelinvideo.video.VideoInfo` (the one probe of the run).
        out: its run folder, or None: nothing written (in memory, no resume).
        work: its work folder of finished segments, or None (in memory).
    """

    video: Path
    info: VideoInfo
    out: Path | None = None
    work: Path | None = None


@dataclass
class BatchResult:
    """What :func:`analyze_videos` did: what ``batch.json`` holds, and the results.

    Attributes:
        items: one :class:`~feelinvideo.runs.index.BatchItem` per video found, in order.
        analyses: the :class:`~feelinvideo.analysis.Analysis` of each item, in the same
            order (None for a failed or skipped video).
        out_dir: the parent folder of the run folders, or None (in memory).
    """

    items: list[BatchItem]
    analyses: list[Analysis | None]
    out_dir: Path | None = None

    @property
    def failed(self) -> list[BatchItem]:
        """The items that failed."""
        return [i for i in self.items if i.status == FAILED]

    @property
    def index(self) -> Path | None:
        """``batch.json``, or None in memory."""
        return None if self.out_dir is None else self.out_dir / BATCH_JSON


@dataclass
class Run:
    """The settings of one run, resolved: specs where workers can rebuild them, the
    objects this process uses, and the engine.

    Made by :meth:`make`, used as a context manager (the gallery it opened is closed on
    exit)."""

    options: AnalyzeOptions
    backend_spec: BackendSpec | None
    gallery_spec: GallerySpec | None
    backend: object
    gallery: object
    engine: object
    segment_s: float = DEFAULT_SEGMENT_S
    force: bool = False
    keep_work: bool = False
    _stack: ExitStack = field(default_factory=ExitStack)

    @classmethod
    def make(
        cls,
        backend=None,
        gallery=None,
        options: AnalyzeOptions | None = None,
        engine: EngineSpec | None = None,
        segment_s: float = DEFAULT_SEGMENT_S,
        force: bool = False,
        keep_work: bool = False,
    ) -> Run:
        """Check every setting, build the backend, open the gallery and make the engine,
        before any video is read (so a missing extra, bad credentials or an unreadable
        gallery stop the run at once).

        Args:
            backend: None (the local models), ``"local"`` / ``"rekognition"``, a
                :class:`~feelinvideo.specs.BackendSpec`, or a
                :class:`~feelinvideo.backends.protocol.Backend` object (then every segment
                runs in this process).
            gallery: None (no enrolled names), a gallery file, a
                :class:`~feelinvideo.specs.GallerySpec`, or an open
                :class:`~feelinvideo.galleries.interface.Gallery` (used as is, not closed; every
                segment runs in this process). Ignored without ``options.identity``.
            options, engine, segment_s, force, keep_work: as for :func:`analyze`.

        Raises:
            OptionError: a setting out of range or settings that exclude each other.
            GalleryError, BackendError, MissingDependencyError: as the specs' factories.
        """

        options = options or AnalyzeOptions()
        options.check()
        if not (isinstance(segment_s, int | float) and segment_s >= 0):
            raise OptionError(f"segment_s must be a number >= 0, got {segment_s!r}")
        engine = (engine or EngineSpec()).check()
        if backend is None or isinstance(backend, str):
            backend = BackendSpec(backend or "local")
        backend_spec = backend.check() if isinstance(backend, BackendSpec) else None
        if not options.identity:
            gallery = None
        elif isinstance(gallery, str | os.PathLike):
            gallery = GallerySpec(path=os.fspath(gallery))
        gallery_spec = gallery.check() if isinstance(gallery, GallerySpec) else None
        if gallery_spec is not None and gallery_spec.collection is not None:
            if backend_spec is not None and backend_spec.kind != "rekognition":
                raise OptionError("--collection only applies to --backend rekognition")
        stack = ExitStack()
        try:
            built = backend_spec.build() if backend_spec is not None else backend
            opened = gallery
            if gallery_spec is not None:
                opened = gallery_spec.open()
                stack.callback(opened.close)
            in_process = backend_spec is None or (gallery is not None and gallery_spec is None)
            runner = engine.build(backend=built, gallery=opened, in_process=in_process)
        except BaseException:
            stack.close()
            raise
        return cls(
            options, backend_spec, gallery_spec, built, opened, runner, segment_s, force,
            keep_work, stack,
        )  # fmt: skip

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def fingerprint(self, video: Path) -> str:
        """The work folder's fingerprint of ``video`` under these settings."""
        backend = self.backend_spec if self.backend_spec is not None else self.backend
        gallery = self.gallery_spec if self.gallery_spec is not None else self.gallery
        return fingerprint(video, self.options, backend, gallery, self.segment_s)

    def outputs_fingerprint(self, video: Path) -> str:
        """The fingerprint of ``video``'s outputs under these settings (``summary.json``
        ``fingerprint``)."""
        backend = self.backend_spec if self.backend_spec is not None else self.backend
        gallery = self.gallery_spec if self.gallery_spec is not None else self.gallery
        return outputs_fingerprint(video, self.options, backend, gallery)


def analyze(
    video: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    backend=None,
    gallery=None,
    options: AnalyzeOptions | None = None,
    segment_s: float = DEFAULT_SEGMENT_S,
    jobs: int | None = None,
    engine: str = "local",
    address: str | None = None,
    force: bool = False,
    keep_work: bool = False,
    progress: Progress = False,
) -> Analysis:
    """Analyse one video: faces, emotions and (by default) who is who.

    The ``analyze`` command with one video is this call.

    Args:
        video: the video (any container/codec FFmpeg decodes).
        out: when given, save every output file into this folder (the run folder:
            ``faces.csv``, ``summary.json``, people files, ``overlay.mp4``; see
            :meth:`~feelinvideo.analysis.Analysis.save`) and keep finished segments in
            ``out/.feelinvideo-work`` until the run completes, so that the same call after
            a crash computes only the rest; by default nothing is written.
        backend: None (local MTCNN + fer), ``"local"`` / ``"rekognition"``, a
            :class:`~feelinvideo.specs.BackendSpec`, or a Backend object (then the video is
            analysed in this process).
        gallery: a gallery file, a :class:`~feelinvideo.specs.GallerySpec` or an open
            :class:`~feelinvideo.galleries.interface.Gallery` whose enrolled names faces may
            take; None: everyone is ``unknown-N``.
        options: what changes results and what is written
            (:class:`~feelinvideo.settings.AnalyzeOptions`).
        segment_s: cut a video longer than this many seconds into segments analysed
            independently and merged (the same results as one piece); 0: one piece.
        jobs: segments analysed at once (worker processes; 1: in this process); None: the
            cores of this machine, or the Ray cluster's CPUs.
        engine: ``"local"`` or ``"ray"``; address: the Ray cluster (ray only).
        force: recompute segments kept from an interrupted run.
        keep_work: keep the finished segments after the run.
        progress: True: tqdm bars on stderr (seconds of video analysed, then overlay
            frames written); a function: called with the seconds of video done so far, 0
            to the video's duration, never going back (with ``out`` and an overlay, the
            analysis moves it to half the duration and the rendering the other half).

    Returns:
        the :class:`~feelinvideo.analysis.Analysis` (``faces``, ``summary``, ``people``,
        ``segments``, ``segments_computed``, ``seconds``).

    Raises:
        VideoError, BackendError, GalleryError, OutputError; OptionError (a ValueError)
        for settings out of range. A failed run leaves no folder it created behind
        (finished segments stay for a rerun only when it was interrupted).

    Example:
        >>> import feelinvideo
        >>> a = feelinvideo.analyze("lecture.mp4")            # doctest: +SKIP
        >>> a.faces.groupby("person")["happy"].mean()          # doctest: +SKIP
    """
    video = Path(video)
    with Run.make(
        backend, gallery, options, EngineSpec(engine, jobs, address), segment_s, force,
        keep_work,
    ) as run:  # fmt: skip
        info = probe(video)
        run.options.check(info.duration_s)
        out = Path(out) if out is not None else None
        if out is not None:
            check_out_dir(out, [video])
        job = VideoRun(video, info, out, out / WORK_DIR if out is not None else None)
        existed = out is not None and out.exists()
        result = None
        with folder_locks([out] if out is not None else []):
            try:
                with _video_progress(info.duration_s, out, run.options, progress) as bars:
                    for _, result in run_videos([job], run, *bars):
                        if isinstance(result, BaseException):
                            raise result
            except BaseException as exc:
                kept = _segments_kept([job])
                if out is not None and (isinstance(exc, FeelinvideoError | ValueError) or not kept):
                    shutil.rmtree(out / WORK_DIR, ignore_errors=True)
                    if not existed and out.is_dir() and not any(out.iterdir()):
                        out.rmdir()
                elif kept:
                    exc.feelinvideo_kept = (
                        f"{kept} of {len(_planned(run, job))} segments kept in {job.work}; run "
                        "the same command again to resume (--force starts over)"
                    )
                raise
    return result


def analyze_videos(
    videos: str | os.PathLike | Iterable[str | os.PathLike],
    out: str | os.PathLike | None = None,
    *,
    backend=None,
    gallery=None,
    options: AnalyzeOptions | None = None,
    segment_s: float = DEFAULT_SEGMENT_S,
    jobs: int | None = None,
    engine: str = "local",
    address: str | None = None,
    force: bool = False,
    keep_work: bool = False,
    progress: Progress = False,
    on_item: Callable[[BatchItem], None] | None = None,
) -> BatchResult:
    """Analyse many videos: files as given, folders searched for videos
    (:func:`~feelinvideo.runs.index.find_videos`); each into its own run folder
    ``out/<stem>_feelinvideo/`` (made unique), indexed in ``out/batch.json`` (written after
    each video, so an interrupted batch says how far it got). One bad video does not stop
    the others: it is recorded as failed with its one-line error.

    The ``analyze`` command with several videos or a folder is this call. Segments of all
    the videos share the engine's workers; the models load once per worker.

    Args:
        videos: video files and folders (one path or several).
        out: the parent of the run folders, created if needed; None: nothing written (the
            analyses are returned in memory).
        progress: True: one tqdm bar on stderr for the whole batch (seconds of video); a
            function: called with the seconds of video done over all videos.
        on_item: called with each video's :class:`~feelinvideo.runs.index.BatchItem` as
            soon as it is settled (failed or skipped when found, done, kept or failed as
            its analysis and overlay finish), in that order: the ``analyze`` command prints
            its line a video from it.
        backend, gallery, options, segment_s, jobs, engine, address, force, keep_work: as
            for :func:`analyze`. With ``out``, finished videos stay reusable by the same
            call (``kept`` in batch.json) when ``keep_work`` is set.

    Returns:
        a :class:`BatchResult`: ``items`` (what batch.json lists), ``analyses``,
        ``failed``, ``index``.

    Raises:
        InputError: a path does not exist or no video is found.
        OutputError: ``out`` or batch.json cannot be written.
        OptionError, GalleryError, BackendError: settings, before any video is read.
        A video's own errors are recorded in its item, not raised.

    Example:
        >>> import feelinvideo
        >>> batch = feelinvideo.analyze_videos(["a.mp4", "term/"], out="runs", jobs=2)
        ... # doctest: +SKIP
        >>> [(i.status, i.out_dir) for i in batch.items]      # doctest: +SKIP
    """
    paths = [videos] if isinstance(videos, str | os.PathLike) else list(videos)
    with Run.make(
        backend, gallery, options, EngineSpec(engine, jobs, address), segment_s, force,
        keep_work,
    ) as run:  # fmt: skip
        probed: dict = {}
        found = find_videos(paths, probed)
        if out is not None:
            check_out_dir(out, paths)
        parent = prepare_dir(out) if out is not None else None
        items: dict[int, BatchItem] = {}
        jobs_: list[VideoRun] = []
        index: list[int] = []  # job -> position in found
        seen: set[Path] = set()
        for k, (video, name) in enumerate(zip(found, run_dir_names(found), strict=True)):
            key = video.resolve()
            if key in seen:
                items[k] = BatchItem(str(video), SKIPPED, "named twice")
                continue
            seen.add(key)
            try:
                info = probed[video] if video in probed else probe(video)
                run.options.check(info.duration_s)
            except (FeelinvideoError, ValueError) as exc:
                items[k] = BatchItem(str(video), FAILED, failure_message(video, exc))
                continue
            run_dir = parent / name if parent is not None else None
            work = parent / WORK_DIR / name if parent is not None else None
            jobs_.append(VideoRun(video, info, run_dir, work))
            index.append(k)
        locks = [parent] + [j.out for j in jobs_] if parent is not None else []
        with folder_locks(locks):
            try:
                return _batch(run, found, items, jobs_, index, parent, progress, on_item)
            except BaseException as exc:
                if not isinstance(exc, Exception):  # an interrupt: say what is kept
                    done = sum(i.status in (DONE, KEPT) for i in items.values())
                    segments = _segments_kept(jobs_)
                    if parent is not None and (done or segments):
                        exc.feelinvideo_kept = (
                            f"{done} of {len(found)} videos finished and {segments} segments "
                            f"kept in {parent}; run the same command again to resume"
                        )
                raise


def _batch(run, found, items, jobs_, index, parent, progress, on_item=None) -> BatchResult:
    """The videos of :func:`analyze_videos` after finding and probing: run, record each in
    batch.json and hand it to ``on_item`` as it finishes, one progress bar over all."""
    analyses: dict[int, Analysis] = {}
    settled = on_item if on_item is not None else (lambda item: None)
    for k in sorted(items):  # failed or skipped when found
        settled(items[k])
    if parent is not None:
        write_batch_json(parent, [items[j] for j in sorted(items)])
    total = sum(j.info.duration_s for j in jobs_)
    start = time.perf_counter()
    share = ANALYSIS_SHARE if parent is not None and run.options.write_video else 1.0
    analysed: dict[int, float] = {}
    rendered: dict[int, float] = {}
    with progress_bar(total, "batch", progress is True) as bar:

        def moved() -> None:
            done = sum(share * t for t in analysed.values()) + sum(
                (1 - share) * t for t in rendered.values()
            )
            advance_to(bar, min(done, total))
            if callable(progress):
                progress(bar.n)

        def advance(job: int, seconds: float) -> None:
            analysed[job] = max(analysed.get(job, 0.0), min(seconds, jobs_[job].info.duration_s))
            moved()

        def draw(job: int, seconds: float) -> None:
            rendered[job] = max(rendered.get(job, 0.0), min(seconds, jobs_[job].info.duration_s))
            moved()

        for job, outcome in run_videos(jobs_, run, advance, draw, True):
            k, video = index[job], jobs_[job]
            if isinstance(outcome, BaseException):
                taken = round(time.perf_counter() - start, 2)
                message = failure_message(video.video, outcome)
                items[k] = BatchItem(
                    str(video.video), FAILED, message, video.info.duration_s, taken
                )
            else:
                analyses[k] = outcome
                status = KEPT if outcome.segments_computed == 0 and outcome.reused else DONE
                items[k] = BatchItem(
                    str(video.video),
                    status,
                    None,
                    video.info.duration_s,
                    round(outcome.seconds, 2),
                    str(video.out) if video.out is not None else None,
                    outcome.summary.get("faces"),
                    outcome.summary.get("people_count"),
                )
            advance(job, video.info.duration_s)
            draw(job, video.info.duration_s)
            if parent is not None:
                write_batch_json(parent, [items[j] for j in sorted(items)])
            settled(items[k])
    for k, video in enumerate(found):  # an engine that stopped early: say so
        if k not in items:
            items[k] = BatchItem(str(video), FAILED, f"{video}: not analysed")
            settled(items[k])
    ordered = [items[j] for j in sorted(items)]
    if parent is not None:
        write_batch_json(parent, ordered)
        if not run.keep_work:
            shutil.rmtree(parent / WORK_DIR, ignore_errors=True)
    return BatchResult(ordered, [analyses.get(j) for j in sorted(items)], parent)


def _segments_kept(jobs: list[VideoRun]) -> int:
    """Finished segments kept in the jobs' work folders (what a rerun resumes from)."""
    return sum(
        len(list(j.work.glob("segment-*.pkl")))
        for j in jobs
        if j.work is not None and j.work.is_dir()
    )


def _planned(run: Run, job: VideoRun) -> list[Segment]:
    """The segments ``job`` is cut into under ``run``'s settings."""
    spec = run.backend_spec
    frames_per_call = spec.call_frames if spec is not None else run.backend.frames_per_call
    limit = call_frames(frames_per_call, job.info, run.options.every_s)
    span = call_span_s(limit, run.options.every_s, job.info.fps)
    return plan_segments(job.video, job.info.duration_s, run.segment_s, span)


class _video_progress:
    """The progress of one video: ``(advance, draw)`` callbacks in seconds of video for the
    analysis and the overlay's rendering; a bar on stderr with ``progress`` True (the
    rendering then shows its own bar), a callable's share split when an overlay is
    rendered (:data:`ANALYSIS_SHARE`)."""

    def __init__(self, duration_s: float, out, options: AnalyzeOptions, progress: Progress):
        self.duration_s = duration_s
        self.progress = progress
        rendering = out is not None and options.write_video
        self.share = ANALYSIS_SHARE if rendering else 1.0
        self.bar = None

    def __enter__(self):
        self.bar = progress_bar(self.duration_s, "analysing", self.progress is True)
        bar = self.bar.__enter__()
        report = self.progress if callable(self.progress) else None
        reported = [0.0]

        def advance(_job: int, seconds: float) -> None:
            advance_to(bar, seconds)
            seconds = min(seconds, self.duration_s)
            if report is not None and seconds > reported[0]:  # only what moved
                reported[0] = seconds
                report(seconds * self.share)
            if bar.n >= bar.total:
                bar.close()  # before the overlay's bar

        if report is not None:
            base = self.duration_s * self.share

            def draw(_job: int, seconds: float) -> None:
                report(base + seconds * (1 - self.share))
        else:
            draw = self.progress is True

        return advance, draw

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


@dataclass
class _State:
    key: int
    job: VideoRun
    segments: list[Segment]
    work: WorkFolder | None
    done: dict[int, SegmentResult]
    computed: int = 0
    failed: bool = False


def run_videos(
    jobs: list[VideoRun],
    run: Run,
    advance: Callable[[int, float], None] | None = None,
    draw: bool | Callable[[int, float], None] = False,
    keep_finished: bool = False,
) -> Iterator[tuple[int, Analysis | BaseException]]:
    """Analyse videos segment by segment on ``run.engine``; finish (and save) each one when
    its last segment is done.

    Finished segments are kept in each video's work folder (under a
    :func:`~feelinvideo.runs.work.fingerprint` of the video and the settings) and reused by
    a rerun of the same run; ``run.force`` recomputes them. A video's outputs appear (all
    at once, :func:`feelinvideo.atomic.staged_folder`) only when all its segments are done;
    its work folder is then removed, or marked finished with ``keep_finished`` or
    ``run.keep_work`` (a rerun then reuses the saved outputs).

    Args:
        jobs: the videos (probed), their run folders and work folders.
        run: the settings, backend, gallery and engine (:meth:`Run.make`).
        advance: ``advance(k, seconds)``: seconds of video ``k`` analysed so far.
        draw: True: a bar while each overlay is rendered; a function ``draw(k, seconds)``:
            seconds of video ``k`` rendered so far.
        keep_finished: mark finished work instead of removing it (a batch removes the
            whole work folder at its end unless ``run.keep_work``).

    Yields:
        ``(k, Analysis)`` for each video finished, ``(k, error)`` (a FeelinvideoError or
        ValueError) for each that failed, in the order they finish.
    """
    states: dict[int, _State] = {}
    tasks: list[SegmentTask] = []
    options = run.options
    frames_per_call = (
        run.backend_spec.call_frames
        if run.backend_spec is not None
        else run.backend.frames_per_call
    )
    for k, job in enumerate(jobs):
        try:
            limit = call_frames(frames_per_call, job.info, options.every_s)
            span = call_span_s(limit, options.every_s, job.info.fps)
            segments = plan_segments(job.video, job.info.duration_s, run.segment_s, span)
            work = kept = None
            if job.out is not None:
                prepare_dir(job.out)  # the outputs' folder first: its errors name it
                if keep_finished and not run.force:
                    kept = _kept_outputs(job, run)
                if kept is None:
                    work = WorkFolder(job.work).open(run.fingerprint(job.video), run.force)
        except (FeelinvideoError, ValueError) as exc:
            yield k, exc
            continue
        if kept is not None:
            if advance is not None:
                advance(k, job.info.duration_s)
            yield k, kept
            continue
        if work is not None and work.is_finished(job.out):
            try:
                analysis = saved_analysis(job.video, job.info, options, job.out)
            except FeelinvideoError:
                analysis = None  # the saved outputs are gone or damaged: analyse again
            if analysis is not None:
                if not (keep_finished or run.keep_work):
                    work.remove()
                if advance is not None:
                    advance(k, job.info.duration_s)
                yield k, analysis
                continue
        done = {}
        if work is not None:
            done = {s.index: r for s in segments if (r := work.load(s)) is not None}
        states[k] = _State(k, job, segments, work, done)
        gallery_spec = run.gallery_spec if options.identity else None
        tasks += [
            SegmentTask(k, str(job.video), job.info, s, options, run.backend_spec, gallery_spec)
            for s in segments
            if s.index not in done
        ]
        if advance is not None:
            advance(k, _seconds_done(states[k]))
        if len(done) == len(segments):
            yield k, _finish(states[k], run, draw, keep_finished)

    def on_time(task: SegmentTask, t: float) -> None:
        if advance is not None:
            state = states[task.key]
            advance(task.key, _seconds_done(state) + max(0.0, t - task.segment.start_s))

    for task, outcome in run.engine.run(tasks, on_time=on_time):
        state = states[task.key]
        if state.failed:
            continue
        if isinstance(outcome, BaseException):
            state.failed = True
            if state.work is not None:
                state.work.remove()
            out = state.job.out
            if out is not None and out.is_dir() and not any(out.iterdir()):
                out.rmdir()  # made for this run, nothing in it
            yield task.key, outcome
            continue
        if state.work is not None:
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
                yield task.key, _finish(state, run, draw, keep_finished)
            except (FeelinvideoError, ValueError) as exc:
                yield task.key, exc


def _kept_outputs(job: VideoRun, run: Run) -> Analysis | None:
    """The outputs already in ``job.out`` when an earlier run wrote them from the same
    file with the same settings (the same :meth:`Run.outputs_fingerprint` in its
    ``summary.json``, every output it lists still there), read back; else None."""
    summary = job.out / SUMMARY_JSON
    try:
        saved = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("fingerprint") != run.outputs_fingerprint(
        job.video
    ):
        return None
    if not all((job.out / name).exists() for name in saved.get("outputs", {}).values()):
        return None
    try:
        return saved_analysis(job.video, job.info, run.options, job.out)
    except FeelinvideoError:
        return None


def _seconds_done(state: _State) -> float:
    """Seconds of video covered by the finished segments."""
    total = 0.0
    for s in state.segments:
        if s.index in state.done:
            end = state.job.info.duration_s if s.end_s is None else s.end_s
            total += max(0.0, end - s.start_s)
    return total


def _finish(state: _State, run: Run, draw, keep_finished: bool) -> Analysis:
    """Join a video's segments, resolve who is who, save the outputs, drop the work."""
    start = time.perf_counter()
    results = [state.done[s.index] for s in state.segments]
    samples, stage, notes = merge_segments(results, run.gallery, run.options)
    first = results[0]
    job = state.job
    analysis = finish_analysis(
        job.video, job.info, first.backend_name, first.backend_columns, run.options, samples,
        stage, notes, models=first.backend_models, backend_spec=run.backend_spec,
    )  # fmt: skip
    if job.out is not None:
        analysis.summary["fingerprint"] = run.outputs_fingerprint(job.video)
        progress = (lambda t: draw(state.key, t)) if callable(draw) else bool(draw)  # noqa: E731
        analysis.save(job.out, progress=progress)
    if state.work is not None:
        if keep_finished or run.keep_work:
            state.work.mark_finished()
        else:
            state.work.remove()
    analysis.segments = len(state.segments)
    analysis.segments_computed = state.computed
    analysis.seconds = sum(r.seconds for r in results) + time.perf_counter() - start
    return analysis
