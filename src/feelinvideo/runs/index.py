"""Many videos in one run: find them, analyse each into its own run folder, index the batch.

``feelinvideo analyze PATH...`` with several videos or a folder: each video is analysed
(in segments, on ``--jobs`` worker processes or Ray: :mod:`feelinvideo.segments`) into
``OUT/<stem>_feelinvideo/`` (made unique: ``lecture_feelinvideo-2``). One bad video does
not stop the others: it is recorded as failed, with its one-line error. ``OUT/batch.json``
lists every video (path, status, error, duration, seconds taken, run folder), written
atomically after each video, so an interrupted batch still says how far it got.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import prepare_dir, write_json
from ..errors import FeelinvideoError, InputError, VideoError
from ..schema import RUN_DIR_SUFFIX

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
DONE, FAILED, SKIPPED = "done", "failed", "skipped"


@dataclass
class BatchItem:
    """One video of a batch.

    Attributes:
        path: the video as found.
        status: ``done``, ``failed`` or ``skipped`` (the same file named twice).
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


def find_videos(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The videos named by ``paths``, in order: files as given, folders searched
    recursively (sorted) for files with a video extension, or an unknown extension that
    PyAV opens as a video. Run folders (``*_feelinvideo``) and hidden entries are not
    searched, so an earlier batch's overlays are never taken for input.

    Raises:
        InputError: a path does not exist, or nothing names a video.
    """
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found += _search(path)
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


def _search(folder: Path) -> list[Path]:
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
            if suffix in VIDEO_EXTENSIONS or _opens_as_video(path):
                out.append(path)
    return out


def _opens_as_video(path: Path) -> bool:
    from ..video import probe

    try:
        probe(path)
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


def analyze_batch(
    videos: list[Path],
    out_dir: str | os.PathLike,
    run: Callable[[list[tuple[Path, Path]], Callable[[int, float], None]], Iterator],
    progress: bool = False,
) -> list[BatchItem]:
    """Analyse each video into its run folder under ``out_dir``; record each in batch.json.

    Args:
        videos: from :func:`find_videos`.
        out_dir: the parent folder, created if needed.
        run: ``run(jobs, advance)`` analyses ``jobs`` (``(video, run_dir)`` pairs, e.g.
            with :func:`feelinvideo.segments.run_videos`), yielding ``(k, Analysis)`` or
            ``(k, error)`` for job ``k`` as each finishes (any order); ``advance(k,
            seconds)`` moves the batch's progress bar to that many seconds of video ``k``.
        progress: show one tqdm bar on stderr for the whole batch (seconds of video).

    Returns:
        one :class:`BatchItem` per video, in order.

    Raises:
        OutputError: ``out_dir`` or batch.json cannot be written. A video's own errors
        (FeelinvideoError, ValueError) are recorded, not raised.
    """
    from ..progress import progress_bar
    from ..video import probe

    out = prepare_dir(out_dir)
    items: dict[int, BatchItem] = {}
    durations: dict[int, float] = {}
    for k, video in enumerate(videos):
        try:
            durations[k] = probe(video).duration_s
        except FeelinvideoError:
            pass  # reported when its turn comes
    seen: set[Path] = set()
    jobs: list[tuple[Path, Path]] = []
    index: list[int] = []  # job -> position in videos
    for k, (video, name) in enumerate(zip(videos, run_dir_names(videos), strict=True)):
        key = video.resolve()
        if key in seen:
            items[k] = BatchItem(str(video), SKIPPED, "named twice", durations.get(k))
            continue
        seen.add(key)
        jobs.append((video, out / name))
        index.append(k)
    done_s: dict[int, float] = {}
    start = time.perf_counter()
    with progress_bar(sum(durations.values()), "batch", progress) as bar:

        def advance(job: int, seconds: float) -> None:
            done_s[job] = max(done_s.get(job, 0.0), seconds)
            bar.update(max(0.0, min(sum(done_s.values()), bar.total) - bar.n))

        for job, outcome in run(jobs, advance):
            k = index[job]
            video, run_dir = jobs[job]
            taken = round(getattr(outcome, "seconds", time.perf_counter() - start), 2)
            if isinstance(outcome, BaseException):
                message = " ".join(str(outcome).split())
                if isinstance(outcome, VideoError) and not message.startswith(str(video)):
                    message = f"{video}: {message}"
                items[k] = BatchItem(str(video), FAILED, message, durations.get(k), taken)
            else:
                summary = outcome.summary
                items[k] = BatchItem(
                    str(video),
                    DONE,
                    None,
                    durations.get(k),
                    taken,
                    str(run_dir),
                    summary.get("faces"),
                    summary.get("people_count"),
                )
            advance(job, durations.get(k, 0.0))
            write_batch_json(out, [items[j] for j in sorted(items)])
    for k, video in enumerate(videos):  # an engine that stopped early: say so
        if k not in items:
            items[k] = BatchItem(str(video), FAILED, f"{video}: not analysed", durations.get(k))
    write_batch_json(out, [items[j] for j in sorted(items)])
    return [items[j] for j in sorted(items)]


def write_batch_json(out: Path, items: list[BatchItem]) -> Path:
    """Write ``out/batch.json``: ``{"videos": [...], "done": n, "failed": n, "skipped": n}``."""
    counts = {s: sum(i.status == s for i in items) for s in (DONE, FAILED, SKIPPED)}
    write_json(out / BATCH_JSON, {"videos": [asdict(i) for i in items], **counts})
    return out / BATCH_JSON
