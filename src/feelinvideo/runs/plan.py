"""Planning: a video cut into time ranges that batch like a one-piece run."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..video import seekable

#: A last piece shorter than this fraction of a segment is added to the one before.
MIN_LAST_FRACTION = 0.1


@dataclass(frozen=True)
class Segment:
    """A time range of a video: ``[start_s, end_s)`` seconds of video time, ``end_s`` None
    for the last (to the end, whatever the container states); ``index`` 0-based."""

    index: int
    start_s: float
    end_s: float | None

    @property
    def name(self) -> str:
        return f"segment-{self.index:05d}"


def plan_segments(
    video: str | os.PathLike, duration_s: float, segment_s: float, span_s: float = 0.0
) -> list[Segment]:
    """The segments of a video of ``duration_s`` seconds.

    ``segment_s`` is rounded to a whole number of backend calls (``span_s`` seconds,
    :func:`feelinvideo.stream.call_span_s`: 32 s at one frame a second) so the backend calls,
    and so the results, are those of a one-piece run. One piece when ``segment_s`` is 0,
    the video is not longer than one segment, or it cannot be decoded in ranges with the
    same frames (:func:`feelinvideo.video.seekable`: joined files, elementary streams).
    A last piece under :data:`MIN_LAST_FRACTION` of a segment joins the one before.

    Raises:
        VideoError: the video cannot be opened.
    """

    if segment_s > 0 and span_s > 0:
        segment_s = max(1, round(segment_s / span_s)) * span_s
    if segment_s <= 0 or duration_s <= segment_s * (1 + MIN_LAST_FRACTION):
        return [Segment(0, 0.0, None)]
    if not seekable(video):
        return [Segment(0, 0.0, None)]
    count = max(1, math.ceil(duration_s / segment_s - MIN_LAST_FRACTION))
    return [
        Segment(k, k * segment_s, (k + 1) * segment_s if k < count - 1 else None)
        for k in range(count)
    ]
