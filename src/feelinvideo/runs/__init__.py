"""Runs: one or many videos analysed, a long video cut into time ranges (segments) analysed
independently, then merged.

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
:func:`feelinvideo.analysis.finish_analysis` resolves who is who over the whole video
(gallery votes, unknown-N clustering) exactly as for a video analysed in one piece.
:mod:`.driver` drives it all (:func:`analyze`, :func:`analyze_videos`): probe, plan,
reuse finished segments, run the rest on an engine, merge, finish, save.

Modules: :mod:`.driver`, :mod:`.index` (finding videos, run-folder names, batch.json),
:mod:`.plan` (the ranges), :mod:`.task` (one segment's analysis), :mod:`.merge`,
:mod:`.work` (the resumable work folder and its fingerprint).
"""

from .driver import BatchResult, Run, VideoRun, analyze, analyze_videos, run_videos
from .index import BatchItem, find_videos
from .merge import merge_segments
from .plan import MIN_LAST_FRACTION, Segment, plan_segments
from .task import SegmentResult, SegmentTask, run_segment
from .work import WORK_FORMAT, WorkFolder, fingerprint

__all__ = [
    "MIN_LAST_FRACTION",
    "WORK_FORMAT",
    "BatchItem",
    "BatchResult",
    "Run",
    "Segment",
    "SegmentResult",
    "SegmentTask",
    "VideoRun",
    "WorkFolder",
    "analyze",
    "analyze_videos",
    "find_videos",
    "fingerprint",
    "merge_segments",
    "plan_segments",
    "run_segment",
    "run_videos",
]
