"""Segments on a Ray cluster (``--engine ray``): the same :class:`~feelinvideo.runs.task.
SegmentTask` s as the local engine, run by Ray actors that each load the models once and
keep them (:class:`ray.util.ActorPool` hands out the tasks; Ray does the scheduling).

Every node must read the videos at the same path (a shared drive) and have feelinvideo
installed; results come back to this process, which merges and writes the outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..errors import FeelinvideoError


def _ray():
    try:
        import ray
    except ImportError:
        raise FeelinvideoError(
            "--engine ray needs Ray, which is not installed: pip install 'feelinvideo[ray]'"
        ) from None
    return ray


class SegmentWorker:
    """A Ray actor's state: a share of threads and the models, loaded once
    (:func:`feelinvideo.engines.processes.init_worker`)."""

    def __init__(self, threads: int, backend_spec, gallery_spec):
        from .processes import init_worker

        init_worker(threads, backend_spec, gallery_spec)

    def run(self, item):
        """``(position, SegmentResult or error)`` for ``item = (position, task)``."""
        from .processes import work

        position, task = item
        return position, work(task)


class RayEngine:
    """Runs segment tasks on Ray actors.

    Args:
        jobs: actors (one CPU each); None: the cluster's CPUs.
        address: the cluster (``ray.init(address=...)``: ``HOST:6379``, ``auto``); None:
            ``$RAY_ADDRESS`` when set, else a Ray started on this machine for the run.

    Raises:
        FeelinvideoError: Ray is not installed (when run).
    """

    def __init__(self, jobs: int | None = None, address: str | None = None):
        _ray()
        self.jobs = jobs
        self.address = address

    def run(self, tasks: list, on_time: Callable | None = None) -> Iterator[tuple]:
        """``(task, SegmentResult or error)`` per task, as they finish (``on_time`` is not
        called: progress follows finished segments)."""
        import os

        if not tasks:
            return
        ray = _ray()
        started = False
        if not ray.is_initialized():
            address = self.address or os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            else:
                ray.init(
                    num_cpus=self.jobs, include_dashboard=False, log_to_driver=False,
                    configure_logging=False,
                )  # fmt: skip
            started = True
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        count = max(1, min(self.jobs or cpus, cpus, len(tasks)))
        first = tasks[0]
        gallery = first.gallery if first.options.identity else None
        worker = ray.remote(num_cpus=1)(SegmentWorker)
        threads = max(1, cpus // count)
        actors = [worker.remote(threads, first.backend, gallery) for _ in range(count)]
        try:
            from ray.util import ActorPool

            pool = ActorPool(actors)
            items = list(enumerate(tasks))
            for position, outcome in pool.map_unordered(lambda a, it: a.run.remote(it), items):
                yield tasks[position], outcome
        finally:
            for actor in actors:
                ray.kill(actor)
            if started:
                ray.shutdown()
