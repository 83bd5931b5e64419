"""Driving it all: plan each video, reuse finished segments, run the rest on an engine,
merge and save each video as its last segment finishes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..analysis import finish_analysis
from ..errors import FeelinvideoError
from ..schema import DEFAULT_SEGMENT_S
from ..settings import AnalyzeOptions
from ..stream import call_frames, call_span_s
from .merge import merge_segments
from .plan import Segment, plan_segments
from .task import BackendSpec, GallerySpec, SegmentResult, SegmentTask
from .work import WorkFolder, fingerprint


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
    from ..atomic import prepare_dir
    from ..video import probe

    states: dict[int, _State] = {}
    tasks: list[SegmentTask] = []
    for k, run in enumerate(runs):
        try:
            info = probe(run.video)
            options.check(info.duration_s)
            limit = call_frames(backend.batch_frames, info, options.every_s)
            span = call_span_s(limit, options.every_s, info.fps)
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
        options, samples, stage, notes, models=getattr(first, "backend_models", ""),
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
