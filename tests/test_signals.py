"""Runs that end cleanly (issue 26): Ctrl-C and SIGTERM at several moments of a real run
(while decoding and loading the models, while the models run after their first call, while
rendering the overlay, with --jobs 2 workers starting and in the middle of their segments)
end with one exit status (130 / 143), nothing on stderr but the progress and the one
message, no process left behind and nothing half-written; and the pieces that make it so,
each on its own: the signal as one exception, the stage threads joined.

Ctrl-C is sent to the run's whole process group, as a terminal does (workers and model
child processes get it too); SIGTERM to the run's process only, as ``kill PID`` does, and
once to the whole group, as a service manager does. Each run waits for a marker (a
progress line on stderr, a process or a file appearing) before the signal, so the moments
hold on a loaded machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, data_file

from feelinvideo.interrupts import (
    Terminated,
    deferred,
    exceptions_on_signals,
    hold_signals,
    stop_stages,
)
from feelinvideo.prefetch import StageStopped, run_ahead

#: what must never be on stderr after a signal
NOISE = re.compile(
    r"Traceback|Fatal Python error|Exception ignored|KeyboardInterrupt|SpawnProcess|"
    r"^Error:|Aborted!|Segmentation fault|core dumped",
    re.MULTILINE,
)
#: the files of a finished run (thumbnails/ when there are faces)
OUTPUTS = {"faces.csv", "summary.json", "people.json", "people.png", "overlay.mp4", "thumbnails"}
#: the longest a marker may take to appear, and a run to end after its signal, in seconds
#: (far above what they take: a hang fails, a slow machine does not)
WAIT_S = 240


class Run:
    """``feelinvideo analyze`` in a subprocess, in its own process group, its stderr read
    on a thread so that markers can be awaited."""

    def __init__(self, tmp_path: Path, clip: str, *args: str):
        self.tmp = tmp_path
        self.out = tmp_path / "out"
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "feelinvideo", "analyze", str(data_file(clip))]
            + ["--out", str(self.out), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            # a shell's background job starts with SIGINT ignored (POSIX), and Python keeps
            # an inherited SIG_IGN: give the run the default, as a terminal would
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.stderr = ""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: os.read(self.proc.stderr.fileno(), 4096), b""):
            with self._lock:
                self.stderr += chunk.decode(errors="replace")

    def wait_for(self, done, what: str) -> None:
        """Wait until ``done()`` is true (polled); fail if the run ends or WAIT_S pass."""
        deadline = time.monotonic() + WAIT_S
        while not done():
            assert self.proc.poll() is None, f"the run ended before {what}:\n{self.stderr}"
            assert time.monotonic() < deadline, f"no {what} within {WAIT_S} s:\n{self.stderr}"
            time.sleep(0.02)

    def wait_for_stderr(self, pattern: str) -> None:
        regex = re.compile(pattern)
        self.wait_for(lambda: regex.search(self.stderr) is not None, repr(pattern))

    def descendants(self) -> set[int]:
        """Process ids of the run's process tree (from /proc), the run itself excluded."""
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = set(), {self.proc.pid}
        while frontier:
            frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
            found |= frontier
        return found

    def send(self, signum: int, group: bool) -> None:
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def finish(self) -> int:
        try:
            self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            pytest.fail(f"the run did not end within {WAIT_S} s of its signal:\n{self.stderr}")
        self._reader.join(timeout=10)
        return self.proc.returncode


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _check_nothing_half_written(run: Run) -> None:
    """No staging folder or temporary file anywhere; the run folder holds either no
    outputs or all of them; every segment kept in the work folder is whole."""
    from feelinvideo.runs.work import WorkFolder
    from feelinvideo.schema import WORK_DIR

    assert sorted(p.name for p in run.tmp.iterdir()) in ([], ["out"]), list(run.tmp.iterdir())
    if not run.out.exists():
        return
    parts = [p for p in run.out.rglob("*") if ".part" in p.name]
    assert not parts, parts
    outputs = {p.name for p in run.out.iterdir()} - {WORK_DIR}
    assert outputs in (set(), OUTPUTS), outputs
    work = run.out / WORK_DIR
    if work.exists():
        for kept in work.glob("*.pkl"):
            assert WorkFolder(work).load(_segment_of(kept)) is not None, kept


