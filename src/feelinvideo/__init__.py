"""feelinvideo: who is in a video and how they feel, frame by frame and overall, offline.

The library API (the ``feelinvideo`` command is a thin layer over it)::

    import feelinvideo
    a = feelinvideo.analyze("lecture.mp4")                 # writes nothing
    a.faces            # pandas DataFrame, one row per face per sampled frame (faces.csv)
    a.summary          # dict (summary.json); a.people: per person
    a.save("lecture_feelinvideo")                        # the files, all or none

    batch = feelinvideo.analyze_videos(["a.mp4", "term/"], out="runs", jobs=2, segment_s=300)
    batch.items        # what batch.json holds; batch.analyses: an Analysis per video

    for frame, faces in feelinvideo.analyze_frames("lecture.mp4"):
        ...            # feelinvideo.Faces per sampled frame (xyxy, scores, tracker_id, ...)

    with feelinvideo.open_gallery("class.sqlite", create=True) as g:
        feelinvideo.enroll_folder("students/", g)
    report = feelinvideo.build_report(["term/"])           # class summary over many runs

    feelinvideo.Watch("rtsp://cam/room", "room_today", on_window=print).run()  # live

The package imports nothing heavy: its modules, TensorFlow, dlib, boto3 and matplotlib load on
first use.
"""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("feelinvideo")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from .errors import FeelinvideoError
from .faces import Faces

_LAZY = {
    "Gallery": ("galleries.interface", "Gallery"),
    "open_gallery": ("galleries.open", "open_gallery"),
    "analyze": ("runs.driver", "analyze"),
    "analyze_videos": ("runs.driver", "analyze_videos"),
    "BatchResult": ("runs.driver", "BatchResult"),
    "analyze_frames": ("stream", "analyze_frames"),
    "analyze_stream": ("stream", "analyze_stream"),
    "Watch": ("watch", "Watch"),
    "WatchSettings": ("watch", "WatchSettings"),
    "AnalyzeOptions": ("settings", "AnalyzeOptions"),
    "BackendSpec": ("specs", "BackendSpec"),
    "GallerySpec": ("specs", "GallerySpec"),
    "EngineSpec": ("specs", "EngineSpec"),
    "Analysis": ("analysis", "Analysis"),
    "enroll_folder": ("galleries.enroll", "enroll_folder"),
    "LocalBackend": ("backends.local", "LocalBackend"),
    "build_report": ("report", "build_report"),
}


def __getattr__(name: str):
    """Import the API's modules on first use (pandas only when needed)."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'feelinvideo' has no attribute {name!r}")


__all__ = [
    "Analysis",
    "AnalyzeOptions",
    "BackendSpec",
    "BatchResult",
    "EngineSpec",
    "GallerySpec",
    "Faces",
    "FeelinvideoError",
    "Gallery",
    "LocalBackend",
    "Watch",
    "WatchSettings",
    "__version__",
    "analyze",
    "analyze_frames",
    "analyze_videos",
    "analyze_stream",
    "build_report",
    "enroll_folder",
    "open_gallery",
]
