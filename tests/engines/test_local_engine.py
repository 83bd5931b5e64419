"""The local engine: the backend's model copies are made once in this process before the
workers start, tasks run in worker processes that build their backend once, and a task's
error comes back as a value."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from feelinvideo.engines.processes import LocalEngine
from feelinvideo.errors import VideoError


class RecordingBackend:
    """This process's backend: records prepare() calls."""

    name, frames_per_call, columns = "recording", 1, ()

    def __init__(self):
        self.prepared = 0

    def prepare(self):
        self.prepared += 1


@dataclass(frozen=True)
class TinySpec:
    """A backend spec a worker process can rebuild (picklable, hashable)."""

    kind: str = "tiny"

    def build(self):
        return RecordingBackend()


@dataclass(frozen=True)
class _Options:
    identity: bool = False


@dataclass(frozen=True)
class TinyTask:
    """A task that answers with its worker's process id (after ``sleep_s`` seconds), or
    fails."""

    key: int
    fail: bool = False
    backend: TinySpec = TinySpec()
    gallery: None = None
    options: _Options = _Options()
    sleep_s: float = 0.0

    def run(self, backend, gallery, advance=None):
        import os
        import time

        if self.fail:
            raise VideoError(f"task {self.key}: broken on purpose")
        assert isinstance(backend, RecordingBackend)
        time.sleep(self.sleep_s)
        return os.getpid()


@dataclass(frozen=True)
class MaskTask(TinyTask):
    """A task that answers with the signals blocked in its worker."""

    def run(self, backend, gallery, advance=None):
        import signal

        return sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_workers_run_the_tasks_after_the_backend_is_prepared_once():
    import os

    mine = RecordingBackend()
    tasks = [TinyTask(k) for k in range(4)] + [TinyTask(9, fail=True)]
    results = dict(LocalEngine(2, backend=mine).run(tasks))
    assert mine.prepared == 1  # before the workers, in this process only
    assert set(results) == set(tasks)
    pids = {v for t, v in results.items() if not t.fail}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert isinstance(results[tasks[-1]], VideoError)


def test_one_job_runs_in_this_process_with_this_backend():
    import os

    mine = RecordingBackend()
    results = dict(LocalEngine(1, backend=mine).run([TinyTask(0), TinyTask(1)]))
    assert set(results.values()) == {os.getpid()}
    assert mine.prepared == 0  # no workers to prepare for


def test_jobs_below_one_are_refused():
    with pytest.raises(ValueError, match="jobs"):
        LocalEngine(0)


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_run_stopped_early_ends_its_workers_at_once():
    """Closing the engine's iterator in the middle (what an interrupt does) ends the
    workers in the middle of their tasks instead of waiting for them: the tasks here sleep
    an hour, so a close that waited would hang the suite rather than pass. No elapsed time
    is asserted (a loaded machine may be slow to reap); the worker is waited for until it is
    gone."""
    import time

    tasks = [TinyTask(0)] + [TinyTask(k, sleep_s=3600.0) for k in range(1, 4)]
    run = LocalEngine(2, backend=RecordingBackend()).run(tasks)
    task, pid = next(run)
    assert task == tasks[0]
    run.close()
    deadline = time.monotonic() + 600  # a hang guard, far below the tasks' hour
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # a stopped worker is reaped by its pool
    assert not _alive(pid)


@pytest.mark.skipif(not hasattr(__import__("signal"), "pthread_sigmask"), reason="POSIX only")
def test_workers_start_with_ctrl_c_blocked_and_this_process_keeps_it():
    """Workers never take a terminal's Ctrl-C (the parent stops them: no traceback of
    theirs); the parent's own signal mask is as it was."""
    import signal

    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    results = dict(LocalEngine(2, backend=RecordingBackend()).run([MaskTask(0), MaskTask(1)]))
    assert all(signal.SIGINT in blocked for blocked in results.values())
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