def _segment_of(path: Path):
    """The Segment a kept ``<name>.pkl`` is for (its index and range are in the pickle)."""
    import pickle

    with open(path, "rb") as f:
        return pickle.load(f).segment


def _file_in(folder: Path, pattern: str):
    return lambda: folder.exists() and any(folder.glob(pattern))


def _spawned_workers(run: Run):
    def found() -> bool:
        for pid in run.descendants():
            try:
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
            except OSError:
                continue
        return False

    return found


# (clip, options, what to wait for before the signal); --every 0 decodes every frame
DECODING = ("fer/test.mp4", ["--every", "0"], "analysing")
MODELS = ("fer/test.mp4", ["--every", "0.25"], r"analysing: +\d+%.*\| *[1-9]")
RENDERING = ("fer/woman2.mp4", ["--every", "1"], r"rendering: +\d+%.*\| *[1-9]")
# --every 0.5: backend calls of 6 samples span 3 s, so --segment 5 cuts the 15.5 s clip into
# 3 segments, on 2 workers
JOBS = ["--every", "0.5", "--segment", "5", "--jobs", "2"]
MOMENTS = {
    "decoding": DECODING,
    "models-running": MODELS,
    "rendering": RENDERING,
    "workers-starting": ("fer/woman2.mp4", JOBS, "workers"),
    "workers-mid-segment": ("fer/woman2.mp4", JOBS, "a segment"),
}
#: 5 moments x (Ctrl-C to the group, SIGTERM to the process) x 2 = 20 runs; the second
#: of each pair waits a little after the marker, and one SIGTERM goes to the whole group
CASES = [
    pytest.param(moment, signum, group, delay, id=f"{moment}-{signum.name}-{k}")
    for moment in MOMENTS
    for signum, group in ((signal.SIGINT, True), (signal.SIGTERM, False))
    for k, delay in enumerate((0.0, 0.4))
]
CASES[-1] = pytest.param(
    "workers-mid-segment", signal.SIGTERM, True, 0.4, id="workers-mid-segment-SIGTERM-group"
)


@pytest.mark.parametrize(("moment", "signum", "group", "delay"), CASES)
def test_a_signal_ends_the_run_cleanly(tmp_path, moment, signum, group, delay):
    clip, options, marker = MOMENTS[moment]
    run = Run(tmp_path, clip, *options)
    try:
        if marker == "workers":
            run.wait_for_stderr("analysing")
            run.wait_for(_spawned_workers(run), "a worker process")
        elif marker == "a segment":
            run.wait_for(_file_in(run.out / ".feelinvideo-work", "*.pkl"), "a finished segment")
        else:
            run.wait_for_stderr(marker)
        time.sleep(delay)
        tree = run.descendants()
        run.send(signum, group)
        code = run.finish()
    finally:
        if run.proc.poll() is None:
            os.killpg(run.proc.pid, signal.SIGKILL)
    assert code == 128 + signum, f"exit {code}:\n{run.stderr}"
    assert not NOISE.search(run.stderr), run.stderr
    message = "Interrupted" if signum == signal.SIGINT else "Terminated"
    assert run.stderr.rstrip().splitlines()[-1].startswith(message), run.stderr
    deadline = time.monotonic() + 30  # a model child ends when its pipe closes
    while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in tree if _alive(pid)], "processes left behind"
    _check_nothing_half_written(run)


# -- the pieces, in this process ---------------------------------------------------------


def _stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "feelinvideo-ahead" and t.is_alive()]


def _slow_numbers():
    for k in range(10_000):
        time.sleep(0.01)
        yield k


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_signal_is_one_exception_and_the_stage_threads_are_joined(signum):
    """A signal while two chained stages run: the signal's exception (KeyboardInterrupt /
    Terminated) leaves the block, a second signal during the cleanup is ignored, and no
    stage thread is left running."""
    expected = KeyboardInterrupt if signum == signal.SIGINT else Terminated
    before = signal.getsignal(signum)
    cleaned = []
    with pytest.raises(expected):
        with exceptions_on_signals():
            staged = run_ahead(run_ahead(_slow_numbers(), 4), 4)
            try:
                for k in staged:
                    if k == 5:
                        signal.raise_signal(signum)
                        pytest.fail("the signal raised nothing")
            finally:
                signal.raise_signal(signum)  # a second one during the cleanup: ignored
                cleaned.append(True)
    assert cleaned
    assert not _stage_threads()
    assert signal.getsignal(signum) is before  # restored


