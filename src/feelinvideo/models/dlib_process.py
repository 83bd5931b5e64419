"""dlib's descriptor network in a child process, so that it runs beside the pipeline's
threads instead of stopping them.

Why: dlib's Python binding holds the GIL for the whole network call (about 60-100 ms a
face here). The pipeline decodes and runs TensorFlow on other threads meanwhile, and
those need the GIL between native calls: measured with a spinning thread, its rate drops
14-fold during a dlib call, against barely at all during MTCNN or decoding. In a child
process the network runs while the caller waits on a pipe with the GIL released.

How: the child is ``python -c "...serve()"`` started with :mod:`subprocess`, reading chips
and writing descriptors over its stdin and stdout as NumPy ``.npy`` arrays
(:func:`numpy.save`), each preceded by its length in bytes (8 bytes, little-endian).
``multiprocessing`` is not used because its ``spawn`` start method re-runs the caller's
main script in the child, which a user's script without an ``if __name__ == "__main__"``
guard does not survive (and ``fork`` is unsafe beside TensorFlow). The child loads the
models once, ignores Ctrl-C (the parent handles it) and exits when its stdin closes, also
when the parent is killed. If it cannot start or dies, :meth:`EncoderProcess.encode`
computes in this process instead: the same numbers, only without the overlap; so it does
with the environment variable ``FEELINVIDEO_DLIB_PROCESS=0``.
"""

from __future__ import annotations

import atexit
import io
import os
import subprocess
import sys
import threading

import numpy as np

from .dlib import _models, chip_encodings

_SERVE = "from feelinvideo.models.dlib_process import serve; serve()"


def _send(pipe, array: np.ndarray) -> None:
    """Write ``array`` to ``pipe`` as its ``.npy`` bytes, preceded by their length."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    pipe.write(len(buffer.getbuffer()).to_bytes(8, "little"))
    pipe.write(buffer.getbuffer())
    pipe.flush()


def _receive(pipe) -> np.ndarray:
    """Read one array written by :func:`_send`.

    Raises:
        EOFError: the pipe closed.
    """
    head = pipe.read(8)
    if len(head) < 8:
        raise EOFError("pipe closed")
    size = int.from_bytes(head, "little")
    body = pipe.read(size)
    if len(body) < size:
        raise EOFError("pipe closed mid-array")
    return np.load(io.BytesIO(body), allow_pickle=False)


def serve() -> None:
    """The child's loop: read a uint8 (N, 150, 150, 3) array of chips from stdin, write
    their float64 (N, 128) descriptors to stdout, until stdin closes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _models()  # load now: the parent starts the child early, while it loads its own models
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            chips = _receive(source)
        except (EOFError, OSError):
            return  # stdin closed: the parent is done (or gone)
        _send(sink, chip_encodings(chips))


class EncoderProcess:
    """:func:`feelinvideo.models.dlib.chip_encodings` in one child process.

    Thread-safe: one request at a time. The child starts on :meth:`start` or the first
    :meth:`encode` and lives until :meth:`close` or the parent's exit.
    """

    def __init__(self) -> None:
        self._child: subprocess.Popen | None = None
        self._failed = False
        self._lock = threading.Lock()

    def _spawn(self) -> subprocess.Popen | None:
        if os.environ.get("FEELINVIDEO_DLIB_PROCESS") == "0":
            return None  # asked to compute in this process (no child processes)
        if self._child is None and not self._failed:
            try:
                self._child = subprocess.Popen(
                    [sys.executable, "-c", _SERVE],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except OSError:
                self._failed = True
            else:
                atexit.register(self.close)
        return self._child

    def start(self) -> None:
        """Start the child now (it loads the models while the caller does other work)."""
        with self._lock:
            self._spawn()

    def encode(self, chips: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """float64 (N, 128) descriptors of uint8 (N, 150, 150, 3) aligned chips, computed in
        the child (in this process if the child is unavailable).

        Raises:
            BackendError: dlib or its model files are missing.
        """
        chips = np.ascontiguousarray(np.asarray(chips, np.uint8).reshape(-1, 150, 150, 3))
        if not len(chips):
            return chip_encodings(chips)
        with self._lock:
            child = self._spawn()
            if child is not None:
                try:
                    _send(child.stdin, chips)
                    return _receive(child.stdout)
                except (OSError, ValueError, EOFError):
                    self._give_up()  # the child died (missing models, out of memory)
        return chip_encodings(chips)  # raises BackendError when dlib itself is missing

    def _give_up(self) -> None:
        self._failed = True
        self._stop()

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            try:
                child.stdin.close()
                child.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                child.kill()

    def close(self) -> None:
        """Stop the child (idempotent); a later :meth:`encode` starts a new one."""
        with self._lock:
            self._stop()
            self._failed = False


#: the encoder :func:`feelinvideo.identity.tracker.dlib_encoder` uses
encoder_process = EncoderProcess()
