"""The settings of one analysis (:class:`AnalyzeOptions`), shared by ``analyze``, segments,
engines and ``watch``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import OptionError
from .schema import (
    DEFAULT_EVERY_S,
    DEFAULT_MIN_EMOTION_FACE_PX,
    DEFAULT_NEUTRAL_MARGIN,
    DEFAULT_REFRESH_S,
    DEFAULT_SMOOTH_S,
    DEFAULT_TOLERANCE,
    DEFAULT_WINDOW_S,
    MAX_WINDOWS,
    OVERLAY_STYLES,
)


@dataclass
class AnalyzeOptions:
    """Settings of one analysis.

    Attributes:
        every_s: sampling interval in seconds of video time (finite, >= 0; 0 = every frame).
        window_s: length of the summary's time windows in seconds (finite, > 0).
        write_video: :meth:`Analysis.save` writes ``overlay.mp4``.
        identity: tell people apart (tracks, dlib embeddings, gallery names, unknown-N)
            and write ``people.json`` / ``people.png``.
        tolerance: largest euclidean embedding distance (0-2; dlib's 0.6) to take a name.
        min_frames: people seen in fewer sampled frames are left out of people.json,
            people.png and the per-person summary, and counted in ``people_left_out``
            (>= 1); None (the default): the measured automatic rule, which leaves out
            unknown people seen in under 5% of the sampled frames and never on one track
            for 3 s (the phantom of a false detection or a split), and keeps everyone
            enrolled
            (:func:`feelinvideo.outputs.people.brief`).
        thumbnails: draw face thumbnails in people.png (the only face crops written).
        reembed_every_s: re-embed a face on a steady track at most once per this many
            seconds of video time (> 0); tracks are also embedded when they start, after a
            cut and when their link is weak.
        smooth_s: time constant in seconds (>= 0) of the per-track moving average of the
            emotion scores the overlay shows (0 = raw; sums use the raw scores).
        overlay: how ``overlay.mp4`` draws faces: ``"emoji"`` (an emoji over each face),
            ``"box"`` (a box in the emotion's colour, the face visible) or ``"blur"`` (every
            face blurred); each with a label beside the face (see
            :class:`feelinvideo.outputs.overlay.FaceOverlay`).
        neutral_margin: the interest verdict's neutral margin per face, in [0, 1]
            (:func:`feelinvideo.schema.verdict`).
        min_emotion_face_px: smallest face (``face_px``, the longer side of its box in
            pixels, >= 0) whose emotion is counted in verdicts, windows and people's
            summaries (``faces.csv``'s ``emotion_reliable``); 0 counts every face.

    Raises:
        ValueError: a value is out of range (checked when the analysis starts).
    """

    every_s: float = DEFAULT_EVERY_S
    window_s: float = DEFAULT_WINDOW_S
    write_video: bool = True
    identity: bool = True
    tolerance: float = DEFAULT_TOLERANCE
    min_frames: int | None = None
    thumbnails: bool = True
    reembed_every_s: float = DEFAULT_REFRESH_S
    smooth_s: float = DEFAULT_SMOOTH_S
    overlay: str = "emoji"
    neutral_margin: float = DEFAULT_NEUTRAL_MARGIN
    min_emotion_face_px: float = DEFAULT_MIN_EMOTION_FACE_PX

    def check(self, duration_s: float | None = None) -> None:
        """Raise OptionError (a ValueError) naming the first setting out of range; with the
        video's ``duration_s``, also when ``window_s`` would cut it into more than
        :data:`MAX_WINDOWS` windows."""
        if not (math.isfinite(self.every_s) and self.every_s >= 0):
            raise OptionError(f"every_s must be a finite number >= 0, got {self.every_s}")
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise OptionError(f"window_s must be a finite number > 0, got {self.window_s}")
        if duration_s is not None and duration_s / self.window_s > MAX_WINDOWS:
            raise OptionError(
                f"--window {self.window_s:g} s cuts the {duration_s:.1f} s video into "
                f"{math.ceil(duration_s / self.window_s):,} windows; at most {MAX_WINDOWS:,} "
                f"(a window of {duration_s / MAX_WINDOWS:.3g} s or more)"
            )
        if not 0 <= self.tolerance <= 2:
            raise OptionError(f"tolerance must be in [0, 2], got {self.tolerance}")
        if not (math.isfinite(self.reembed_every_s) and self.reembed_every_s > 0):
            raise OptionError(
                f"reembed_every_s must be a finite number > 0, got {self.reembed_every_s}"
            )
        if not (math.isfinite(self.smooth_s) and self.smooth_s >= 0):
            raise OptionError(f"smooth_s must be a finite number >= 0, got {self.smooth_s}")
        if not (math.isfinite(self.neutral_margin) and 0 <= self.neutral_margin <= 1):
            raise OptionError(f"neutral_margin must be in [0, 1], got {self.neutral_margin}")
        if not (math.isfinite(self.min_emotion_face_px) and self.min_emotion_face_px >= 0):
            raise OptionError(
                f"min_emotion_face_px must be a finite number >= 0, got {self.min_emotion_face_px}"
            )
        if self.min_frames is not None and self.min_frames < 1:
            raise OptionError(f"min_frames must be >= 1, got {self.min_frames}")
        if self.overlay not in OVERLAY_STYLES:
            raise OptionError(
                f"overlay must be one of {', '.join(OVERLAY_STYLES)}, got {self.overlay!r}"
            )
