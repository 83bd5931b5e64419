"""Live watching (``feelinvideo watch SOURCE``): a camera, a network stream or a file played
at its own pace, analysed as it comes by the same pipeline as ``analyze``
(:func:`feelinvideo.pipeline.analyze_stream`).

Modules, one stage each: :mod:`.source` (open and read with PyAV, wall-clock sampling,
newest frame wins, reconnection), :mod:`.people` (live names and bounded identity state),
:mod:`.windows` (per-window numbers and run totals), :mod:`.metrics` (Prometheus),
:mod:`.sink` (the output folder) and :mod:`.session` (the watch that joins them).
"""

from __future__ import annotations

from .session import Watch, WatchSettings
from .source import LiveSource, SourceSpec, parse_source

__all__ = ["LiveSource", "SourceSpec", "Watch", "WatchSettings", "parse_source"]
