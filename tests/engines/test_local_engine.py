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
    """A task that answers with its worker's process id, or fails."""

    key: int
    fail: bool = False
    backend: TinySpec = TinySpec()
    gallery: None = None
    options: _Options = _Options()

    def run(self, backend, gallery, advance=None):
        import os

        if self.fail:
            raise VideoError(f"task {self.key}: broken on purpose")
        assert isinstance(backend, RecordingBackend)
        return os.getpid()


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
