"""Drawing on one frame, in supervision's style: each annotator has ``annotate(scene, faces)
-> scene`` and changes the RGB uint8 (H, W, 3) ``scene`` in place.

- :class:`EmojiAnnotator`: the emoji of the dominant emotion over each face (the seed's look).
- :class:`BoxAnnotator`: a box around each face, in its emotion's colour, drawn outside the
  box so the face itself is untouched.
- :class:`BlurAnnotator`: each face, slightly enlarged, blurred beyond recognition.
- :class:`LabelAnnotator`: ``[emoji] person: emotion score`` beside each face, placed by
  :func:`~feelinvideo.outputs.overlay.placement.place_labels` (labels never overlap).
- :class:`FaceOverlay`: one of the three styles (``emoji``, ``box``, ``blur``) with its labels.

Colours are per emotion (:data:`EMOTION_COLORS`), the same in every style. Text size,
outline width and gaps grow with the frame's height (:func:`text_scale`), so labels read
alike from 360p to 4K. The emoji PNGs in ``feelinvideo/emoji/`` are drawn by this project
(``scripts/draw_emoji.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ...errors import OutputError
from ...faces import Faces
from ...schema import EMOTIONS, OVERLAY_STYLES
from .placement import keep_beside, place_labels, segment_crosses

EMOJI_DIR = Path(__file__).resolve().parents[2] / "emoji"
#: RGB colour of each emotion's box and label (red anger, green disgust, purple fear,
#: yellow happiness, blue sadness, orange surprise, grey neutral)
EMOTION_COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (220, 40, 40),
    "disgust": (50, 150, 50),
    "fear": (150, 80, 200),
    "happy": (250, 200, 0),
    "sad": (40, 110, 230),
    "surprise": (255, 130, 0),
    "neutral": (170, 170, 170),
}
FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX


def text_scale(height: int) -> tuple[float, int]:
    """OpenCV font scale and stroke thickness (px) for a frame ``height`` pixels tall.

    Proportional to the height (0.6 at 720p: text about 1.8% of the frame's height), never
    below 0.45 (about 10 px tall letters, the smallest that read well at 360p and below).
    """
    scale = max(0.45, 0.6 * height / 720)
    return scale, max(1, round(1.7 * scale))


def line_width(height: int) -> int:
    """Outline width in pixels for a frame ``height`` pixels tall (2 up to 720p, 6 at 4K)."""
    return max(2, round(height / 360))


def dominant(faces: Faces) -> tuple[list[str], np.ndarray]:
    """The emotion each face shows and its score: the dominant one of
    :attr:`Faces.display_scores` (track-smoothed where known); ``"neutral"`` and NaN for a
    face not scored."""
    shown = faces.display_scores
    names, scores = [], np.full(len(faces), np.nan)
    for i, row in enumerate(shown):
        if np.isfinite(row).any():
            k = int(np.nanargmax(row))
            names.append(EMOTIONS[k])
            scores[i] = float(row[k])
        else:
            names.append("neutral")
    return names, scores


class _Emoji:
    """The seven emoji images (RGBA), resized on demand with a small cache, each size kept
    with its alpha as three channels for OpenCV's saturating uint8 blend (numpy's float
    blend of a 200-px emoji cost about 1 ms; this one a tenth of it)."""

    def __init__(self) -> None:
        import cv2

        self._images = {}
        for name in EMOTIONS:
            bgra = cv2.imread(str(EMOJI_DIR / f"{name}.png"), cv2.IMREAD_UNCHANGED)
            if bgra is None:  # pragma: no cover - files ship with the package
                raise OutputError(f"{EMOJI_DIR / name}.png: emoji image missing from the package")
            self._images[name] = cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)
        self._cache: dict[tuple[str, int], tuple[np.ndarray, ...]] = {}

    def sized(self, name: str, side: int) -> np.ndarray:
        """The emoji ``side`` x ``side`` pixels, RGBA uint8 (side, side, 4)."""
        return self._sized(name, side)[0]

    def _sized(self, name: str, side: int) -> tuple[np.ndarray, ...]:
        """``(rgba, rgb, alpha, 255 - alpha)`` at ``side`` pixels (uint8, the last three
        (side, side, 3) and contiguous)."""
        import cv2

        key = (name, side)
        if key not in self._cache:
            if len(self._cache) > 512:
                self._cache.clear()
            rgba = cv2.resize(self._images[name], (side, side), interpolation=cv2.INTER_AREA)
            alpha = np.ascontiguousarray(np.repeat(rgba[:, :, 3:4], 3, axis=2))
            self._cache[key] = (rgba, np.ascontiguousarray(rgba[:, :, :3]), alpha, 255 - alpha)
        return self._cache[key]

    def paste(self, scene: np.ndarray, name: str, left: int, top: int, side: int) -> None:
        """Alpha-blend the ``side`` x ``side`` emoji with its top-left corner at
        ``(left, top)``, cut at the frame's edges (``rgb * a / 255 + scene * (255 - a) /
        255``, each term rounded)."""
        import cv2

        h, w = scene.shape[:2]
        if side < 2:
            return
        sx0, sy0 = max(0, -left), max(0, -top)
        dx0, dy0 = max(0, left), max(0, top)
        dx1, dy1 = min(w, left + side), min(h, top + side)
        if dx1 <= dx0 or dy1 <= dy0:
            return
        _, rgb, alpha, rest = self._sized(name, side)
        cut = np.s_[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
        region = scene[dy0:dy1, dx0:dx1]
        over = cv2.multiply(rgb[cut], alpha[cut], scale=1 / 255)
        region[:] = cv2.add(over, cv2.multiply(region, rest[cut], scale=1 / 255))


def _int_boxes(xyxy: np.ndarray) -> np.ndarray:
    """Boxes rounded outward to whole pixels (int64 (N, 4), half-open)."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([np.floor(xyxy[:, :2]), np.ceil(xyxy[:, 2:])], axis=1).astype(np.int64)


