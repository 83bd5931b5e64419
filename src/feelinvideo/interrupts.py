"""Ending a run cleanly on Ctrl-C (SIGINT) and SIGTERM: the signal becomes one exception in
the main thread, raised once; the pipeline's stage threads are stopped and joined before
the interpreter shuts down; short critical sections (moving finished outputs into place)
hold the signal until they are done.

Why by hand: Python turns SIGINT into ``KeyboardInterrupt`` at whatever bytecode the main
thread is running, and SIGTERM kills the process outright. An exception raised at an
arbitrary point can be turned into another one by the code it lands in (in the middle of
importing dlib or matplotlib it becomes ``ImportError: initialization failed``), a second
Ctrl-C lands in the cleanup of the first, and the background threads of the pipeline
(:mod:`feelinvideo.prefetch`) may still run while the interpreter finalizes, which can
abort it (``Fatal Python error: ... finalizing``, exit 134). The standard library has the
pieces (:mod:`signal`, :mod:`atexit`) but no policy for this; this module is that policy:

- :func:`exceptions_on_signals` (the CLI's commands run inside it): the first SIGINT raises
  ``KeyboardInterrupt``, the first SIGTERM :class:`Terminated`; later signals are noted
  and ignored while the run cleans up; any exception that ends the block after a signal is
  replaced by the signal's own; the stage threads are stopped and joined on the way out.
- :func:`register_stage` / :func:`stop_stages`: every stage thread registers its stop
  event; stopping sets them all and joins the threads (at most :data:`STOP_TIMEOUT_S`);
  worker pools register a stopper (:func:`register_stopper`) that ends their processes.
- :func:`deferred`: a critical section the signal's exception waits for.
- at exit (:mod:`atexit`), stage threads still registered are stopped; after a signal,
  one that will not stop ends the process with :func:`os._exit` (the signal's status)
  instead of letting the interpreter finalize under it.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

#: the longest :func:`stop_stages` waits for the stage threads to end, in seconds: a stage
#: ends at its next item (decoding: milliseconds; the models: one backend call, about a
#: second here, or a service's round trip)
STOP_TIMEOUT_S = 15.0
#: the signals :func:`exceptions_on_signals` handles
SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: how soon, in seconds, a signal that landed where its exception would be lost (in an
#: import, a ``__del__``) is tried again (SIGALRM, while its handler is free)
RETRY_S = 0.02


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM (inside :func:`exceptions_on_signals`), so that
    the cleanup of Ctrl-C runs for it too. A BaseException, like KeyboardInterrupt: no
    ``except Exception`` takes it for an error of the run."""


class _State:
    """What the handler saw (module state: signals are per process)."""

    signum: int | None = None  # the first signal since the block began
    pending: bool = False  # its exception waits for the end of a critical section
    deferring: int = 0  # depth of :func:`deferred` sections in the main thread
    handling: int = 0  # depth of :func:`exceptions_on_signals` blocks
    held: dict | None = None  # the handlers before :func:`hold_signals`, until a block


_stages: dict[threading.Thread, threading.Event] = {}
_stoppers: dict[object, Callable[[], None]] = {}
_stages_lock = threading.Lock()


def signal_exception(signum: int) -> BaseException:
    """The exception that stands for ``signum``: KeyboardInterrupt for SIGINT, else
    :class:`Terminated`."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def received() -> int | None:
    """The first signal received inside the current :func:`exceptions_on_signals` block
    (or since the last one, once it has ended), or None."""
    return _State.signum


def _handle(signum: int, frame) -> None:
    """The handler: note the first signal and raise its exception once (when the current
    critical section ends; a moment later when it landed where it would be lost,
    :func:`_unsafe`); ignore the rest."""
    if _State.signum is not None:
        return  # a second Ctrl-C while the first one's cleanup runs: it runs to the end
    _State.signum = signum
    _State.pending = True
    _raise_when_safe(frame)


def _retry(signum: int, frame) -> None:
    """SIGALRM's handler while a signal waits for a safe place (:data:`RETRY_S`)."""
    if _State.pending:
        _raise_when_safe(frame)


def _raise_when_safe(frame) -> None:
    if _State.deferring:
        return  # the critical section raises it at its end
    if _unsafe(frame) and signal.getsignal(signal.SIGALRM) is _retry:
        signal.setitimer(signal.ITIMER_REAL, RETRY_S)
        return
    _State.pending = False
    raise signal_exception(_State.signum)


def _unsafe(frame) -> bool:
    """Whether an exception raised at ``frame`` would be changed or lost: in the middle of
    an import (importlib turns it into ``ImportError``, or runs into it in a module lock's
    weakref callback, where it is only printed: ``Exception ignored in ...``), or in a
    ``__del__`` or weakref callback (also only printed)."""
    depth = 0
    while frame is not None and depth < 500:
        code = frame.f_code
        if (
            code.co_filename.startswith("<frozen importlib")
            or code.co_name == "__del__"
            or code.co_filename.endswith(("weakref.py", "_weakrefset.py"))
        ):
            return True
        frame, depth = frame.f_back, depth + 1
    return False


