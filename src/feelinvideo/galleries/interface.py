"""The one gallery interface: who is enrolled, enrol, remove, and match faces to names.

Two implementations share it, so enrolment, listing, removal and naming run the same code
whatever holds the people:

- :class:`feelinvideo.galleries.sqlite.SqliteGallery`: a local SQLite file of names and
  dlib 128-d embeddings (the default; nothing leaves the machine);
- :class:`feelinvideo.galleries.collection.RekognitionCollection`: an Amazon
  Rekognition face collection (``IndexFaces``, ``ListFaces``, ``DeleteFaces``,
  ``SearchFacesByImage``).

:func:`feelinvideo.galleries.open.open_gallery` picks one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from ..faces import Faces

#: Environment variable naming the local gallery file (overrides the platformdirs default).
GALLERY_ENV = "FEELINVIDEO_GALLERY"


class Photo(NamedTuple):
    """An enrolment photo: its file (for messages) and its pixels, RGB uint8 (H, W, 3)."""

    path: Path
    image: np.ndarray


@dataclass
class Enrolled:
    """What :meth:`Gallery.enroll` did for one person.

    Attributes:
        used: photos of this call that gave a face (0 = the person was not enrolled).
        total: photos (faces) the gallery now holds for the person.
        warnings: one line per photo skipped or with several faces, naming the file.
    """

    used: int
    total: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class Matches:
    """A gallery's answer for the faces of one frame, one row per face.

    Attributes:
        checked: bool (N,): faces the gallery looked at (faces carrying an embedding: the
            tracker embeds a track when it starts and then at intervals).
        name: object (N,) of str: the enrolled person matched, ``""`` for no match.
        distance: float32 (N,): the match's distance (euclidean between embeddings, 0-2),
            NaN when the gallery gives none (no match, or a service's similarity instead).
        data: per-face columns for ``faces.csv`` the gallery adds (name -> array (N,)),
            e.g. Rekognition's ``rek_person`` and ``rek_similarity``; see
            :attr:`Gallery.columns`.
    """

    checked: np.ndarray
    name: np.ndarray
    distance: np.ndarray
    data: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def none(cls, n: int) -> Matches:
        """N faces, none looked at."""
        return cls(np.zeros(n, bool), np.full(n, "", dtype=object), np.full(n, np.nan, np.float32))


@runtime_checkable
class Gallery(Protocol):
    """Enrolled people and their faces, able to name new faces.

    Attributes:
        location: where the gallery lives, for messages and ``summary.json``: the file
            path, or ``rekognition:<collection>``.
        columns: names of the per-face columns :meth:`match` adds to ``faces.csv``
            (present, empty, even when no face is found); ``()`` for none.

    Every method raises :class:`feelinvideo.errors.GalleryError` (or a
    :class:`~feelinvideo.errors.BackendError` for a service) with one line naming the
    gallery when it cannot do what is asked.
    """

    location: str
    columns: tuple[str, ...]

    def people(self) -> dict[str, int]:
        """``{name: photos (faces) enrolled}`` of every enrolled person, sorted by name."""
        ...

    def enroll(self, name: str, photos: list[Photo], replace: bool = False) -> Enrolled:
        """Enrol ``photos`` of one person (the largest face of each) under ``name``.

        ``replace=True`` first removes the person's earlier faces. A photo without a usable
        face is skipped with a warning; with none left, ``used`` is 0 and nothing changes.
        """
        ...

    def remove(self, name: str) -> int:
        """Remove a person and all their faces; return how many faces went with them.

        Raises GalleryError naming who is enrolled when ``name`` is not."""
        ...

    def match(self, image: np.ndarray, faces: Faces, tolerance: float) -> Matches:
        """Name the faces of one frame (RGB uint8 (H, W, 3), boxes in its pixels) that
        carry an embedding (:attr:`Faces.embedded`).

        ``tolerance`` is the largest embedding distance that names a face (euclidean,
        dlib's 0.6); a service with its own threshold may ignore it."""
        ...

    def close(self) -> None:
        """Release the file or connection."""
        ...

    def __enter__(self) -> Gallery: ...

    def __exit__(self, *exc) -> None: ...


def default_gallery_path() -> Path:
    """``$FEELINVIDEO_GALLERY`` when set, else ``<user data dir>/feelinvideo/gallery.sqlite``
    (``platformdirs``, e.g. ``~/.local/share/feelinvideo/`` on Linux)."""
    env = os.environ.get(GALLERY_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("feelinvideo", appauthor=False)) / "gallery.sqlite"
