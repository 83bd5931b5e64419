"""The overlay video (``overlay.mp4``) and the annotators that draw one frame of it.

:mod:`.annotators` draws on one frame (supervision's ``annotate(scene, faces) -> scene``):
emoji over the face, a box around it, or the face blurred; :mod:`.labels` adds each face's
label, placed so that labels never overlap (:mod:`.placement`). :mod:`.follow` follows the
sampled frames' faces onto every frame (both ways between samples), by the median flow of
:mod:`.flow`. :mod:`.render` re-decodes the input, draws every frame and writes the video.
"""

from ...schema import OVERLAY_STYLES
from .annotators import EMOTION_COLORS, BlurAnnotator, BoxAnnotator, EmojiAnnotator
from .flow import tracking_scale
from .follow import FaceFollower, FrameFaces, follow_interval
from .labels import LabelAnnotator
from .placement import place_labels
from .render import write_overlay
from .styles import FaceOverlay

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
