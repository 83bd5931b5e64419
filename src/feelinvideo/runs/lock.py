"""One run per output folder at a time: a lock on each folder a run writes into.

The lock is :class:`filelock.FileLock` (``fcntl.flock`` on Linux and macOS, ``msvcrt`` on
Windows): the operating system releases it when the process ends, however it ends, so a
killed run never leaves a folder locked. The lock files live in this user's temporary
folder (``feelinvideo-locks-<uid>/<hash of the folder's real path>.lock``), never in the
output folder, whose contents stay what the run wrote; they are small and never removed
(removing a lock file while another process waits on it would let two runs in).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import OutputError


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of ``folder`` (one per real path: ``a/../b`` and a symlink to ``b``
    share ``b``'s lock)."""
    real = os.path.realpath(os.fspath(folder))
    name = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"feelinvideo-locks-{uid}" / f"{name}.lock"


@contextlib.contextmanager
def folder_locks(folders: Iterable[str | os.PathLike]) -> Iterator[None]:
    """Hold the locks of ``folders`` for the block; refuse at once when another run holds
    one of them.

    Raises:
        OutputError: a folder is in use by another run (naming it), or the lock file
            cannot be made.
    """
    with contextlib.ExitStack() as stack:
        for folder in dict.fromkeys(os.path.realpath(os.fspath(f)) for f in folders):
            path = lock_path(folder)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                stack.enter_context(FileLock(path, timeout=0))
            except Timeout:
                raise OutputError(
                    f"{folder}: another feelinvideo run is writing into this folder; wait "
                    "for it to finish or choose another --out"
                ) from None
            except OSError as exc:
                raise OutputError(
                    f"{folder}: cannot lock the folder for this run ({path}: {exc.strerror or exc})"
                ) from None
        yield
