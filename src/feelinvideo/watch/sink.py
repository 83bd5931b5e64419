"""A live watch's output folder (``--out DIR``), in ``analyze``'s schema so that
``feelinvideo report DIR`` reads it.

- ``faces.csv``: the header when the watch starts, then each window's rows appended,
  flushed and synced to disk as the window ends: a crash loses at most one window.
- ``summary.json`` and ``people.json``: written (atomically) when the watch ends.

No ``overlay.mp4`` (a live stream is not kept) and no ``people.png`` (it needs every row).
A folder that already holds a ``faces.csv`` is refused, so an earlier run is never changed.
A watch that fails before analysing a frame leaves nothing (:meth:`RunFolder.discard`), so
the same command can be run again once the cause is fixed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pandas as pd

from ..atomic import write_json
from ..errors import OutputError
from ..outputs.table import safe_for_csv
from ..schema import FACES_CSV, PEOPLE_JSON, SUMMARY_JSON


class RunFolder:
    """Appends ``faces.csv`` window by window and writes the end-of-watch files.

    Args:
        out_dir: the folder (created if needed).
        columns: the ``faces.csv`` columns, in order (every window is written with them).

    Raises:
        OutputError: the folder cannot be created or written, or already holds a run.
    """

    def __init__(self, out_dir: str | os.PathLike, columns: list[str]):
        self.out = Path(out_dir)
        self.columns = list(columns)
        self.rows = 0
        csv = self.out / FACES_CSV
        self.check(self.out)
        self.created = not self.out.exists()
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.out}: cannot create folder ({exc.strerror or exc})") from None
        try:
            self._file = open(csv, "w", encoding="utf-8", newline="")
            pd.DataFrame(columns=self.columns).to_csv(self._file, index=False)
            self._sync()
        except OSError as exc:
            raise OutputError(f"{csv}: cannot write ({exc.strerror or exc})") from None

    @staticmethod
    def check(out_dir: str | os.PathLike) -> None:
        """Raise OutputError when ``out_dir`` is a file or already holds a run (nothing is
        created)."""
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise OutputError(f"{out}: is a file, expected a folder for the outputs")
        if (out / FACES_CSV).exists() or (out / SUMMARY_JSON).exists():
            raise OutputError(
                f"{out}: already holds a run ({FACES_CSV}); choose another --out folder"
            )

    def append(self, df: pd.DataFrame) -> None:
        """Append a window's rows (any missing column left blank) and sync them to disk.

        Raises:
            OutputError: writing failed (a full disk), naming the file.
        """
        if not len(df):
            return
        try:
            safe_for_csv(df.reindex(columns=self.columns)).to_csv(
                self._file, index=False, header=False
            )
            self._sync()
        except OSError as exc:
            where = self.out / FACES_CSV
            raise OutputError(f"{where}: cannot write ({exc.strerror or exc})") from None
        self.rows += len(df)

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def finish(self, summary: dict, people_json: dict | None) -> dict:
        """Close ``faces.csv`` and write ``summary.json`` (with its ``outputs`` key) and
        ``people.json``; returns output key -> file name."""
        self._file.close()
        names = {"faces_csv": FACES_CSV}
        if people_json is not None:
            names["people_json"] = PEOPLE_JSON
            write_json(self.out / PEOPLE_JSON, people_json)
        names["summary"] = SUMMARY_JSON
        summary["outputs"] = dict(names)
        write_json(self.out / SUMMARY_JSON, summary)
        return names

    def close(self) -> None:
        """Close ``faces.csv`` (after an error; what was written stays)."""
        if not self._file.closed:
            self._file.close()

    def discard(self) -> None:
        """Remove what this watch wrote (``faces.csv``, with no row yet) and the folder when
        this watch made it and nothing else is in it: a watch that failed before its
        first analysed frame leaves no run behind for the next one to refuse."""
        self.close()
        with contextlib.suppress(OSError):
            (self.out / FACES_CSV).unlink()
        if self.created:
            with contextlib.suppress(OSError):
                self.out.rmdir()  # only when empty
