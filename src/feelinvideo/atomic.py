"""Write outputs atomically: one file (a temporary name in the same folder, renamed on
success) or a whole run's files (a staging folder beside the output folder, moved in only
when every file is complete)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputError
from .interrupts import deferred


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    On any exception the temporary file is removed and ``path`` is left as it was.

    Raises:
        OutputError: the folder is not writable, or writing failed (a full disk, an I/O
            error: any OSError inside the block), naming ``path``.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    honour_umask(tmp_path)
    try:
        try:
            yield tmp_path
            os.replace(tmp_path, path)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def honour_umask(path: str | os.PathLike, folder: bool = False) -> None:
    """Give a file made by ``tempfile`` (mode 0600, 0700 for a folder) the mode a plain
    ``open()`` / ``mkdir()`` would have (0644 / 0755 under umask 022), so outputs copied
    to a shared drive stay readable."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, (0o777 if folder else 0o666) & ~mask)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, data: object) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def prepare_dir(path: str | os.PathLike) -> Path:
    """Create the output folder if needed and check it can be written.

    Raises:
        OutputError: it exists as a file, cannot be created, or is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output folder is not writable")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise OutputError(
            f"{path}: output folder is not writable ({exc.strerror or exc})"
        ) from None
    return path


@contextlib.contextmanager
def staged_folder(out: str | os.PathLike, replaces: Iterable[str] = ()) -> Iterator[Path]:
    """Yield an empty staging folder beside ``out``; when the block succeeds, move every file
    written there into ``out`` (created if needed), replacing files of the same names, and
    remove the entries of ``out`` named in ``replaces`` that the block did not write (the
    outputs of an earlier run that this one does not make; other files are left alone).

    All or nothing: on any exception (a write error, Ctrl-C, SIGTERM) the staging folder is
    removed and ``out`` keeps what it held; a folder created for the run is removed again.
    A new ``out`` is put in place by one rename.

    Raises:
        OutputError: ``out`` or its parent cannot be written (naming ``out``, not the
            staging folder).
    """
    out = Path(out)
    created = not out.exists()
    prepare_dir(out)
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"{out.parent}: cannot write ({exc.strerror or exc})") from None
    honour_umask(stage, folder=True)
    try:
        try:
            yield stage
            written = set(os.listdir(stage))
            _move_in(stage, out, created)
            _remove_stale(out, set(replaces) - written)
        except OutputError as exc:
            raise OutputError(str(exc).replace(str(stage), str(out))) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()


def _remove_stale(out: Path, names: set[str]) -> None:
    """Remove ``out/<name>`` for each name (files or folders), after the new outputs are in."""
    for name in sorted(names):
        target = out / name
        try:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
        except OSError as exc:
            raise OutputError(f"{target}: cannot remove an earlier run's output ({exc})") from None


def _move_in(stage: Path, out: Path, created: bool) -> None:
    """Move the staged files into ``out`` (one rename when ``out`` was made for them); a
    Ctrl-C or SIGTERM meanwhile waits until all are in (:func:`feelinvideo.interrupts.
    deferred`), so ``out`` never holds half of a run's files."""
    with deferred():
        _move_files(stage, out, created)


def _move_files(stage: Path, out: Path, created: bool) -> None:
    try:
        if created and not any(out.iterdir()):
            out.rmdir()
            os.replace(stage, out)
            return
        for name in sorted(os.listdir(stage)):
            target = out / name
            if (stage / name).is_dir() and target.is_dir() and not target.is_symlink():
                # a folder of outputs (e.g. thumbnails/) replaces the earlier one whole
                aside = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=out))
                os.replace(target, aside / name)
                os.replace(stage / name, target)
                shutil.rmtree(aside, ignore_errors=True)
                continue
            os.replace(stage / name, target)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the outputs ({exc.strerror or exc})") from None
