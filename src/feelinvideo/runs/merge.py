"""Segment results joined into one video: rows in time order, tracks continued across
each boundary by the tracker's own rules, emotion smoothing over the joined tracks."""

from __future__ import annotations

import math

import numpy as np

from ..faces import Sample, box_iou
from ..identity.smoothing import EmotionSmoother
from ..identity.stage import identity_stage
from ..settings import AnalyzeOptions
from .task import SegmentResult


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
            track.tracker_id = tracker.tracks_created
            tracker.tracks_created += 1
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

    from ..models.dlib import pairwise_distances

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
