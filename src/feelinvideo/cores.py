"""How many cores this process may use (its CPU affinity where the system has one)."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The number of cores this process may use (``os.sched_getaffinity``, else
    ``os.cpu_count()``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)
