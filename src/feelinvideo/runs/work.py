"""The work folder: finished segments kept on disk under a fingerprint of the input and
the settings, so a rerun after a crash computes only the rest."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from dataclasses import asdict
from pathlib import Path

from .. import __version__
from ..atomic import atomic_path, prepare_dir, write_json
from ..schema import SUMMARY_JSON, WORK_DIR
from ..settings import AnalyzeOptions
from ..specs import BackendSpec, GallerySpec
from .plan import Segment
from .task import SegmentResult

#: Bump when a SegmentResult's content or what computes it changes (2: the emotion crop
#: rule of issue 21; 3: faces carry their landmarks, and the crop rule aligns by them),
#: so older work is not reused.
WORK_FORMAT = 3


def fingerprint(
    video: str | os.PathLike,
    options: AnalyzeOptions,
    backend,
    gallery,
    segment_s: float,
) -> str:
    """A hex digest of what a segment's result depends on: the input file
    (:func:`file_state`) and the settings that change results (sampling, identity settings,
    backend, gallery, segment length); not the summary window, smoothing, --min-frames or
    the overlay, which apply after the merge.

    ``backend`` and ``gallery`` are specs (:class:`~feelinvideo.specs.BackendSpec`,
    :class:`~feelinvideo.specs.GallerySpec`) or, given as objects, identified by their
    class and name or location."""
    state = {
        "format": WORK_FORMAT,
        "version": __version__,
        "file": file_state(video),
        "options": {
            k: getattr(options, k)
            for k in ("every_s", "identity", "tolerance", "thumbnails", "reembed_every_s")
        },
        "backend": _state(backend),
        "gallery": _state(gallery) if gallery is not None and options.identity else None,
        "segment_s": segment_s,
    }
    return _digest(state)


def outputs_fingerprint(video: str | os.PathLike, options: AnalyzeOptions, backend, gallery) -> str:
    """A hex digest of everything a video's outputs depend on: the input file, every
    setting of ``options`` (what is written included), the backend, the gallery's content
    and feelinvideo's version; not the segment length or the engine, which do not change
    results. Saved in ``summary.json`` (``fingerprint``): a batch rerun keeps a video whose
    run folder holds outputs of the same fingerprint (``kept`` in batch.json)."""
    state = {
        "format": WORK_FORMAT,
        "version": __version__,
        "file": file_state(video),
        "options": asdict(options),
        "backend": _state(backend),
        "gallery": _state(gallery) if gallery is not None and options.identity else None,
    }
    return _digest(state)


def file_state(video: str | os.PathLike) -> list:
    """What identifies a file's content cheaply: ``[size, mtime in ns, SHA-256 of its first
    and last MiB]``.

    Raises:
        OSError: the file cannot be read.
    """
    path = Path(video)
    st = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(1 << 20))
        if st.st_size > 1 << 20:
            f.seek(max(st.st_size - (1 << 20), 1 << 20))
            digest.update(f.read(1 << 20))
    return [st.st_size, st.st_mtime_ns, digest.hexdigest()]


def _digest(state: dict) -> str:
    """The digest of ``state``, numbers compared by value (32 and 32.0 are one setting)."""
    text = json.dumps(_by_value(state), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _by_value(value):
    """``value`` with every int (not bool) made a float, inside dicts, lists and tuples."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: _by_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_by_value(v) for v in value]
    return value


def _state(item) -> dict:
    """What identifies a backend or gallery: a spec's fields (a gallery file's size and
    time too), else an object's class and name or location."""
    if isinstance(item, GallerySpec):
        return item.state()
    if isinstance(item, BackendSpec):
        return asdict(item)
    kind = type(item)
    return {
        "class": f"{kind.__module__}.{kind.__qualname__}",
        "name": getattr(item, "name", None),
        "location": getattr(item, "location", None),
    }


class WorkFolder:
    """Finished segments of one video kept on disk: ``<path>/fingerprint.json`` and one
    pickle per segment, each written atomically (a crash never leaves half a segment).

    Args:
        path: the folder (e.g. ``OUT/.feelinvideo-work``).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def open(self, fingerprint: str, force: bool = False) -> WorkFolder:
        """Create the folder, or keep it when it holds work for the same ``fingerprint``;
        otherwise (or with ``force``) empty it first.

        Raises:
            OutputError: it cannot be created or written.
        """

        stamp = self.path / "fingerprint.json"
        if self.path.exists():
            try:
                same = json.loads(stamp.read_text()).get("fingerprint") == fingerprint
            except (OSError, ValueError):
                same = False
            if force or not same:
                shutil.rmtree(self.path, ignore_errors=True)
        prepare_dir(self.path)
        if not stamp.exists():
            write_json(stamp, {"fingerprint": fingerprint})
        return self

    def load(self, segment: Segment) -> SegmentResult | None:
        """The saved result of ``segment``, or None (absent or unreadable)."""
        path = self.path / f"{segment.name}.pkl"
        try:
            with open(path, "rb") as f:
                result = pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None
        return result if isinstance(result, SegmentResult) else None

    def save(self, result: SegmentResult) -> None:
        """Keep ``result`` (atomically).

        Raises:
            OutputError: it cannot be written.
        """

        with atomic_path(self.path / f"{result.segment.name}.pkl") as tmp:
            with open(tmp, "wb") as f:
                pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)

    def mark_finished(self) -> None:
        """Record that the video's outputs were saved (a rerun of the batch reuses them)."""

        write_json(self.path / "finished.json", {"finished": True})

    def is_finished(self, out: Path) -> bool:
        """Whether :meth:`mark_finished` was called for this fingerprint and ``out`` still
        holds the run's ``summary.json``."""

        return (self.path / "finished.json").exists() and (out / SUMMARY_JSON).is_file()

    def remove(self) -> None:
        """Delete the folder, and its parent when that is an emptied work folder."""
        shutil.rmtree(self.path, ignore_errors=True)
        parent = self.path.parent
        if parent.name == WORK_DIR and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
