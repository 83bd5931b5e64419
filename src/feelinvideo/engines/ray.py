"""Segments on a Ray cluster (``--engine ray``): the same :class:`~feelinvideo.runs.task.
SegmentTask` s as the local engine, run by Ray actors that each load the models once and
keep them (:class:`ray.util.ActorPool` hands out the tasks; Ray does the scheduling).

Every node must read the videos at the same path (a shared drive) and have feelinvideo
installed; results come back to this process, which merges and writes the outputs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import FeelinvideoError, OptionError

#: seconds to wait for a Ray cluster (its address to accept a connection, then Ray to
#: connect); ``FEELINVIDEO_RAY_TIMEOUT`` overrides
CONNECT_TIMEOUT_S = 30.0
#: Ray's ports when an address names none: the GCS (``HOST``), Ray Client (``ray://HOST``)
GCS_PORT, CLIENT_PORT = 6379, 10001


def _ray():
    try:
        import ray
    except ImportError:
        raise FeelinvideoError(
            "--engine ray needs Ray, which is not installed: pip install 'feelinvideo[ray]'"
        ) from None
    return ray


def connect_timeout_s() -> float:
    """:data:`CONNECT_TIMEOUT_S`, or ``$FEELINVIDEO_RAY_TIMEOUT`` (seconds > 0) when set.

    Raises:
        OptionError: ``FEELINVIDEO_RAY_TIMEOUT`` is not a number > 0.
    """
    text = os.environ.get("FEELINVIDEO_RAY_TIMEOUT")
    if not text:
        return CONNECT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise OptionError(f"FEELINVIDEO_RAY_TIMEOUT must be seconds > 0, got {text!r}")
    return value


def ray_logs_wanted() -> bool:
    """Whether Ray's own log lines may reach stderr: ``FEELINVIDEO_RAY_LOGS=1``."""
    return os.environ.get("FEELINVIDEO_RAY_LOGS", "") not in ("", "0")


