"""Drawing on one frame, in supervision's style: each annotator has ``annotate(scene, faces)
-> scene`` and changes the RGB uint8 (H, W, 3) ``scene`` in place.

- :class:`EmojiAnnotator`: the emoji of the dominant emotion over each face (the seed's look).
- :class:`BoxAnnotator`: a box around each face, in its emotion's colour, drawn outside the
  box so the face itself is untouched.
- :class:`BlurAnnotator`: each face, slightly enlarged, blurred beyond recognition.

Labels beside the faces are :mod:`.labels`; a style with its labels, :mod:`.styles`.

Colours are per emotion (:data:`EMOTION_COLORS`), the same in every style. Text size,
outline width and gaps grow with the frame's height (:func:`text_scale`), so labels read
alike from 360p to 4K. The emoji PNGs in ``feelinvideo/emoji/`` are drawn by this project
(``scripts/draw_emoji.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import OutputError
from ...faces import Faces
from ...schema import EMOTIONS

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


class EmojiImages:
    """The seven emoji images (RGBA), resized on demand with a small cache, each size kept
    with its alpha as three channels for OpenCV's saturating uint8 blend (numpy's float
    blend, with its temporary arrays, was several times slower when profiled)."""

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
        self._emoji = EmojiImages()

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
