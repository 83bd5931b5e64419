"""The overlay video (``overlay.mp4``) and the annotators that draw one frame of it.

:mod:`.annotators` draws on one frame (supervision's ``annotate(scene, faces) -> scene``):
emoji over the face, a box around it, or the face blurred, each with labels that never
overlap (:mod:`.placement`). :mod:`.video` re-decodes the input and writes the video.
"""

from ...schema import OVERLAY_STYLES
from .annotators import (
    EMOTION_COLORS,
    BlurAnnotator,
    BoxAnnotator,
    EmojiAnnotator,
    FaceOverlay,
    LabelAnnotator,
)
from .placement import place_labels
from .render import faces_between, write_overlay

__all__ = [
    "EMOTION_COLORS",
    "OVERLAY_STYLES",
    "BlurAnnotator",
    "BoxAnnotator",
    "EmojiAnnotator",
    "FaceOverlay",
    "LabelAnnotator",
    "faces_between",
    "place_labels",
    "write_overlay",
]
