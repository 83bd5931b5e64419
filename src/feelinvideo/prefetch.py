"""A bounded background-thread prefetch: the pipeline's stages (decoding, the models,
identity) each run on their own thread, at most a batch ahead of the next."""

from __future__ import annotations

from collections.abc import Iterator


def run_ahead(items: Iterator, max_ahead: int = 32, niceness: int = 0) -> Iterator:
    """Run the iterator ``items`` (e.g. :func:`iter_frames`) in a background thread, at
    most ``max_ahead`` items ahead of the consumer, so that its work overlaps the
    consumer's (decoding overlaps the models; the models overlap identity).

    PyAV (FFmpeg) and OpenCV release the GIL while they compute, so on two cores the
    wall time approaches the largest stage instead of the sum of the stages.
    The queue is bounded: memory stays flat however long the video. An error in the
    producer is raised in the consumer; closing the consumer stops the producer. Written
    by hand because the standard library has no bounded, closable thread-prefetch iterator
    (``concurrent.futures`` maps over inputs, it does not pull from a generator).

    With ``niceness`` > 0 (Linux only, where the nice value is per thread), the producer
    thread, and the threads it starts (FFmpeg's decoding threads), run at that lower
    priority: see :func:`lower_priority`.

    Raises:
        whatever ``items`` raises (VideoError for a corrupt file), in the consumer.
    """
    import queue
    import threading

    source = items
    done = object()
    pending: queue.Queue = queue.Queue(maxsize=max(1, int(max_ahead)))
    stop = threading.Event()

    def put(item) -> bool:
        """Queue ``item`` unless the consumer has gone; False when it has."""
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
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

    worker = threading.Thread(target=produce, name="feelinvideo-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = pending.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=10)


def lower_priority(niceness: int) -> bool:
    """Raise the calling thread's nice value by ``niceness`` (lower its CPU priority), on
    Linux only, where ``setpriority(PRIO_PROCESS, thread id)`` acts on one thread (elsewhere
    a thread id is no process id: nothing is done). Threads it starts afterwards inherit it.

    Why the pipeline uses it: decoding runs ahead of the models and identity, so when they
    are behind, the CPU decoding takes on two cores is taken from the stage everything
    waits for (dlib's and YuNet's child processes). At nice 10 the decoding thread gets the
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
