"""Median flow: face boxes followed from one grey frame to the next (the overlay's follower,
:mod:`.follow`).

The flow is median flow (Kalal, Mikolajczyk & Matas 2010, "Forward-Backward Error:
Automatic Detection of Tracking Failures"): a grid of points inside the box is tracked with
OpenCV's pyramidal Lucas-Kanade (``cv2.calcOpticalFlowPyrLK``) to the next frame and back;
the points whose forward-backward error is above the median are dropped, the box moves by
the median displacement of the others and scales by the median change of their distances
to their centre. It is written here rather than used as ``cv2.legacy.TrackerMedianFlow``:
that one is in opencv-contrib only (the project installs opencv-python), follows one way
with one object a face, and, forward on the street clip, was as accurate (93.0% against
92.8%) for 5.7 times the CPU of this one in the same run, which follows each face in a
crop around it (small image pyramids), forward and backward over the frames it holds.
Frames are followed in grey (the decoded luma plane) at :func:`tracking_scale` (the
smallest face becomes at least :data:`TRACK_FACE_PX` pixels, as for the detector).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...faces import Sample

#: Smallest face side, in pixels of the tracking image (MTCNN's own minimum).
TRACK_FACE_PX = 20
#: Points followed across each face: a GRID x GRID grid over the middle of its box.
GRID = 5
#: Each face is followed in a crop: its box grown by this share of its longer side.
CROP_MARGIN = 0.75
#: Lucas-Kanade window side (pixels of the tracking image) and pyramid levels above it.
LK_WINDOW = 9
LK_LEVELS = 3
#: A path is lost when the median forward-backward error of its points exceeds this many
#: pixels of the tracking image, or fewer than this share of its points were tracked.
MAX_FB_ERROR_PX = 2.0
MIN_TRACKED = 0.3
#: Largest change of a box's size from one frame to the next (a factor, and its inverse).
MAX_SCALE_STEP = 1.25


def tracking_scale(min_face_px: float, samples: Sequence[Sample] = ()) -> float:
    """Scale (0, 1] of the grey images faces are followed in: ``1 / k`` for the largest
    whole ``k`` that keeps a face of ``side`` pixels at least :data:`TRACK_FACE_PX` pixels
    there, where ``side`` is the smallest face the detector keeps (``min_face_px``) or,
    when larger, the smallest face side in ``samples``: a video of large faces is followed
    in smaller images (the classroom mosaic, whose faces are 140 px or more, at 1/7 instead
    of 1/2; the flow's cost follows the faces' pixels). A whole factor lets OpenCV's area
    averaging take its fast path (a factor like 0.143 takes its general one, about ten
    times slower when profiled).

    Raises:
        ValueError: ``min_face_px`` is not > 0.
    """
    if not min_face_px > 0:
        raise ValueError(f"min_face_px must be > 0, got {min_face_px}")
    sides = [
        float(np.maximum(s.faces.xyxy[:, 2:] - s.faces.xyxy[:, :2], 0).max(axis=1).min())
        for s in samples
        if len(s.faces)
    ]
    side = max(float(min_face_px), min(sides, default=0.0))
    return 1.0 / max(1, int(side // TRACK_FACE_PX))


#: The grid of points over the middle of a unit box, float64 (GRID * GRID, 2).
_UNIT_GRID = np.stack(
    [a.ravel() for a in np.meshgrid(np.linspace(0.15, 0.85, GRID), np.linspace(0.15, 0.85, GRID))],
    axis=1,
)


def flow_boxes(
    prev: np.ndarray, nxt: np.ndarray, boxes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move ``boxes`` from grey image ``prev`` to ``nxt`` by median flow.

    Each face is followed in a crop around it (its box grown by :data:`CROP_MARGIN` of its
    longer side on every side): the image pyramids Lucas-Kanade builds are those of the
    crops, not of the whole frame. A face moving more than the margin from one frame to
    the next is lost.

    Args:
        prev, nxt: uint8 (H, W) grey images, consecutive frames in the direction followed.
        boxes: float (N, 4) ``xyxy`` in pixels of those images.

    Returns:
        ``(moved, ok)``: float64 (N, 4) boxes in ``nxt``, and bool (N,) whether each was
        followed (False: the face is lost; its row is the box unmoved).
    """
    import cv2

    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    n, k = len(boxes), len(_UNIT_GRID)
    height, width = nxt.shape[:2]
    wh = boxes[:, 2:] - boxes[:, :2]
    p0 = boxes[:, None, :2] + _UNIT_GRID[None] * wh[:, None]  # (n, k, 2) frame pixels
    p1 = np.full((n, k, 2), np.nan)
    fb = np.full((n, k), np.inf)
    margin = CROP_MARGIN * wh.max(axis=1, initial=0) + LK_WINDOW
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)
    for i in range(n):
        if not ((wh[i] >= 2).all() and np.isfinite(boxes[i]).all()):
            continue
        x0, y0 = max(0, int(boxes[i, 0] - margin[i])), max(0, int(boxes[i, 1] - margin[i]))
        x1 = min(width, int(np.ceil(boxes[i, 2] + margin[i])))
        y1 = min(height, int(np.ceil(boxes[i, 3] + margin[i])))
        if x1 - x0 < 2 * LK_WINDOW or y1 - y0 < 2 * LK_WINDOW:
            continue
        a, b = prev[y0:y1, x0:x1], nxt[y0:y1, x0:x1]
        levels = int(max(0, min(LK_LEVELS, np.log2(min(a.shape) / (2 * LK_WINDOW)))))
        lk = {"winSize": (LK_WINDOW, LK_WINDOW), "maxLevel": levels, "criteria": criteria}
        start = (p0[i] - (x0, y0)).reshape(-1, 1, 2).astype(np.float32)
        ahead, st1, _ = cv2.calcOpticalFlowPyrLK(a, b, start, None, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, ahead, None, **lk)
        good = (st1.ravel() == 1) & (st2.ravel() == 1)
        p1[i, good] = ahead.reshape(-1, 2)[good] + (x0, y0)
        fb[i, good] = np.linalg.norm((back - start).reshape(-1, 2)[good], axis=1)
    fb[~np.isfinite(p1).all(axis=2) | ~np.isfinite(fb)] = np.inf
    tracked = np.isfinite(fb)
    median_fb = np.median(fb, axis=1) if k else np.zeros(n)  # inf: under half tracked
    keep = tracked & (fb <= median_fb[:, None])
    ok = (tracked.sum(axis=1) >= max(4, MIN_TRACKED * k)) & (median_fb <= MAX_FB_ERROR_PX)
    ok &= keep.sum(axis=1) >= 4
    moved = boxes.copy()
    if not ok.any():
        return moved, ok
    kept = keep[ok]
    a, b = p0[ok], p1[ok]
    shift = _row_median(np.moveaxis(b - a, 2, 1), kept[:, None, :])  # (m, 2)
    counts = kept.sum(axis=1, keepdims=True)
    ra = np.linalg.norm(
        a - (a * kept[..., None]).sum(axis=1, keepdims=True) / counts[..., None], axis=2
    )
    rb = np.linalg.norm(
        np.nan_to_num(b)
        - (np.nan_to_num(b) * kept[..., None]).sum(axis=1, keepdims=True) / counts[..., None],
        axis=2,
    )
    spread = kept & (ra > 0.5)
    ratio = np.where(spread, rb / np.where(spread, ra, 1.0), 0.0)
    step = np.where(spread.sum(axis=1) >= 3, _row_median(ratio, spread), 1.0)
    step = np.clip(step, 1.0 / MAX_SCALE_STEP, MAX_SCALE_STEP)
    centre = (boxes[ok, :2] + boxes[ok, 2:]) / 2 + shift
    half = wh[ok] * step[:, None] / 2
    moved[ok] = np.concatenate([centre - half, centre + half], axis=1)
    inside = (centre >= 0).all(axis=1) & (centre < (width, height)).all(axis=1)
    ok[np.flatnonzero(ok)[~inside]] = False  # its centre left the frame
    return moved, ok


