"""A bounded background-thread prefetch: the pipeline's stages (decoding, the models,
identity) each run on their own thread, at most a batch ahead of the next."""

from __future__ import annotations

from collections.abc import Iterator


def run_ahead(items: Iterator, max_ahead: int = 32) -> Iterator:
    """Run the iterator ``items`` (e.g. :func:`iter_frames`) in a background thread, at
    most ``max_ahead`` items ahead of the consumer, so that its work overlaps the
    consumer's (decoding overlaps the models; the models overlap identity).

    PyAV (FFmpeg) and TensorFlow release the GIL while they compute, so on two cores the
    wall time approaches the largest stage instead of the sum of the stages.
    The queue is bounded: memory stays flat however long the video. An error in the
    producer is raised in the consumer; closing the consumer stops the producer. Written
    by hand because the standard library has no bounded, closable thread-prefetch iterator
    (``concurrent.futures`` maps over inputs, it does not pull from a generator).

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
