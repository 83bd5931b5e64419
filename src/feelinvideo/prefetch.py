"""A bounded background-thread prefetch: the pipeline's stages (decoding, the models,
identity) each run on their own thread, at most a batch ahead of the next; each thread is
registered with :mod:`feelinvideo.interrupts`, which stops and joins them on a signal or
at exit."""

from __future__ import annotations

from collections.abc import Iterator

from .interrupts import STOP_TIMEOUT_S, register_stage, unregister_stage

#: how often, in seconds, a stage waiting on its queue looks whether it was stopped
POLL_S = 0.1


class StageStopped(Exception):
    """A stage's consumer was still waiting when the stage was stopped from outside
    (:func:`feelinvideo.interrupts.stop_stages`: the run is ending on a signal or at the
    interpreter's exit)."""


def run_ahead(items: Iterator, max_ahead: int = 32, niceness: int = 0) -> Iterator:
    """Run the iterator ``items`` (e.g. :func:`iter_frames`) in a background thread, at
    most ``max_ahead`` items ahead of the consumer, so that its work overlaps the
    consumer's (decoding overlaps the models; the models overlap identity).

    PyAV (FFmpeg) and OpenCV release the GIL while they compute, so on two cores the
    wall time approaches the largest stage instead of the sum of the stages.
    The queue is bounded: memory stays flat however long the video. An error in the
    producer is raised in the consumer. Closing the consumer (or leaving its loop by an
    exception, once the generator is closed) stops the producer and joins its thread; so
    does :func:`feelinvideo.interrupts.stop_stages` (Ctrl-C, SIGTERM, the interpreter's
    exit), where a consumer still waiting gets :class:`StageStopped`. The producer closes
    ``items`` when it ends. Written by hand because the standard library has no bounded,
    closable thread-prefetch iterator (``concurrent.futures`` maps over inputs, it does not
    pull from a generator).

    With ``niceness`` > 0 (Linux only, where the nice value is per thread), the producer
    thread, and the threads it starts (FFmpeg's decoding threads), run at that lower
    priority: see :func:`lower_priority`.

    Raises:
        whatever ``items`` raises (VideoError for a corrupt file), in the consumer;
        StageStopped: the stage was stopped from outside (:func:`stop_stages`).
    """
    import queue
    import threading

    source = items
    done = object()
    pending: queue.Queue = queue.Queue(maxsize=max(1, int(max_ahead)))
    stop = threading.Event()

    def put(item) -> bool:
        """Queue ``item`` unless the stage was stopped; False when it was."""
        while not stop.is_set():
            try:
                pending.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            if niceness > 0:
                lower_priority(niceness)
            try:
                for item in source:
                    if not put(item):
                        break
                outcome = done
            except BaseException as exc:  # forwarded to the consumer and raised there
                outcome = exc
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
            put(outcome)
        finally:
            unregister_stage(threading.current_thread())

    worker = threading.Thread(target=produce, name="feelinvideo-ahead", daemon=True)
    register_stage(worker, stop)
    worker.start()
    try:
        while True:
            if stop.is_set():  # stopped from outside: the items ahead are not wanted
                raise StageStopped("the pipeline was stopped")
            try:
                item = pending.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=STOP_TIMEOUT_S)


def lower_priority(niceness: int) -> bool:
    """Raise the calling thread's nice value by ``niceness`` (lower its CPU priority), on
    Linux only, where ``setpriority(PRIO_PROCESS, thread id)`` acts on one thread (elsewhere
    a thread id is no process id: nothing is done). Threads it starts afterwards inherit it.

    Why the pipeline uses it: decoding runs ahead of the models and identity, so when they
    are behind, the CPU decoding takes on two cores is taken from the stage everything
    waits for (the models; measured when dlib's descriptor and YuNet ran in child processes,
    YuNet still does). At nice 10 the decoding thread gets the
    CPU the others leave: the 2-minute classroom mosaic with YuNet took 16.8-17.7 s instead
    of 19.7-21.4 s (alternating runs in one session), the same results. When decoding is
    the slowest stage nothing else is runnable, so it loses nothing. Returns True when done.
    """
    import os
    import sys
    import threading

    if sys.platform != "linux" or niceness <= 0:
        return False
    thread = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, now + int(niceness))
    except OSError:
        return False
    return True
