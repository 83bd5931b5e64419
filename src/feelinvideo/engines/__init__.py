"""Engines run :class:`feelinvideo.segments.SegmentTask` lists: in this process or in
worker processes (:mod:`.local`), or on a Ray cluster (:mod:`.ray`). Each has
``run(tasks, on_time=None) -> Iterator[(task, SegmentResult | error)]`` in the order the
tasks finish; a task's FeelinvideoError or ValueError is handed back, not raised."""

from __future__ import annotations

ENGINES: tuple[str, ...] = ("local", "ray")


def make_engine(
    name: str, jobs: int | None, address: str | None = None, backend=None, gallery=None
):
    """The engine called ``name`` (``local`` or ``ray``) with ``jobs`` workers (None: this
    machine's cores, or the Ray cluster's CPUs); ``backend`` and ``gallery`` are this
    process's, used when the local engine runs in-process.

    Raises:
        FeelinvideoError: ray is asked for but not installed.
        ValueError: an unknown engine.
    """
    if name == "local":
        from .processes import LocalEngine

        return LocalEngine(jobs or default_jobs(), backend=backend, gallery=gallery)
    if name == "ray":
        from .ray import RayEngine

        return RayEngine(jobs, address=address)
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")


def default_jobs() -> int:
    """The number of cores this process may use."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)
