"""Labels beside faces (:class:`LabelAnnotator`): ``[emoji] person: emotion score`` on a
background of the emotion's colour, placed by
:func:`~feelinvideo.outputs.overlay.placement.place_labels` so that labels never overlap;
:class:`LabelLayout` is where they go on one frame.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...faces import Faces
from .annotators import EMOTION_COLORS, FONT, EmojiImages, dominant, line_width, text_scale
from .placement import keep_beside, place_labels, segment_crosses


def _label_key(person, tracker_id):
    """What a label follows from frame to frame: the person's name, else the track, else
    nothing (None)."""
    if person:
        return ("person", str(person))
    return ("track", int(tracker_id)) if tracker_id >= 0 else None


def _nearest(a, b) -> tuple[int, int]:
    """The nearest points of two intervals ``a = (a1, a2)`` and ``b = (b1, b2)`` (one
    coordinate of two rectangles): ``(on a, on b)``, the same point where they overlap."""
    if a[1] < b[0]:
        return int(a[1]) - 1, int(b[0])
    if b[1] < a[0]:
        return int(a[0]), int(b[1]) - 1
    mid = int((max(a[0], b[0]) + min(a[1], b[1])) / 2)
    return mid, mid


class LabelAnnotator:
    """Writes ``[emoji] person: emotion score`` beside each face, on a background of the
    emotion's colour, placed so that labels never overlap each other, never cover their own
    face and avoid other faces where there is room
    (:func:`~feelinvideo.outputs.overlay.placement.place_labels`). From one frame to the
    next a person's label keeps its side of the face while that place stays free
    (:func:`~feelinvideo.outputs.overlay.placement.keep_beside`): one annotator per video.

    Args:
        emoji: start each label with the small emoji of its emotion.
        keep_faces_clear: never cover another face with a label (a label with no free
            place is left out); False: cover one rather than leave a label out.
    """

    def __init__(self, emoji: bool = True, keep_faces_clear: bool = True) -> None:
        self._emoji = EmojiImages() if emoji else None
        self.keep_faces_clear = keep_faces_clear
        self.last_rects = np.zeros((0, 4))  # the latest call's label rectangles (tests)
        # person (or track) -> (label rectangle, what covered its face) on the latest frame
        self._previous: dict = {}

    def layout(
        self,
        scene: np.ndarray,
        faces: Faces,
        covered: np.ndarray | None = None,
        obstacles: np.ndarray | None = None,
    ) -> LabelLayout:
        """Where the labels of ``faces`` go on ``scene`` (only its shape is read), without
        drawing them.

        Args:
            covered: float (N, 4) ``xyxy``: what is drawn over each face (default its box);
                its label keeps clear of it, the other labels avoid it.
            obstacles: float (M, 4) ``xyxy``: more areas labels avoid (other blurred faces).
        """
        import cv2

        h, w = scene.shape[:2]
        scale, thick = text_scale(h)
        names, scores = dominant(faces)
        texts, sizes = [], []
        for name, score, person in zip(names, scores, faces.person):
            text = name if np.isnan(score) else f"{name} {score:.2f}"
            texts.append(f"{person}: {text}" if person else text)
            (tw, th), base = cv2.getTextSize(texts[-1], FONT, scale, thick)
            pad = max(2, round(th * 0.3))
            box_h = th + base + 2 * pad
            icon = box_h if self._emoji is not None else 0
            sizes.append((icon + tw + 2 * pad, box_h, pad, base))
        covered = faces.xyxy if covered is None else covered
        gap = max(2, line_width(h))
        keys = [_label_key(p, k) for p, k in zip(faces.person, faces.tracker_id)]
        preferred = np.full((len(keys), 4), np.nan)
        for i, key in enumerate(keys):
            if key in self._previous:
                rect, anchor = self._previous[key]
                preferred[i] = keep_beside(rect, anchor, covered[i], sizes[i][:2])
        rects = place_labels(
            covered,
            [s[:2] for s in sizes],
            (w, h),
            obstacles=obstacles,
            gap=gap,
            keep_faces_clear=self.keep_faces_clear,
            preferred=preferred,
        )
        self.last_rects = rects
        self._previous = {
            key: (rect, np.asarray(anchor, np.float64))
            for key, rect, anchor in zip(keys, rects, covered)
            if key is not None and not np.isnan(rect[0])
        }
        areas = covered if obstacles is None else np.concatenate([covered, obstacles])
        lines = []
        for i, (rect, anchor, name) in enumerate(zip(rects, covered, names)):
            if np.isnan(rect[0]):
                continue
            # a label away from its face gets a leader line, unless it would cross a face
            (lx, bx), (ly, by) = (
                _nearest(rect[0::2], anchor[0::2]),
                _nearest(rect[1::2], anchor[1::2]),
            )
            far = max(abs(lx - bx), abs(ly - by)) > 2 * gap
            if far and not segment_crosses((lx, ly), (bx, by), np.delete(areas, i, axis=0)):
                lines.append(((lx, ly), (bx, by), EMOTION_COLORS[name], max(1, gap // 2)))
        return LabelLayout(rects, texts, names, sizes, lines, scale, thick)

    def draw(self, scene: np.ndarray, layout: LabelLayout) -> np.ndarray:
        """Draw the labels of ``layout`` on ``scene`` (RGB uint8 (H, W, 3), in place);
        return it. Only the pixels of :meth:`LabelLayout.changed` change."""
        import cv2

        for start, end, color, width in layout.lines:
            cv2.line(scene, start, end, color, width)
        for rect, text, name, (_, box_h, pad, base) in zip(
            layout.rects, layout.texts, layout.names, layout.sizes
        ):
            if np.isnan(rect[0]):
                continue
            x1, y1, x2, y2 = (int(v) for v in rect)
            color = EMOTION_COLORS[name]
            scene[y1:y2, x1:x2] = color
            x = x1 + pad
            if self._emoji is not None:
                self._emoji.paste(scene, name, x1, y1, box_h)
                x = x1 + box_h
            light = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2] > 140
            ink = (0, 0, 0) if light else (255, 255, 255)
            cv2.putText(
                scene,
                text,
                (x, y2 - pad - base),
                FONT,
                layout.scale,
                ink,
                layout.thick,
                cv2.LINE_AA,
            )
        return scene

    def annotate(
        self,
        scene: np.ndarray,
        faces: Faces,
        covered: np.ndarray | None = None,
        obstacles: np.ndarray | None = None,
    ) -> np.ndarray:
        """Draw the labels of ``faces`` on ``scene`` (RGB uint8 (H, W, 3), in place);
        return it (:meth:`layout` then :meth:`draw`)."""
        return self.draw(scene, self.layout(scene, faces, covered, obstacles))


class LabelLayout(NamedTuple):
    """Where :class:`LabelAnnotator` draws the labels of one frame.

    Attributes:
        rects: float (N, 4) ``xyxy`` label rectangles (NaN rows: left out).
        texts, names: each label's text and emotion.
        sizes: each label's ``(width, height, padding, baseline)`` in pixels.
        lines: leader lines ``((x1, y1), (x2, y2), colour, width)``.
        scale, thick: OpenCV font scale and stroke thickness.
    """

    rects: np.ndarray
    texts: list[str]
    names: list[str]
    sizes: list[tuple[int, int, int, int]]
    lines: list
    scale: float
    thick: int

    def changed(self) -> tuple[np.ndarray, np.ndarray]:
        """``(read, written)``: float (K, 4) ``xyxy`` rectangles whose pixels drawing the
        labels reads (around the leader lines) and those it may change (the labels, which
        are painted over whole, and around the lines)."""
        rects = self.rects[~np.isnan(self.rects[:, 0])] if len(self.rects) else self.rects
        lines = np.zeros((0, 4))
        if self.lines:
            lines = np.array(
                [
                    [min(x1, x2) - w - 1, min(y1, y2) - w - 1, max(x1, x2) + w + 2,
                     max(y1, y2) + w + 2]
                    for (x1, y1), (x2, y2), _, w in self.lines
                ],
                dtype=np.float64,
            )  # fmt: skip
        return lines, np.concatenate([np.asarray(rects, np.float64).reshape(-1, 4), lines])
