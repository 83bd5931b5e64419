"""The index of a batch (many videos in one run): finding the videos, their run-folder
names and ``batch.json``.

``feelinvideo analyze PATH...`` with several videos or a folder
(:func:`feelinvideo.runs.driver.analyze_videos`) analyses each video into
``OUT/<stem>_feelinvideo/`` (made unique: ``lecture_feelinvideo-2``). One bad video does
not stop the others: it is recorded as failed, with its one-line error. ``OUT/batch.json``
lists every video (path, status, error, duration, seconds taken, run folder), written
atomically after each video, so an interrupted batch still says how far it got.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import write_json
from ..errors import FeelinvideoError, InputError, OutputError, VideoError
from ..schema import RUN_DIR_SUFFIX
from ..video import probe

#: File extensions taken as videos when searching folders (case-insensitive).
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".mts",
     ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".h264", ".hevc", ".264", ".265"}
)  # fmt: skip
#: Extensions never probed when searching folders (outputs, photos, documents).
NOT_VIDEO_EXTENSIONS = frozenset(
    {".csv", ".json", ".png", ".jpg", ".jpeg", ".gif", ".txt", ".md", ".html", ".pdf",
     ".sqlite", ".db", ".py", ".zip", ".mp3", ".wav", ".m4a", ".aac", ".flac", ".part"}
)  # fmt: skip
BATCH_JSON = "batch.json"
#: a video's status in batch.json: analysed by this run, failed, named twice, or kept: its
#: outputs were those of an earlier finished run of the same settings (``--keep-work``)
DONE, FAILED, SKIPPED, KEPT = "done", "failed", "skipped", "kept"


@dataclass
class BatchItem:
    """One video of a batch.

    Attributes:
        path: the video as found.
        status: ``done``, ``failed``, ``skipped`` (the same file named twice) or ``kept``
            (the outputs of an earlier finished run, reused).
        error: the one-line error of a failed video, else None.
        duration_s: the video's duration in seconds (None when it could not be read).
        seconds: wall time its analysis took, in seconds.
        out_dir: its run folder (None unless done).
        faces, people: rows in its faces.csv, people listed (None unless done).
    """

    path: str
    status: str
    error: str | None = None
    duration_s: float | None = None
    seconds: float = 0.0
    out_dir: str | None = None
    faces: int | None = None
    people: int | None = None


def find_videos(paths: Iterable[str | os.PathLike], probed: dict | None = None) -> list[Path]:
    """The videos named by ``paths``, in order: files as given, folders searched
    recursively (sorted) for files with a video extension, or an unknown extension that
    PyAV opens as a video. Run folders (``*_feelinvideo``) and hidden entries are not
    searched, so an earlier batch's overlays are never taken for input.

    Args:
        paths: files and folders.
        probed: when given, gets ``{path: VideoInfo}`` for the files probed to tell whether
            they are videos (so that a run need not probe them again).

    Raises:
        InputError: a path does not exist, or nothing names a video.
    """
    probed = {} if probed is None else probed
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found += _search(path, probed)
        elif path.exists() or path.is_symlink():
            found.append(path)  # a named file is tried whatever it is: errors are per video
        else:
            raise InputError(f"{path}: no such file or folder")
    if not found:
        raise InputError(
            "no video found in " + ", ".join(str(p) for p in paths) + " (searched by extension "
            "and by probing)"
        )
    return found


def _search(folder: Path, probed: dict) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not d.endswith(RUN_DIR_SUFFIX)
        )
        for name in sorted(files):
            path = Path(root) / name
            suffix = path.suffix.lower()
            if name.startswith(".") or suffix in NOT_VIDEO_EXTENSIONS:
                continue
            if suffix in VIDEO_EXTENSIONS or _opens_as_video(path, probed):
                out.append(path)
    return out


def _opens_as_video(path: Path, probed: dict) -> bool:
    try:
        probed[path] = probe(path)
    except FeelinvideoError:
        return False
    return True


def run_dir_names(videos: list[Path]) -> list[str]:
    """``<stem>_feelinvideo`` for each video, made unique (``-2``, ``-3``...)."""
    names, used = [], set()
    for video in videos:
        base = f"{video.stem}{RUN_DIR_SUFFIX}"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        names.append(name)
    return names


def check_out_dir(out: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse an output folder that is one of the input folders or the folder of an input
    video: the outputs (``overlay.mp4`` among them) would lie among the videos, and a later
    run over that folder would take them for lectures.

    Raises:
        OutputError: ``out`` is such a folder (naming it).
    """
    target = os.path.realpath(os.fspath(out))
    for item in inputs:
        path = Path(item)
        folder = path if path.is_dir() else path.parent
        if os.path.realpath(folder) == target:
            raise OutputError(
                f"{out}: is the folder of the input videos; the outputs (overlay.mp4 among "
                "them) would mix with the videos and a later run would take them for input: "
                "choose another --out"
            )


def failure_message(video: Path, error: BaseException) -> str:
    """A failed video's one-line error for batch.json, naming the video."""
    message = " ".join(str(error).split())
    if isinstance(error, VideoError) and not message.startswith(str(video)):
        message = f"{video}: {message}"
    return message


def write_batch_json(out: Path, items: list[BatchItem]) -> Path:
    """Write ``out/batch.json``: ``{"videos": [...], "done": n, "failed": n, "skipped": n}``."""
    counts = {s: sum(i.status == s for i in items) for s in (DONE, FAILED, SKIPPED)}
    if any(i.status == KEPT for i in items):
        counts[KEPT] = sum(i.status == KEPT for i in items)
    write_json(out / BATCH_JSON, {"videos": [asdict(i) for i in items], **counts})
    return out / BATCH_JSON
