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

#: rows of candidate positions tried above and below a face, columns left and right of it
RINGS = 6


def place_labels(
    anchors: np.ndarray,
    sizes: np.ndarray,
    frame_wh: tuple[int, int],
    obstacles: np.ndarray | None = None,
    gap: int = 2,
    keep_faces_clear: bool = True,
    preferred: np.ndarray | None = None,
) -> np.ndarray:
    """Place one label rectangle beside each face so that no two labels overlap.

    Labels are placed greedily, largest face first. Each label's candidates are rows of
    positions above and below its face and columns left and right of it (``RINGS`` deep,
    slid in quarter-label steps), inside the frame, tried nearest first (distance between
    the label and its face; above before below before the sides on ties). A label takes
    the first candidate that overlaps no placed label, not its own face and, where
    ``keep_faces_clear``, no other face and no ``obstacles``. Otherwise (``keep_faces_clear``
    False) other faces are only avoided on a first pass; a second pass lets the labels still
    without a place cover them. A last pass, for a face that fills the frame, lets a label
    cover its own face (along the frame's top or bottom edge). A label that still finds no
    place is left out (its row is NaN) rather than drawn over another.

    With ``preferred`` (where each label was on the frame before, moved with its face:
    :func:`keep_beside`), a label whose preferred place is inside the frame and free on the
    first pass takes it before any candidate, so labels stay put while their faces move
    instead of hopping between equally near places.

    Args:
        anchors: float (N, 4) ``xyxy`` pixels: each face's area that its label must not
            cover (the face box, or what is drawn over it: the emoji, the blur).
        sizes: int (N, 2): each label's ``(width, height)`` in pixels.
        frame_wh: the frame's ``(width, height)`` in pixels.
        obstacles: float (M, 4) ``xyxy``: more areas treated like other faces.
        gap: pixels between a face and its label (>= 0).
        keep_faces_clear: never cover another face (rather leave a label out).
        preferred: float (N, 4) ``xyxy``, a place to try first for each label (NaN rows:
            none).

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
    beside: dict[int, np.ndarray] = {}

    def candidates_of(i: int) -> np.ndarray:
        if i not in beside:
            beside[i] = _candidates(anchors[i], sizes[i], width, height, gap)
        return beside[i]

    wanted = None if preferred is None else np.asarray(preferred, float).reshape(n, 4)
    placed = np.zeros((0, 4))
    passes = ("clear", "own face") if keep_faces_clear else ("clear", "labels", "own face")
    for rule in passes:
        for i in order:
            if not np.isnan(out[i, 0]):
                continue
            others = [np.delete(anchors, i, axis=0), extra]
            if rule == "clear":
                blocked = [placed, anchors[i : i + 1], *others]
                if wanted is not None and _fits(wanted[i], sizes[i], width, height):
                    if not _overlaps_any(wanted[i : i + 1], np.concatenate(blocked))[0]:
                        out[i] = wanted[i]
                        placed = np.concatenate([placed, out[i : i + 1]])
                        continue
                candidates = candidates_of(i)
            elif rule == "labels":
                candidates = candidates_of(i)
                blocked = [placed, anchors[i : i + 1]]
            else:
                candidates = _pushed_in(sizes[i], width, height)
                blocked = [placed, *others] if keep_faces_clear else [placed]
            if not len(candidates):
                continue
            free = ~_overlaps_any(candidates, np.concatenate(blocked))
            if free.any():
                out[i] = candidates[np.argmax(free)]
                placed = np.concatenate([placed, out[i : i + 1]])
    return out


def _fits(rect, size, width: int, height: int) -> bool:
    """Whether ``rect`` is a whole-pixel rectangle of ``size`` inside the frame."""
    if not np.isfinite(rect).all():
        return False
    x1, y1, x2, y2 = rect
    return (
        0 <= x1 and 0 <= y1 and x2 <= width and y2 <= height
        and (x2 - x1, y2 - y1) == (float(size[0]), float(size[1]))
    )  # fmt: skip


def keep_beside(before, anchor_before, anchor, size) -> np.ndarray:
    """Where a label that was at ``before`` beside ``anchor_before`` goes beside ``anchor``
    now that it is ``size`` ``(width, height)`` pixels (rectangles float (4,) ``xyxy``): on
    each axis, the same gap to the same side of the face where it was clear of it, the same
    offset between centres where it was across it; rounded to whole pixels."""
    before, old, new = (np.asarray(v, dtype=np.float64) for v in (before, anchor_before, anchor))
    out = np.empty(4)
    for axis, (lo, hi) in enumerate(((0, 2), (1, 3))):
        extent = float(size[axis])
        if before[hi] <= old[lo]:  # before the face on this axis
            start = new[lo] - (old[lo] - before[hi]) - extent
        elif before[lo] >= old[hi]:  # after it
            start = new[hi] + (before[lo] - old[hi])
        else:  # across it: keep the centres' offset
            centre = (before[lo] + before[hi]) / 2 + (new[lo] + new[hi] - old[lo] - old[hi]) / 2
            start = centre - extent / 2
        out[lo], out[hi] = np.round(start), np.round(start) + extent
    return out


def _candidates(anchor, size, width: int, height: int, gap: int) -> np.ndarray:
    """(C, 4) whole-pixel ``xyxy`` candidate rectangles for one label inside the frame,
    nearest to the face first."""
    w, h = float(size[0]), float(size[1])
    if w > width or h > height or w <= 0 or h <= 0:
        return np.zeros((0, 4))
    x1, y1, x2, y2 = (float(v) for v in anchor)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    rows = np.arange(RINGS)
    xs = cx - w / 2 + np.arange(-2 * RINGS, 2 * RINGS + 1) * w / 4  # slid by quarter labels
    ys = cy - h / 2 + np.arange(-RINGS, RINGS + 1) * (h + gap)
    corners, side = [], []
    for k, row_y in enumerate((y1 - gap - h - rows * (h + gap), y2 + gap + rows * (h + gap))):
        grid = np.stack(np.meshgrid(xs, row_y), axis=-1).reshape(-1, 2)
        corners.append(grid)
        side.append(np.full(len(grid), k))  # 0 above, 1 below
    for col_x in (x2 + gap + rows * (w / 4), x1 - gap - w - rows * (w / 4)):
        grid = np.stack(np.meshgrid(col_x, ys), axis=-1).reshape(-1, 2)
        corners.append(grid)
        side.append(np.full(len(grid), 2))  # beside
    corner = np.round(np.concatenate(corners))
    side = np.concatenate(side)
    inside = (corner[:, 0] >= 0) & (corner[:, 0] <= width - w)
    inside &= (corner[:, 1] >= 0) & (corner[:, 1] <= height - h)
    rects = np.concatenate([corner, corner + [w, h]], axis=1)[inside]
    # distance from the label to the face (0 where they touch), then above / below / side
    dx = np.maximum(0, np.maximum(rects[:, 0] - x2, x1 - rects[:, 2]))
    dy = np.maximum(0, np.maximum(rects[:, 1] - y2, y1 - rects[:, 3]))
    off = np.abs((rects[:, 0] + rects[:, 2]) / 2 - cx) / max(w, 1.0)
    key = np.round(np.hypot(dx, dy)) + 0.5 * off + 0.1 * side[inside]
    return rects[np.argsort(key, kind="stable")]


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


def segment_crosses(p, q, rects: np.ndarray) -> bool:
    """Whether the segment from point ``p`` to ``q`` (pixels) passes through the inside of
    any of ``rects`` (M, 4) ``xyxy`` (Liang-Barsky clipping)."""
    (px, py), (qx, qy) = (float(v) for v in p), (float(v) for v in q)
    dx, dy = qx - px, qy - py
    for x1, y1, x2, y2 in np.asarray(rects, dtype=float).reshape(-1, 4):
        t0, t1 = 0.0, 1.0
        for step, room in ((-dx, px - x1), (dx, x2 - px), (-dy, py - y1), (dy, y2 - py)):
            if step == 0:
                if room <= 0:
                    t0, t1 = 1.0, 0.0  # parallel to this edge and outside it
                continue
            t = room / step
            if step < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
        if t0 < t1:
            return True
    return False
