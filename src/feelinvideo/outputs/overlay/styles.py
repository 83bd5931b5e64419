"""One overlay style with its labels (:class:`FaceOverlay`): what ``analyze --overlay``
draws on each frame, made of the face annotators (:mod:`.annotators`) and the labels
(:mod:`.labels`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...faces import Faces
from ...schema import OVERLAY_STYLES
from .annotators import BlurAnnotator, BoxAnnotator, EmojiAnnotator
from .labels import LabelAnnotator, LabelLayout


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
