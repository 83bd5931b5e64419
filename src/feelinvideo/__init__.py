"""feelinvideo: who is in a video and how they feel, frame by frame and overall, offline.

The package imports nothing heavy: TensorFlow, dlib and boto3 load on first use.
"""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("feelinvideo")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from .errors import FeelinvideoError

__all__ = ["FeelinvideoError", "__version__"]