class EmojiAnnotator:
    """Covers each face with the emoji of its dominant emotion: a square as large as the
    box's longer side, centred on the box (the seed's look).

    Raises:
        OutputError: an emoji image is missing from the installed package.
    """

    def __init__(self) -> None:
        self._emoji = _Emoji()

    def covered(self, faces: Faces, scene: np.ndarray | None = None) -> np.ndarray:
        """float (N, 4) ``xyxy``: the squares the emoji cover (``scene`` unused; the
        signature is the other annotators')."""
        xyxy = faces.xyxy.astype(np.float64)
        side = np.round(np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]))
        left = np.round((xyxy[:, 0] + xyxy[:, 2]) / 2 - side / 2)
        top = np.round((xyxy[:, 1] + xyxy[:, 3]) / 2 - side / 2)
        return np.stack([left, top, left + side, top + side], axis=1)

    def changed(self, faces: Faces, scene: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(read, written)``: float (K, 4) ``xyxy`` rectangles whose pixels
        :meth:`annotate` reads, and those it may change (here both the emoji squares)."""
        squares = self.covered(faces, scene)
        return squares, squares

    def annotate(self, scene: np.ndarray, faces: Faces) -> np.ndarray:
        """Draw the emoji over ``faces`` on ``scene`` (RGB uint8 (H, W, 3), in place);
        return it. Faces under 4 px are skipped."""
        names, _ = dominant(faces)
        for (left, top, right, _), name in zip(self.covered(faces), names):
            side = int(right - left)
            if side >= 4:
                self._emoji.paste(scene, name, int(left), int(top), side)
        return scene


class BoxAnnotator:
    """Draws a box around each face in the colour of its dominant emotion
    (:data:`EMOTION_COLORS`), as fer and py-feat draw. The outline lies just outside the
    face box, so every pixel inside the box stays as it was.

    Args:
        thickness: outline width in pixels; None: :func:`line_width` of the frame.
    """

    def __init__(self, thickness: int | None = None) -> None:
        self.thickness = thickness

    def _width(self, scene: np.ndarray) -> int:
        return self.thickness or line_width(scene.shape[0])

    def covered(self, faces: Faces, scene: np.ndarray) -> np.ndarray:
        """float (N, 4) ``xyxy``: each face box with its outline."""
        t = self._width(scene)
        return (_int_boxes(faces.xyxy) + [-t, -t, t, t]).astype(np.float64)

    def changed(self, faces: Faces, scene: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(read, written)``: float (K, 4) ``xyxy`` rectangles whose pixels
        :meth:`annotate` reads (none: the outline is painted over) and those it may change
        (the four bands of each outline, not the face inside)."""
        t = self._width(scene)
        bands = []
        for x1, y1, x2, y2 in _int_boxes(faces.xyxy):
            ox1, oy1, ox2, oy2 = x1 - t, y1 - t, x2 + t, y2 + t
            bands += [
                [ox1, oy1, ox2, y1],
                [ox1, y2, ox2, oy2],
                [ox1, y1, x1, y2],
                [x2, y1, ox2, y2],
            ]
        return np.zeros((0, 4)), np.asarray(bands, dtype=np.float64).reshape(-1, 4)

    def annotate(self, scene: np.ndarray, faces: Faces) -> np.ndarray:
        """Draw the outlines on ``scene`` (RGB uint8 (H, W, 3), in place); return it."""
        h, w = scene.shape[:2]
        t = self._width(scene)
        names, _ = dominant(faces)
        for (x1, y1, x2, y2), name in zip(_int_boxes(faces.xyxy), names):
            color = EMOTION_COLORS[name]
            ox1, oy1 = max(0, x1 - t), max(0, y1 - t)
            ox2, oy2 = min(w, x2 + t), min(h, y2 + t)
            scene[oy1 : max(oy1, y1), ox1:ox2] = color  # top band
            scene[min(oy2, y2) : oy2, ox1:ox2] = color  # bottom band
            scene[oy1:oy2, ox1 : max(ox1, x1)] = color  # left band
            scene[oy1:oy2, min(ox2, x2) : ox2] = color  # right band
        return scene


class BlurAnnotator:
    """Blurs each face beyond recognition: the box, enlarged by ``pad`` of its longer side on
    every side (hair, ears, a box a little off), shrunk to about ``cells`` pixels across,
    smoothed and scaled back (a pixelation smoothed so no block edges are left).

    Args:
        pad: enlargement of each side, as a fraction of the box's longer side (>= 0).
        cells: detail kept across the enlarged box (>= 2; 8: a face is a few blobs of colour).
    """

    def __init__(self, pad: float = 0.2, cells: int = 8) -> None:
        self.pad = pad
        self.cells = max(2, int(cells))

    def covered(self, faces: Faces, scene: np.ndarray) -> np.ndarray:
        """float (N, 4) ``xyxy``: the blurred areas (enlarged boxes clipped to the frame)."""
        h, w = scene.shape[:2]
        xyxy = faces.xyxy.astype(np.float64).reshape(-1, 4)
        grow = self.pad * np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1])
        out = _int_boxes(xyxy + np.stack([-grow, -grow, grow, grow], axis=1))
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
        return out.astype(np.float64)

    def changed(self, faces: Faces, scene: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(read, written)``: float (K, 4) ``xyxy`` rectangles whose pixels
        :meth:`annotate` reads, and those it may change (here both the blurred areas)."""
        areas = self.covered(faces, scene)
        return areas, areas

    def annotate(self, scene: np.ndarray, faces: Faces) -> np.ndarray:
        """Blur the faces on ``scene`` (RGB uint8 (H, W, 3), in place); return it."""
        import cv2

        for x1, y1, x2, y2 in self.covered(faces, scene).astype(np.int64):
            bw, bh = x2 - x1, y2 - y1
            if bw < 2 or bh < 2:
                continue
            roi = scene[y1:y2, x1:x2]
            k = self.cells / max(bw, bh)
            small = cv2.resize(
                roi, (max(2, round(bw * k)), max(2, round(bh * k))), interpolation=cv2.INTER_AREA
            )
            small = cv2.GaussianBlur(small, (0, 0), 1.0, borderType=cv2.BORDER_REPLICATE)
            roi[:] = cv2.resize(small, (int(bw), int(bh)), interpolation=cv2.INTER_LINEAR)
        return scene


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
        self._emoji = _Emoji() if emoji else None
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


class FaceOverlay:
    """One overlay style with its labels: what ``analyze --overlay`` draws on each frame.

    - ``"emoji"``: the emoji over each face (hides it), label beside it (the seed's look);
      in a crowd a label may cover another face's emoji rather than be left out.
    - ``"box"``: the face visible, a box in its emotion's colour, label with a small emoji;
      labels never cover a face (in a dense crowd a label with no free place is left out).
    - ``"blur"``: every face given blurred, label with a small emoji beside the blur, never
      over a face. Which faces are given (the sampled faces followed onto the frame and
      the detector's faces on it) is :mod:`~feelinvideo.outputs.overlay.render`'s part:
      what that promises is in docs/outputs.md, "What the blur promises".

    Args:
        style: one of :data:`OVERLAY_STYLES`.

    Raises:
        ValueError: an unknown style.
        OutputError: an emoji image is missing from the installed package.
    """

    def __init__(self, style: str = "emoji") -> None:
        if style not in OVERLAY_STYLES:
            raise ValueError(f"overlay must be one of {', '.join(OVERLAY_STYLES)}, got {style!r}")
        self.style = style
        self.faces = {"emoji": EmojiAnnotator, "box": BoxAnnotator, "blur": BlurAnnotator}[style]()
        # labels may cover another face's emoji, never a face shown (box) or blurred
        self.labels = LabelAnnotator(emoji=style != "emoji", keep_faces_clear=style != "emoji")

    def covered(self, faces: Faces, scene: np.ndarray) -> np.ndarray:
        """float (N, 4) ``xyxy``: what this style draws over each face."""
        return self.faces.covered(faces, scene)

    def layout(self, scene: np.ndarray, faces: Faces, hidden: Faces | None = None) -> Layout:
        """What :meth:`draw` draws on a frame like ``scene`` (only its shape is read):
        ``faces`` with their labels and, in the ``blur`` style, ``hidden`` blurred without
        one."""
        if hidden is None or not len(hidden) or self.style != "blur":
            hidden = Faces.empty()
        hidden_covered = self.covered(hidden, scene)
        covered = self.covered(faces, scene)
        obstacles = hidden_covered if len(hidden) else None
        labels = self.labels.layout(scene, faces, covered=covered, obstacles=obstacles)
        return Layout(faces, hidden, covered, hidden_covered, labels)

    def draw(self, scene: np.ndarray, layout: Layout) -> np.ndarray:
        """Draw ``layout`` on ``scene`` (RGB uint8 (H, W, 3), in place); return it. Only
        the pixels of :meth:`Layout.changed` are read or changed."""
        if len(layout.hidden):
            self.faces.annotate(scene, layout.hidden)
        self.faces.annotate(scene, layout.faces)
        return self.labels.draw(scene, layout.labels)

    def annotate(self, scene: np.ndarray, faces: Faces, hidden: Faces | None = None) -> np.ndarray:
        """Draw ``faces`` on ``scene`` (RGB uint8 (H, W, 3), in place); return it.

        Args:
            hidden: more faces to blur without a label (``"blur"`` only): faces the
                detector found that no label is for, second paths of a followed face.
        """
        return self.draw(scene, self.layout(scene, faces, hidden))


class Layout(NamedTuple):
    """What :class:`FaceOverlay` draws on one frame.

    Attributes:
        faces: the faces drawn with labels; hidden: the faces only blurred.
        covered, hidden_covered: float (N, 4) / (M, 4) ``xyxy``: what is drawn over them.
        labels: the labels' :class:`LabelLayout`.
    """

    faces: Faces
    hidden: Faces
    covered: np.ndarray
    hidden_covered: np.ndarray
    labels: LabelLayout

    def changed(self, annotator: FaceOverlay, scene: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(read, written)``: float (K, 4) ``xyxy`` rectangles whose pixels drawing this
        layout with ``annotator`` on a frame like ``scene`` reads, and those it may change:
        every other pixel is neither read nor changed."""
        reads, writes = [], []
        for faces in (self.hidden, self.faces):
            r, w = annotator.faces.changed(faces, scene)
            reads.append(r)
            writes.append(w)
        r, w = self.labels.changed()
        return np.concatenate([*reads, r]), np.concatenate([*writes, w])