def _row_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median along the last axis of ``values`` over the entries where ``mask`` (broadcast
    to ``values``) is True; every row needs at least one (numpy's ``nanmedian`` goes
    through masked arrays, many times slower on these small ones)."""
    mask = np.broadcast_to(mask, values.shape)
    v = np.sort(np.where(mask, values, np.inf), axis=-1)
    c = mask.sum(axis=-1)
    lo = np.take_along_axis(v, np.maximum((c - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(v, (c // 2)[..., None], axis=-1)[..., 0]
    return (lo + hi) / 2


def follow_boxes(grays: list[np.ndarray], boxes: np.ndarray, backward: bool) -> np.ndarray:
    """``boxes`` followed over every frame of ``grays`` (uint8 grey images, in time order),
    from the first frame (the last with ``backward``).

    Args:
        grays: the tracking images (:func:`tracking_scale`).
        boxes: float (N, 4) ``xyxy`` in tracking pixels at the direction's first frame.
        backward: follow from the last frame to the first.

    Returns:
        float64 (F, N, 4) boxes per frame; NaN rows from where a face is lost.
    """
    frames = len(grays)
    out = np.full((frames, len(boxes), 4), np.nan)
    order = range(frames - 1, -1, -1) if backward else range(frames)
    order = list(order)
    if not len(boxes) or not frames:
        return out
    current = np.asarray(boxes, dtype=np.float64).copy()
    alive = np.ones(len(boxes), dtype=bool)
    out[order[0]] = current
    for a, b in zip(order[:-1], order[1:]):
        idx = np.flatnonzero(alive)
        if not len(idx):
            break
        moved, ok = flow_boxes(grays[a], grays[b], current[idx])
        current[idx] = moved
        alive[idx[~ok]] = False
        out[b, alive] = current[alive]
    return out
