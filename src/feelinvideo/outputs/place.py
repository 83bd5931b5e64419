"""Where a run's outputs may go: never into the folder of its videos.

A run's files written among the videos they come from are taken for videos by the next run
of that folder (``overlay.mp4`` is a video), and a batch's run folders and ``batch.json``
mix with the recordings. :func:`refuse_video_folder` is the rule; ``analyze`` (one video)
and ``analyze_videos`` (a batch) call it before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import OutputError


def refuse_video_folder(out: str | os.PathLike, folders: Iterable[str | os.PathLike]) -> None:
    """Raise OutputError when ``out`` is one of ``folders`` (compared resolved, so ``.``,
    ``DIR/`` and a symbolic link to it are the same folder).

    Args:
        out: the output folder asked for (``--out``); it need not exist.
        folders: for a batch, the folders given as inputs (their videos are searched
            there); for one video, the folder holding it (its outputs go straight into
            ``out``). A folder inside an input folder (``DIR/runs``) is allowed: run
            folders are never searched for videos.

    Raises:
        OutputError: one line naming ``out`` and why.
    """
    target = Path(out).resolve()
    for folder in folders:
        if Path(folder).resolve() == target:
            raise OutputError(
                f"{out}: is the folder of the videos; the outputs would lie among them "
                "(the next run would take overlay.mp4 for a video): choose another --out "
                f"folder, e.g. {Path(folder).name or 'videos'}_feelinvideo or a folder inside it"
            )
