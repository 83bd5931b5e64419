"""Errors raised by feelinvideo's library code.

Every error names the file or thing it is about and what was expected versus what was
found, in one line. Only :mod:`feelinvideo.cli` turns them into messages and exit codes.
"""

from __future__ import annotations


class FeelinvideoError(Exception):
    """Base class of every error feelinvideo raises on purpose."""


class InputError(FeelinvideoError):
    """An input file is missing, unreadable or not what it should be."""


class VideoError(InputError):
    """A video is missing, not a video, corrupt or truncated."""


class ImageError(InputError):
    """An image is missing, unreadable, or holds no usable face."""


class CsvError(InputError):
    """A CSV is missing, empty, not a CSV, or lacks required columns."""


class OutputError(FeelinvideoError):
    """An output folder or file cannot be written."""


class GalleryError(FeelinvideoError):
    """A face gallery is corrupt, missing or does not hold what was asked."""


class BackendError(FeelinvideoError):
    """A face/emotion backend failed (model missing, service error, no credentials)."""


class MissingDependencyError(FeelinvideoError):
    """An optional dependency is not installed; the message says how to install it."""


class OptionError(FeelinvideoError, ValueError):
    """A setting is out of range (the CLI reports it as a usage error, exit status 2)."""