@contextmanager
def exceptions_on_signals(ignore_after: bool = False):
    """Inside the block, SIGINT and SIGTERM end the run with one exception each, raised in
    the main thread: ``KeyboardInterrupt`` / :class:`Terminated` (a caller turns them into
    exit statuses 130 / 143).

    - only the first signal raises; later ones are ignored while the cleanup runs (which
      is bounded: :data:`STOP_TIMEOUT_S`);
    - whatever exception then leaves the block is replaced by the signal's (it may have
      landed in an import or a library that turned it into its own error), with the
      attributes the library set on it (``feelinvideo_kept``: what the run kept);
    - a block that ends normally after a signal raises the signal's exception at its end;
    - on the way out after a signal the stage threads are stopped and joined
      (:func:`stop_stages`);
    - the previous handlers are restored at the end, except with ``ignore_after`` after a
      signal: then further signals stay ignored while the process ends (the CLI: a second
      Ctrl-C must not break into its exit).

    A signal ignored when the block begins (``nohup``, a shell's background job for
    SIGINT) stays ignored. Outside the main thread (where Python cannot set handlers) the
    block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _State.held is not None:  # the program's start held the signals until now
        previous, _State.held = _State.held, None
        _State.deferring -= 1
    else:
        previous = {}
        if not _State.handling:
            _State.signum, _State.pending = None, False
        for signum in SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, _handle)
        previous.update(_install_retry())
    _State.handling += 1
    try:
        if _State.pending and not _State.deferring:  # one that came while they were held
            _State.pending = False
            raise signal_exception(_State.signum)
        yield
        if _State.signum is not None:
            raise signal_exception(_State.signum)
    except BaseException as exc:
        if _State.signum is not None and not _is_signal_exception(exc, _State.signum):
            replacement = signal_exception(_State.signum)
            replacement.__dict__.update(getattr(exc, "__dict__", {}))
            raise replacement from None
        raise
    finally:
        _State.handling -= 1
        if _State.signum is not None:
            if signal.getsignal(signal.SIGALRM) is _retry:
                signal.setitimer(signal.ITIMER_REAL, 0)  # raised: no retry pending
            _State.pending = False
            stop_stages()
        if _State.signum is None or not ignore_after:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _install_retry() -> dict:
    """SIGALRM's handler for the retries, when SIGALRM is free (default, no timer running):
    ``{SIGALRM: previous handler}``, or ``{}``."""
    if getattr(signal, "setitimer", None) is None:
        return {}
    if signal.getsignal(signal.SIGALRM) is _retry:
        return {}
    if signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL:
        return {}
    if signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0):
        return {}
    return {signal.SIGALRM: signal.signal(signal.SIGALRM, _retry)}


def _is_signal_exception(exc: BaseException, signum: int) -> bool:
    if signum == signal.SIGINT:
        return isinstance(exc, KeyboardInterrupt)
    return isinstance(exc, Terminated)


def hold_signals() -> None:
    """For a program's start (the ``feelinvideo`` command, before the CLI's modules load):
    from now until the first :func:`exceptions_on_signals` block begins, SIGINT and SIGTERM
    are noted, not raised; the block then raises the first one at once, so that a Ctrl-C
    in the first second ends as one during the run does (its message and exit status, no
    traceback from the middle of an import). Signals ignored at the start stay ignored;
    outside the main thread nothing is done."""
    if threading.current_thread() is not threading.main_thread() or _State.held is not None:
        return
    _State.signum, _State.pending = None, False
    _State.deferring += 1
    _State.held = {
        signum: signal.signal(signum, _handle)
        for signum in SIGNALS
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    _State.held.update(_install_retry())


@contextmanager
def deferred():
    """A critical section: a signal that arrives inside it raises its exception only at
    its end (e.g. while finished outputs are being renamed into place, so that a run ends
    with all of them or none). Nests; does nothing outside the main thread, where no signal
    handler runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
        if not _State.deferring and _State.pending:
            _State.pending = False
            raise signal_exception(_State.signum)


def register_stage(thread: threading.Thread, stop: threading.Event) -> None:
    """Register a stage thread and the event that asks it to stop (set by
    :func:`stop_stages`); the thread must end soon after it is set."""
    with _stages_lock:
        _stages[thread] = stop


def unregister_stage(thread: threading.Thread) -> None:
    """Forget a stage thread (it has ended or been joined)."""
    with _stages_lock:
        _stages.pop(thread, None)


def register_stopper(key: object, stop: Callable[[], None]) -> None:
    """Register ``stop()``, which ends something of the run at once (a pool's worker
    processes), for :func:`stop_stages`; ``key`` names it for :func:`unregister_stopper`."""
    with _stages_lock:
        _stoppers[key] = stop


def unregister_stopper(key: object) -> None:
    """Forget the stopper registered under ``key`` (what it stops has ended)."""
    with _stages_lock:
        _stoppers.pop(key, None)


def stop_stages(timeout_s: float = STOP_TIMEOUT_S) -> list[str]:
    """Call every registered stopper (:func:`register_stopper`), ask every registered stage
    thread to stop and wait for them, at most ``timeout_s`` seconds in all (not from a
    signal handler: it takes locks). Returns the names of the threads still running after
    that (empty when all ended)."""
    with _stages_lock:
        stages = list(_stages.items())
        stoppers = list(_stoppers.values())
        _stoppers.clear()
    for stop_now in stoppers:
        try:
            stop_now()
        except Exception:  # noqa: BLE001 - one that fails must not keep the others running
            pass
    for _, stop in stages:
        stop.set()
    deadline = time.monotonic() + max(0.0, timeout_s)
    for thread, _ in stages:
        # a thread not started yet (interrupted between registering and starting it) sees
        # its stop event as soon as it starts
        if thread.ident is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    left = [thread.name for thread, _ in stages if thread.is_alive()]
    with _stages_lock:
        for thread, _ in stages:
            if not thread.is_alive():
                _stages.pop(thread, None)
    return left


def _at_exit() -> None:
    """Stop the stage threads before the interpreter finalizes; after a signal, one that
    would not stop ends the process at once with the signal's status (flushed first)."""
    left = stop_stages()
    if left and _State.signum is not None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(128 + _State.signum)


atexit.register(_at_exit)