def test_after_a_signal_the_cli_keeps_ignoring_the_next():
    """The CLI's way (``ignore_after``): a second Ctrl-C while the process ends is ignored."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(KeyboardInterrupt):
            with exceptions_on_signals(ignore_after=True):
                signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # nothing raised
        signal.raise_signal(signal.SIGTERM)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_an_exception_that_replaced_the_signal_becomes_the_signal():
    """A signal landing in an import can come out as ImportError ('initialization failed'):
    the block still ends with the signal's exception, and stage threads are joined even
    when the consumer's generator was never closed."""
    before = signal.getsignal(signal.SIGTERM)
    kept = []
    with pytest.raises(Terminated) as caught:
        with exceptions_on_signals():
            staged = run_ahead(_slow_numbers(), 2)
            kept.append(staged)  # never closed here: stop_stages must end its thread
            next(staged)
            try:
                signal.raise_signal(signal.SIGTERM)
            except Terminated:
                error = ImportError("initialization failed")
                error.feelinvideo_kept = "1 of 3 segments kept"  # as the driver says
                raise error from None
    assert caught.value.feelinvideo_kept == "1 of 3 segments kept"
    assert not _stage_threads()
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_inside_an_import_or_a_destructor_waits_until_it_is_done(tmp_path):
    """Raised in the middle of an import, the signal's exception would become ImportError
    (or be lost in importlib's own callbacks); in a ``__del__`` it would only be printed:
    it is raised a moment later instead, where it lands whole."""
    import importlib
    import sys

    (tmp_path / "signalled_module.py").write_text(
        "import signal\nsignal.raise_signal(signal.SIGTERM)\nLOADED = True\n"
    )
    sys.path.insert(0, str(tmp_path))
    ran = []
    try:
        with pytest.raises(Terminated):
            with exceptions_on_signals():
                module = importlib.import_module("signalled_module")
                ran.append(module.LOADED)
                time.sleep(5)  # the signal's exception lands here, at once
                ran.append("never")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("signalled_module", None)
    assert ran == [True]

    class Finalized:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)
            ran.append("__del__ finished")

    with pytest.raises(KeyboardInterrupt):
        with exceptions_on_signals():
            Finalized()  # collected at once: __del__ runs here
            time.sleep(5)  # the signal's exception lands here
            ran.append("never")
    assert ran == [True, "__del__ finished"]


def test_a_block_without_signals_restores_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with exceptions_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_while_the_program_starts_waits_for_the_command():
    """The ``feelinvideo`` command holds signals while the CLI's modules load: a Ctrl-C
    then raises nothing where it lands (in an import), but at once when the command's block
    begins; the handlers from before the start come back after."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    hold_signals()
    signal.raise_signal(signal.SIGINT)  # held: nothing raised here
    ran = []
    with pytest.raises(KeyboardInterrupt):
        with exceptions_on_signals():
            ran.append("the command")
    assert ran == []
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_critical_section_holds_the_signal_until_it_ends():
    before = signal.getsignal(signal.SIGINT)
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with exceptions_on_signals():
            with deferred():
                signal.raise_signal(signal.SIGINT)
                steps.append("after the signal")
            steps.append("never")
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is before


def test_stopping_the_stages_ends_a_consumer_thread_that_waits():
    """stop_stages() while a stage's consumer is another thread (the models' stage reading
    the decoding stage): the consumer gets StageStopped and both threads end."""
    got = []

    def consume():
        try:
            for item in run_ahead(_slow_numbers(), 2):
                got.append(item)
        except StageStopped:
            got.append("stopped")

    consumer = threading.Thread(target=consume)
    consumer.start()
    while not got:
        time.sleep(0.01)
    assert stop_stages(timeout_s=10) == []
    consumer.join(timeout=10)
    assert not consumer.is_alive() and got[-1] == "stopped"
    assert not _stage_threads()
