"""The videos of a batch that a report does not cover (:func:`find_left_out`): failed ones
and those whose run folder lost its ``faces.csv``, read from each ``batch.json`` among the
report's inputs, so that the page and the text say what is missing and why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..runs.index import BATCH_JSON, DONE, KEPT, SKIPPED
from ..schema import FACES_CSV


@dataclass
class LeftOut:
    """A video of a batch (``batch.json``, written by ``analyze`` of several videos) that
    the report does not cover.

    Attributes:
        path: the video as ``batch.json`` names it.
        status: its ``batch.json`` status (``failed``, or another the report cannot use),
            or ``missing``: ``batch.json`` says it was analysed but its run folder holds no
            ``faces.csv`` (moved or deleted since).
        reason: one line: the error ``batch.json`` records (without the video's name in
            front), else what the status means.
        batch: the ``batch.json`` it comes from.
    """

    path: str
    status: str
    reason: str
    batch: Path

    def line(self) -> str:
        """``<path>: <status>: <reason>``, for text output."""
        return f"{self.path}: {self.status}: {self.reason}"


#: The status of a video analysed by a batch whose run folder has no faces.csv any more.
MISSING = "missing"


def find_left_out(
    inputs: Iterable[str | os.PathLike], warnings: list[str] | None = None
) -> list[LeftOut]:
    """The videos of the batches among ``inputs`` that no ``faces.csv`` stands for.

    Each folder given is looked at as :func:`~feelinvideo.report.load.find_csvs` does: its
    own ``batch.json``, else every ``batch.json`` below it (sorted, each once); files are
    not. Listed: every video whose status is not ``done``, ``kept`` or ``skipped`` (a video
    named twice is analysed once, under its first name), with the error ``batch.json``
    records; and every ``done`` or ``kept`` video whose run folder (``batch.json``'s folder
    / the name of its ``out_dir``) holds no ``faces.csv``.

    Args:
        inputs: the report's inputs.
        warnings: gets one line per ``batch.json`` that is not readable JSON of
            ``{"videos": [...]}`` (ignored).

    Returns:
        the videos left out, in ``batch.json`` order.
    """
    warnings = warnings if warnings is not None else []
    batches: list[Path] = []
    for item in inputs:
        path = Path(item)
        if not path.is_dir():
            continue
        direct = path / BATCH_JSON
        for found in [direct] if direct.is_file() else sorted(path.rglob(BATCH_JSON)):
            if found.is_file() and found.resolve() not in {b.resolve() for b in batches}:
                batches.append(found)
    out: list[LeftOut] = []
    for batch in batches:
        try:
            data = json.loads(batch.read_text(encoding="utf-8"))
            videos = data["videos"]
            if not isinstance(videos, list):
                raise TypeError("videos is not a list")
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            reason = " ".join(str(exc).split())
            warnings.append(f"{batch}: ignored, not a batch index ({reason})")
            continue
        for entry in videos:
            if isinstance(entry, dict):
                left = _left_out(entry, batch)
                if left is not None:
                    out.append(left)
    return out


def _left_out(entry: dict, batch: Path) -> LeftOut | None:
    path = str(entry.get("path") or "?")
    status = str(entry.get("status") or "?")
    if status == SKIPPED:
        return None
    if status in (DONE, KEPT):
        out_dir = entry.get("out_dir")
        folder = batch.parent / Path(out_dir).name if isinstance(out_dir, str) else None
        if folder is not None and (folder / FACES_CSV).is_file():
            return None
        where = f"its run folder {folder} holds no {FACES_CSV}" if folder else "no run folder"
        return LeftOut(path, MISSING, f"{BATCH_JSON} says {status}, but {where}", batch)
    error = entry.get("error")
    if isinstance(error, str) and error.strip():
        reason = " ".join(error.split()).removeprefix(f"{path}: ")
    else:
        reason = f"not analysed ({BATCH_JSON} gives no reason)"
    return LeftOut(path, status, reason, batch)


def left_out_note(left: list[LeftOut]) -> str:
    """``"its batch.json lists 2 videos not analysed: a.mp4: failed: ..."``."""
    first = left[0].line()
    more = f" and {len(left) - 1} more" if len(left) > 1 else ""
    videos = "1 video" if len(left) == 1 else f"{len(left)} videos"
    return f"{BATCH_JSON} lists {videos} not analysed: {first}{more}"