def address_endpoint(address: str) -> tuple[str, int] | None:
    """``(host, port)`` a Ray address names: ``HOST:PORT``, ``HOST`` (the GCS port,
    :data:`GCS_PORT`), ``ray://HOST[:PORT]`` (Ray Client, :data:`CLIENT_PORT`), IPv6 hosts in
    brackets; None for the addresses Ray resolves itself (``auto``, ``local``) or that name
    no port to try.

    Raises:
        FeelinvideoError: the port is not a number.
    """
    from urllib.parse import urlsplit

    text = address.strip()
    if text.lower() in ("auto", "local", ""):
        return None
    scheme, _, rest = text.rpartition("://")
    if scheme and scheme.lower() != "ray":
        return None
    try:
        parts = urlsplit("//" + rest)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise FeelinvideoError(
            f"cannot reach the Ray cluster at {address}: expected HOST:PORT"
        ) from None
    if not host:
        return None
    return host, port if port is not None else (CLIENT_PORT if scheme else GCS_PORT)


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Check that something accepts a TCP connection at the Ray ``address`` within
    ``timeout_s`` seconds, before Ray is asked to connect: Ray itself retries an address
    where nothing listens for minutes, logging to stderr (``Failed to connect to GCS at
    address ... within 5 seconds``), instead of failing.

    Raises:
        FeelinvideoError: ``cannot reach the Ray cluster at ADDRESS: <why>`` (refused,
            timed out, unknown host).
    """
    import socket

    endpoint = address_endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout_s):
            pass
    except TimeoutError:
        raise FeelinvideoError(
            f"cannot reach the Ray cluster at {address}: no answer within {timeout_s:g} s"
        ) from None
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise FeelinvideoError(
            f"cannot reach the Ray cluster at {address}: {why.lower()}"
        ) from None


class RaySession:
    """``ray.init`` on a thread of its own, which stays until :meth:`end`.

    Why a thread: ``ray.init`` in the main thread replaces this process's SIGTERM handler
    with its own ``sys.exit``, and it cannot be bounded there (an address that accepts
    connections but never answers as Ray keeps it retrying for minutes). Why it stays: the
    processes a local Ray starts die with the thread that started them (Linux's
    parent-death signal follows the thread), so it waits until Ray is shut down.

    Args:
        address: the cluster; None: a Ray started on this machine with ``jobs`` CPUs.
        timeout_s: the longest wait for ``ray.init`` in seconds; None: no bound (a local
            start, which may take tens of seconds on a loaded machine).
    """

    def __init__(self, ray, address: str | None, jobs: int | None, timeout_s: float | None):
        import threading

        self.ray, self.address, self.jobs, self.timeout_s = ray, address, jobs, timeout_s
        self._outcome: list = []
        self._ready = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="feelinvideo-ray", daemon=True)

    def _hold(self) -> None:
        try:
            if self.address:
                self.ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            else:
                self.ray.init(
                    num_cpus=self.jobs, include_dashboard=False, log_to_driver=False,
                    configure_logging=False,
                )  # fmt: skip
            self._outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self._outcome.append(exc)
        self._ready.set()
        if self._outcome[0] is None:
            self._release.wait()

    def start(self) -> None:
        """Connect (or start Ray), Ray's own log lines kept off stderr unless
        :func:`ray_logs_wanted`.

        Raises:
            FeelinvideoError: ``cannot reach the Ray cluster at ADDRESS: ...`` (Ray's
                error, or no connection within ``timeout_s``); for a local start,
                ``cannot start Ray: ...``.
        """
        where = (
            f"cannot reach the Ray cluster at {self.address}"
            if self.address
            else "cannot start Ray"
        )
        with quiet_ray():
            self._thread.start()
            self._ready.wait(self.timeout_s)
        if not self._outcome:
            self._release.set()
            raise FeelinvideoError(f"{where}: Ray did not connect within {self.timeout_s:g} s")
        error = self._outcome[0]
        if isinstance(error, Exception):
            why = " ".join(str(error).split()) or type(error).__name__
            raise FeelinvideoError(f"{where}: {why}") from None
        if error is not None:
            raise error

    def end(self) -> None:
        """Shut Ray down (its log lines kept off stderr), then let the thread end."""
        try:
            with quiet_ray():
                self.ray.shutdown()
        finally:
            self._release.set()
            self._thread.join(timeout=10)


@contextmanager
def quiet_ray(stderr: bool = True):
    """Keep Ray's own output off this process's stderr for the block, unless
    :func:`ray_logs_wanted`: Ray's Python loggers at ERROR; with ``stderr``, also its C++
    core's log lines (written straight to file descriptor 2, before Ray reads
    ``RAY_BACKEND_LOG_LEVEL``) into a discarded temporary file, for the connection and the
    shutdown, when nothing else of the run writes. ``RAY_BACKEND_LOG_LEVEL`` defaults to
    ``error`` for what Ray starts afterwards."""
    import sys
    import tempfile

    if ray_logs_wanted():
        yield
        return
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    logger = logging.getLogger("ray")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        if not stderr:
            yield
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        saved = os.dup(2)
        try:
            with tempfile.TemporaryFile() as sink:
                os.dup2(sink.fileno(), 2)
                try:
                    yield
                finally:
                    os.dup2(saved, 2)
        finally:
            os.close(saved)
    finally:
        logger.setLevel(level)


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
        timeout_s: the longest wait for the cluster, in seconds (its address accepting a
            connection, checked here, then Ray connecting, when run); None:
            :func:`connect_timeout_s` (30 s, or ``$FEELINVIDEO_RAY_TIMEOUT``).

    Raises:
        FeelinvideoError: Ray is not installed; the address accepts no connection within
            ``timeout_s`` (``cannot reach the Ray cluster at ADDRESS: ...``), checked
            before any video is read.
        OptionError: ``$FEELINVIDEO_RAY_TIMEOUT`` is not seconds > 0.
    """

    def __init__(
        self, jobs: int | None = None, address: str | None = None, timeout_s: float | None = None
    ):
        _ray()
        self.jobs = jobs
        self.address = address
        self.timeout_s = connect_timeout_s() if timeout_s is None else float(timeout_s)
        target = self.address or os.environ.get("RAY_ADDRESS")
        if target:
            check_reachable(target, self.timeout_s)

    def run(self, tasks: list, on_time: Callable | None = None) -> Iterator[tuple]:
        """``(task, SegmentResult or error)`` per task, as they finish (``on_time`` is not
        called: progress follows finished segments).

        Raises:
            FeelinvideoError: the cluster cannot be reached or Ray cannot start
                (:meth:`RaySession.start`).
        """
        if not tasks:
            return
        with quiet_ray(stderr=False):
            yield from self._run(tasks)

    def _run(self, tasks: list) -> Iterator[tuple]:
        ray = _ray()
        session = None
        if not ray.is_initialized():
            address = self.address or os.environ.get("RAY_ADDRESS")
            session = RaySession(ray, address, self.jobs, self.timeout_s if address else None)
            session.start()
        actors: list = []
        try:
            from ray.util import ActorPool

            cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
            count = max(1, min(self.jobs or cpus, cpus, len(tasks)))
            first = tasks[0]
            gallery = first.gallery if first.options.identity else None
            worker = ray.remote(num_cpus=1)(SegmentWorker)
            threads = max(1, cpus // count)
            actors = [worker.remote(threads, first.backend, gallery) for _ in range(count)]
            pool = ActorPool(actors)
            items = list(enumerate(tasks))
            for position, outcome in pool.map_unordered(lambda a, it: a.run.remote(it), items):
                yield tasks[position], outcome
        finally:
            if ray.is_initialized():
                for actor in actors:
                    ray.kill(actor)
            if session is not None:
                session.end()
