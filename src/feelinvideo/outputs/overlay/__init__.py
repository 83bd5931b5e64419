"""The overlay video (``overlay.mp4``) and the annotators that draw one frame of it.

:mod:`.annotators` draws on one frame (supervision's ``annotate(scene, faces) -> scene``):
emoji over the face, a box around it, or the face blurred, each with labels that never
overlap (:mod:`.placement`). :mod:`.follow` follows the sampled frames' faces onto every
frame (optical flow both ways between samples). :mod:`.render` re-decodes the input, draws
every frame and writes the video.
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
from .follow import FaceFollower, FrameFaces, follow_interval, tracking_scale
from .placement import place_labels
from .render import write_overlay

__all__ = [
    "EMOTION_COLORS",
    "OVERLAY_STYLES",
    "BlurAnnotator",
    "BoxAnnotator",
    "EmojiAnnotator",
    "FaceFollower",
    "FaceOverlay",
    "FrameFaces",
    "LabelAnnotator",
    "follow_interval",
    "place_labels",
    "tracking_scale",
    "write_overlay",
]
