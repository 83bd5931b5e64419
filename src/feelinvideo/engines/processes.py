"""Segments on this machine: in this process (``--jobs 1`` or a single task), or in worker
processes (:class:`concurrent.futures.ProcessPoolExecutor`).

Workers are started with the *spawn* method (TensorFlow is not fork-safe: a forked child
inherits its thread pools in an unusable state) and an initializer that gives each worker
a fair share of the cores (TensorFlow's intra-op threads, OpenCV's threads) and loads the
models once, so a worker pays the model load once however many segments it analyses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..cores import available_cores
from ..errors import FeelinvideoError
from ..interrupts import register_stopper, unregister_stopper

#: per worker process: {(backend spec, gallery spec): (backend, gallery)}
_MODELS: dict = {}


def share_threads(threads: int) -> None:
    """Limit this process to ``threads`` compute threads: OpenCV's pool, BLAS/OpenMP pools
    and, should TensorFlow start (only to convert a model, or as a fallback), its intra-op
    pool and one inter-op thread. TensorFlow is not imported for this: it reads
    ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` when it starts."""
    import sys

    threads = max(1, int(threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow already started in this process: keep its pools
            pass
    import cv2

    cv2.setNumThreads(threads)


def models(backend_spec, gallery_spec):
    """This process's ``(backend, gallery)`` for the specs, built once and kept."""
    key = (backend_spec, gallery_spec)
    if key not in _MODELS:
        backend = backend_spec.build()
        gallery = gallery_spec.open() if gallery_spec is not None else None
        _MODELS[key] = (backend, gallery)
    return _MODELS[key]


def warm_up(backend) -> None:
    """Load the backend's models now (one call on a blank frame) rather than in the first
    segment."""
    import numpy as np

    backend.analyze([np.zeros((64, 64, 3), np.uint8)])


def init_worker(threads: int, backend_spec, gallery_spec) -> None:
    """Pool initializer: a share of the threads, then the models, loaded once."""
    share_threads(threads)
    backend, _ = models(backend_spec, gallery_spec)
    if backend_spec.kind == "local":
        warm_up(backend)


def work(task):
    """Run one task in a worker with its cached models; errors are returned, not raised
    (they cross back to the parent as values)."""
    backend, gallery = models(task.backend, task.gallery if task.options.identity else None)
    try:
        return task.run(backend, gallery)
    except (FeelinvideoError, ValueError) as exc:
        return exc


class LocalEngine:
    """Runs segment tasks in ``jobs`` worker processes on this machine.

    Args:
        jobs: worker processes (>= 1); 1 runs every task in this process, as does a run
            of a single task (no model load in a second process).
        backend, gallery: this process's backend and open gallery, used in-process
            (default: built from the tasks' specs).

    Raises:
        ValueError: ``jobs`` < 1.
    """

    def __init__(self, jobs: int, backend=None, gallery=None):
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = int(jobs)
        self.backend = backend
        self.gallery = gallery

    def run(self, tasks: list, on_time: Callable | None = None) -> Iterator[tuple[object, object]]:
        """``(task, SegmentResult or error)`` per task, as they finish.

        Args:
            tasks: :class:`~feelinvideo.runs.task.SegmentTask` list.
            on_time: ``on_time(task, seconds)`` as an in-process task advances.
        """
        if not tasks:
            return
        if self.jobs == 1 or len(tasks) == 1:
            yield from self._in_process(tasks, on_time)
        else:
            yield from self._pool(tasks)

    def _in_process(self, tasks, on_time):
        """Run the tasks here, with backends built for this engine (not the workers'
        process-wide cache: a library caller's next run may point elsewhere, e.g. another
        endpoint or gallery) and galleries opened for this run and closed after it."""
        backends: dict = {}
        galleries: dict = {}
        try:
            for task in tasks:
                backend = self.backend
                if backend is None:
                    if task.backend not in backends:
                        backends[task.backend] = task.backend.build()
                    backend = backends[task.backend]
                gallery = self.gallery
                if gallery is None and task.gallery is not None and task.options.identity:
                    if task.gallery not in galleries:
                        galleries[task.gallery] = task.gallery.open()
                    gallery = galleries[task.gallery]

                def advance(t: float, task=task) -> None:
                    if on_time is not None:
                        on_time(task, t)

                try:
                    yield task, task.run(backend, gallery, advance)
                except (FeelinvideoError, ValueError) as exc:
                    yield task, exc
        finally:
            for opened in galleries.values():
                opened.close()

    def _pool(self, tasks):
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        workers = min(self.jobs, len(tasks))
        threads = max(1, available_cores() // workers)
        first = tasks[0]
        gallery = first.gallery if first.options.identity else None
        if self.backend is not None:
            self.backend.prepare()  # model copies made once here, not in every worker
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(threads, first.backend, gallery),
        )
        pending: dict = {}
        finished = False
        # an interrupt that leaves this generator suspended (caught above it, not closed)
        # still ends the workers, from interrupts.stop_stages
        register_stopper(pool, lambda: stop_workers(pool))
        try:
            with _sigint_blocked():  # the workers start now, and inherit the blocked signal
                for task in tasks:
                    pending[pool.submit(work, task)] = task
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    task = pending.pop(future)
                    yield task, future.result()
            finished = True
        finally:
            unregister_stopper(pool)
            if not finished:  # interrupted, or the caller stopped early: nobody wants the rest
                stop_workers(pool)
            pool.shutdown(wait=not finished, cancel_futures=True)  # the stopped ones reaped


def stop_workers(pool) -> None:
    """End a process pool's workers now (SIGTERM), in the middle of their tasks: on Ctrl-C
    or SIGTERM the parent stops them instead of waiting for their segments to finish
    (``shutdown`` only cancels the tasks not yet started). A worker's model child process (YuNet's)
    ends when its pipes close. Python 3.14's ``terminate_workers`` where there is one; before
    it, ``concurrent.futures`` has no public way, so its ``_processes`` table is used."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.terminate()
        except (OSError, ValueError, AttributeError):
            pass  # already gone


@contextmanager
def _sigint_blocked():
    """Block SIGINT in this thread while worker processes start, so that they start with it
    blocked: a terminal's Ctrl-C goes to the whole process group, and a worker that took it
    would print its own ``KeyboardInterrupt`` traceback. The parent stops the workers
    (:func:`stop_workers`). A SIGINT that arrives meanwhile is delivered when the block
    ends. Where signal masks do not exist (Windows), nothing is done."""
    import signal

    block = getattr(signal, "pthread_sigmask", None)
    if block is None:
        yield
        return
    from multiprocessing import resource_tracker

    # multiprocessing's resource tracker is started first: starting it unblocks SIGINT in
    # the calling thread
    resource_tracker.ensure_running()
    before = block(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, before)
