"""Where each face's label goes: beside its face, never over another label, inside the frame.

Written here rather than taken from a library: supervision's ``LabelAnnotator(smart_position=
True)`` (``spread_out_boxes``) pushes overlapping labels apart for at most 100 iterations, so
it does not promise that no two labels overlap, and it does not know which pixels must stay
clear (a blurred face, the face a label belongs to). The rule below is a greedy candidate
search, the usual way map labelling is done: each label tries fixed positions around its face,
nearest first, and takes the first that is free.
"""

from __future__ import annotations

import numpy as np

#: rings of candidate positions tried around a face, nearest first
RINGS = 6


def place_labels(
    anchors: np.ndarray,
    sizes: np.ndarray,
    frame_wh: tuple[int, int],
    obstacles: np.ndarray | None = None,
    gap: int = 2,
) -> np.ndarray:
    """Place one label rectangle beside each face so that no two labels overlap.

    Labels are placed greedily, largest face first. Each tries, ring by ring (``RINGS``
    rings, each one label height or half a label width further out): above its face
    (aligned left, centred, aligned right, then past either corner), below it (the same),
    right and left of it (top, middle, bottom); candidates are slid along the face's side
    to fit the frame, and dropped where they would leave it. It takes the first that

    1. overlaps no already placed label and not its own face (always),
    2. overlaps no other face and no ``obstacles`` (a first pass; a second drops this rule
       for the labels still without a place, so a crowded frame still gets its labels).

    A third pass, for a face that fills the frame, lets a label cover its own face (pushed
    into the frame). A label that still finds no place is left out (its row is NaN) rather
    than drawn over another.

    Args:
        anchors: float (N, 4) ``xyxy`` pixels: each face's area that its label must not
            cover (the face box, or what is drawn over it: the emoji, the blur).
        sizes: int (N, 2): each label's ``(width, height)`` in pixels.
        frame_wh: the frame's ``(width, height)`` in pixels.
        obstacles: float (M, 4) ``xyxy``: more areas labels should keep clear (rule 2).
        gap: pixels between a face and its label (>= 0).

    Returns:
        float (N, 4) ``xyxy`` label rectangles with whole-pixel values (half-open: pixels
        ``x1 <= x < x2``), in the order of ``anchors``; NaN rows for labels left out.
    """
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 4)
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    n = len(anchors)
    out = np.full((n, 4), np.nan)
    if not n:
        return out
    extra = np.zeros((0, 4)) if obstacles is None else np.asarray(obstacles, float).reshape(-1, 4)
    width, height = frame_wh
    areas = (anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1])
    order = np.argsort(-areas, kind="stable")
    beside = [_candidates(anchors[i], sizes[i], width, height, gap) for i in range(n)]
    placed = np.zeros((0, 4))
    for rule in ("clear", "labels", "own face"):
        for i in order:
            if not np.isnan(out[i, 0]):
                continue
            candidates = beside[i]
            blocked = [placed, anchors[i : i + 1]]
            if rule == "clear":
                blocked += [np.delete(anchors, i, axis=0), extra]
            elif rule == "own face":
                candidates, blocked = _pushed_in(sizes[i], width, height), [placed]
            if not len(candidates):
                continue
            free = ~_overlaps_any(candidates, np.concatenate(blocked))
            if free.any():
                out[i] = candidates[np.argmax(free)]
                placed = np.concatenate([placed, out[i : i + 1]])
    return out


def _candidates(anchor, size, width: int, height: int, gap: int) -> np.ndarray:
    """(C, 4) whole-pixel ``xyxy`` candidate rectangles for one label, nearest first:
    slid along the face's side into the frame, those leaving the frame dropped."""
    w, h = float(size[0]), float(size[1])
    if w > width or h > height or w <= 0 or h <= 0:
        return np.zeros((0, 4))
    x1, y1, x2, y2 = (float(v) for v in anchor)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    xs = (x1, cx - w / 2, x2 - w, x2, x1 - w)  # aligned left, centred, right; corners
    ys = (y1, cy - h / 2, y2 - h)  # top, middle, bottom
    rows = []
    for ring in range(RINGS):
        up = y1 - gap - h - ring * (h + gap)
        down = y2 + gap + ring * (h + gap)
        right = x2 + gap + ring * (w / 2 + gap)
        left = x1 - gap - w - ring * (w / 2 + gap)
        rows += [(min(max(x, 0), width - w), up) for x in xs]
        rows += [(min(max(x, 0), width - w), down) for x in xs]
        rows += [(right, min(max(y, 0), height - h)) for y in ys]
        rows += [(left, min(max(y, 0), height - h)) for y in ys]
    corner = np.round(np.array(rows))
    inside = (corner[:, 0] >= 0) & (corner[:, 0] <= width - w)
    inside &= (corner[:, 1] >= 0) & (corner[:, 1] <= height - h)
    corner = corner[inside]
    return np.concatenate([corner, corner + [w, h]], axis=1)


def _pushed_in(size, width: int, height: int) -> np.ndarray:
    """(C, 4) candidates for a label whose face leaves no room beside it: along the top
    of the frame, then along the bottom."""
    w, h = float(size[0]), float(size[1])
    if w > width or h > height:
        return np.zeros((0, 4))
    xs = np.linspace(0, width - w, 9).round()
    corner = np.array([(x, y) for y in (0.0, float(height - h)) for x in xs])
    return np.concatenate([corner, corner + [w, h]], axis=1)


def _overlaps_any(rects: np.ndarray, others: np.ndarray) -> np.ndarray:
    """bool (C,): which of ``rects`` (C, 4) overlap any of ``others`` (M, 4) by a positive
    area (touching edges do not count)."""
    if not len(others):
        return np.zeros(len(rects), dtype=bool)
    a, b = rects[:, None, :], others[None, :, :]
    hit = (a[..., 0] < b[..., 2]) & (b[..., 0] < a[..., 2])
    hit &= (a[..., 1] < b[..., 3]) & (b[..., 1] < a[..., 3])
    return hit.any(axis=1)
