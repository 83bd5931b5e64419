"""The local face gallery: enrolled names and their face embeddings, in one SQLite file.

The gallery holds names and dlib 128-d face descriptors (see :mod:`feelinvideo.embed`)
only: no face images and no photo file names, and nothing leaves the machine. Its default
place is ``$FEELINVIDEO_GALLERY`` when set, else ``gallery.sqlite`` in the user data
folder given by ``platformdirs`` (e.g. ``~/.local/share/feelinvideo/`` on Linux).

:func:`enroll` turns a folder of photos into gallery entries: ``DIR/<name>.jpg`` (one
photo a person, the file name is the person, as face_recognition does) and
``DIR/<name>/*.jpg`` (several photos a person), mixed freely.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .embed import EMBEDDING_SIZE
from .errors import GalleryError, ImageError

#: Environment variable naming the gallery file (overrides the platformdirs default).
GALLERY_ENV = "FEELINVIDEO_GALLERY"
#: Photo file extensions taken by :func:`find_photos` (case-insensitive).
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: Photos larger than this (longest side, pixels) are scaled down before detection.
MAX_PHOTO_SIDE = 1600

_FORMAT = "feelinvideo-gallery"
_VERSION = "1"
_MODEL = "dlib_face_recognition_resnet_model_v1"


def default_gallery_path() -> Path:
    """``$FEELINVIDEO_GALLERY`` when set, else ``<user data dir>/feelinvideo/gallery.sqlite``."""
    env = os.environ.get(GALLERY_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("feelinvideo", appauthor=False)) / "gallery.sqlite"


class Gallery:
    """A face gallery file: names and 128-d float64 embeddings, several per name.

    Use as a context manager, or call :meth:`close`.

    Args:
        path: the SQLite file.
        create: create the file (and its folder) when it does not exist; otherwise a
            missing file is an error.

    Raises:
        GalleryError: the file is missing (``create=False``), is not an SQLite file, is an
            SQLite file of something else, or cannot be created. One line, naming the file.
    """

    def __init__(self, path: str | os.PathLike, create: bool = False):
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            raise GalleryError(f"{self.path}: is a folder, expected a gallery file")
        exists = self.path.exists()
        if not exists and not create:
            raise GalleryError(
                f"{self.path}: no such gallery; create it with `feelinvideo enroll DIR "
                f"--gallery {self.path}`"
            )
        if not exists:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise GalleryError(
                    f"{self.path}: cannot create the gallery folder ({exc.strerror or exc})"
                ) from None
        try:
            self._db = sqlite3.connect(str(self.path))
        except sqlite3.Error as exc:
            raise GalleryError(f"{self.path}: cannot open the gallery ({exc})") from None
        try:
            self._check(create)
        except BaseException:
            self._db.close()
            raise

    def _check(self, create: bool) -> None:
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            tables = {
                r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables and create:
                with self._db:
                    self._db.executescript(
                        """
                        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                        CREATE TABLE people (
                            id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                        CREATE TABLE embeddings (
                            id INTEGER PRIMARY KEY,
                            person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
                            vector BLOB NOT NULL);
                        """
                    )
                    self._db.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [("format", _FORMAT), ("version", _VERSION), ("model", _MODEL)],
                    )
                return
            meta = dict(self._db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        except sqlite3.DatabaseError as exc:
            raise GalleryError(
                f"{self.path}: not a feelinvideo gallery, corrupt or not SQLite ({exc})"
            ) from None
        if meta.get("format") != _FORMAT or not {"people", "embeddings"} <= tables:
            raise GalleryError(
                f"{self.path}: not a feelinvideo gallery (an SQLite file without its tables)"
            )
        if meta.get("version") != _VERSION:
            raise GalleryError(
                f"{self.path}: gallery version {meta.get('version')!r}, expected {_VERSION!r}"
            )

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{self.path}: corrupt gallery ({exc})") from None

    def people(self) -> list[tuple[str, int]]:
        """``(name, photo count)`` of every enrolled person, sorted by name."""
        return [
            (name, int(count))
            for name, count in self._query(
                "SELECT p.name, COUNT(e.id) FROM people p LEFT JOIN embeddings e "
                "ON e.person_id = p.id GROUP BY p.id ORDER BY p.name"
            )
        ]

    def __contains__(self, name: str) -> bool:
        return bool(self._query("SELECT 1 FROM people WHERE name = ?", (name,)))

    def add(self, name: str, embeddings: np.ndarray, replace: bool = False) -> int:
        """Add a person's embeddings (one per photo); return how many the person now has.

        Args:
            name: the person's name (non-empty).
            embeddings: float array (K, 128), dlib descriptors.
            replace: drop the person's earlier embeddings first.

        Raises:
            GalleryError: the file cannot be written.
        """
        name = name.strip()
        if not name:
            raise GalleryError(f"{self.path}: a person needs a non-empty name")
        vectors = np.asarray(embeddings, dtype=np.float64).reshape(-1, EMBEDDING_SIZE)
        try:
            with self._db:
                if replace:
                    self._db.execute("DELETE FROM people WHERE name = ?", (name,))
                self._db.execute("INSERT OR IGNORE INTO people (name) VALUES (?)", (name,))
                (pid,) = self._db.execute(
                    "SELECT id FROM people WHERE name = ?", (name,)
                ).fetchone()
                self._db.executemany(
                    "INSERT INTO embeddings (person_id, vector) VALUES (?, ?)",
                    [(pid, v.astype("<f8").tobytes()) for v in vectors],
                )
                (count,) = self._db.execute(
                    "SELECT COUNT(*) FROM embeddings WHERE person_id = ?", (pid,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise GalleryError(f"{self.path}: cannot write the gallery ({exc})") from None
        return int(count)

    def remove(self, name: str) -> int:
        """Remove a person; return how many embeddings went with them.

        Raises:
            GalleryError: nobody of that name is enrolled, or the file cannot be written.
        """
        rows = self._query(
            "SELECT COUNT(e.id) FROM people p LEFT JOIN embeddings e ON e.person_id = p.id "
            "WHERE p.name = ? GROUP BY p.id",
            (name,),
        )
        if not rows:
            known = ", ".join(n for n, _ in self.people()) or "nobody"
            raise GalleryError(f"{self.path}: {name!r} is not enrolled (enrolled: {known})")
        try:
            with self._db:
                self._db.execute("DELETE FROM people WHERE name = ?", (name,))
        except sqlite3.Error as exc:
            raise GalleryError(f"{self.path}: cannot write the gallery ({exc})") from None
        return int(rows[0][0])

    def embeddings(self) -> tuple[list[str], np.ndarray]:
        """All embeddings with their names: ``(names (M,), float64 array (M, 128))``.

        Raises:
            GalleryError: a stored vector is not 128 float64 values (a corrupt file).
        """
        rows = self._query(
            "SELECT p.name, e.vector FROM embeddings e JOIN people p ON p.id = e.person_id "
            "ORDER BY p.name, e.id"
        )
        names = [r[0] for r in rows]
        if any(not isinstance(r[1], bytes) or len(r[1]) != 8 * EMBEDDING_SIZE for r in rows):
            raise GalleryError(f"{self.path}: corrupt gallery (an embedding is not 128 floats)")
        vectors = np.array(
            [np.frombuffer(r[1], dtype="<f8") for r in rows], dtype=np.float64
        ).reshape(-1, EMBEDDING_SIZE)
        return names, vectors


def find_photos(folder: str | os.PathLike) -> dict[str, list[Path]]:
    """The enrolment photos in a folder, by person.

    ``DIR/<name>.<jpg|jpeg|png>`` is one photo of ``<name>``; ``DIR/<name>/*.<jpg|jpeg|png>``
    are photos of ``<name>``. Both may be mixed, and for the same person. Hidden files are
    ignored.

    Returns:
        ``{name: [photo paths, sorted]}``, names sorted.

    Raises:
        ImageError: the folder is missing, not a folder, or holds no photo.
    """
    folder = Path(folder)
    if not folder.exists():
        raise ImageError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise ImageError(f"{folder}: not a folder (expected DIR/<name>.jpg or DIR/<name>/*.jpg)")

    def is_photo(p: Path) -> bool:
        return p.is_file() and not p.name.startswith(".") and p.suffix.lower() in PHOTO_EXTENSIONS

    people: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            photos = sorted(p for p in entry.iterdir() if is_photo(p))
            if photos:
                people.setdefault(entry.name.strip(), []).extend(photos)
        elif is_photo(entry):
            people.setdefault(entry.stem.strip(), []).append(entry)
    if not people:
        raise ImageError(
            f"{folder}: holds no photos (expected DIR/<name>.jpg|jpeg|png or DIR/<name>/*.jpg)"
        )
    return {name: sorted(people[name]) for name in sorted(people)}


def load_photo(path: str | os.PathLike) -> np.ndarray:
    """Read a photo as RGB uint8 (H, W, 3), turned upright by its EXIF orientation and
    scaled down so its longest side is at most :data:`MAX_PHOTO_SIDE` pixels.

    Raises:
        ImageError: the file is missing or not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            scale = MAX_PHOTO_SIDE / max(im.size)
            if scale < 1:
                size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
                im = im.resize(size, Image.Resampling.LANCZOS)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable image ({exc.__class__.__name__})") from None


@dataclass
class EnrollReport:
    """What :func:`enroll` did.

    Attributes:
        enrolled: ``{name: photos used in this run}`` for each person enrolled.
        totals: ``{name: photos the gallery now holds}`` for each person enrolled.
        skipped: names of people with no usable photo (not enrolled).
        warnings: one line per skipped photo, multi-face photo or skipped person.
    """

    enrolled: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def photo_embedding(image: np.ndarray, detector) -> tuple[np.ndarray | None, int]:
    """The embedding of the largest face in a photo.

    Args:
        image: RGB uint8 (H, W, 3).
        detector: an object with ``detect(images) -> [(xyxy, confidence, landmarks)]``
            (e.g. :class:`feelinvideo.detect.MtcnnDetector`).

    Returns:
        ``(float64 array (128,) or None when there is no face, number of faces found)``.
    """
    from .embed import face_encodings

    xyxy = detector.detect([image])[0][0]
    if not len(xyxy):
        return None, 0
    area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    largest = xyxy[int(np.argmax(area))][None]
    return face_encodings(image, largest)[0], len(xyxy)


def enroll(
    folder: str | os.PathLike,
    gallery: Gallery,
    replace: bool = False,
    detector=None,
) -> EnrollReport:
    """Enrol every person photographed in ``folder`` (see :func:`find_photos`) into ``gallery``.

    Each photo must hold a face: a photo with none is skipped with a warning naming it; a
    photo with several gives the largest face, with a warning. A person left with no usable
    photo is reported in ``skipped`` and not enrolled. Enrolling a person again adds the
    new photos' embeddings; ``replace=True`` replaces the person's earlier ones.

    Args:
        folder: the photo folder.
        gallery: an open :class:`Gallery`.
        replace: replace each enrolled person instead of adding to them.
        detector: face detector (default :class:`feelinvideo.detect.MtcnnDetector`).

    Returns:
        an :class:`EnrollReport`; ``report.enrolled`` is empty when nobody could be
        enrolled (the CLI then exits non-zero).

    Raises:
        ImageError: the folder is missing or holds no photos.
        GalleryError: the gallery cannot be written.
    """
    people = find_photos(folder)
    if detector is None:
        from .detect import MtcnnDetector

        detector = MtcnnDetector()
    report = EnrollReport()
    for name, photos in people.items():
        if name.lower() == "unknown" or name.lower().startswith("unknown-"):
            report.skipped.append(name)
            report.warnings.append(f"{name}: reserved for unknown people (unknown-N), not enrolled")
            continue
        vectors = []
        for photo in photos:
            try:
                image = load_photo(photo)
            except ImageError as exc:
                report.warnings.append(f"skipped {exc}")
                continue
            vector, found = photo_embedding(image, detector)
            if vector is None:
                report.warnings.append(f"skipped {photo}: no face found")
                continue
            if found > 1:
                report.warnings.append(f"{photo}: {found} faces found, used the largest")
            vectors.append(vector)
        if not vectors:
            report.skipped.append(name)
            report.warnings.append(f"{name}: no usable photo, not enrolled")
            continue
        report.totals[name] = gallery.add(name, np.array(vectors), replace=replace)
        report.enrolled[name] = len(vectors)
    return report


def read_gallery(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """All names and embeddings of a gallery file: ``(names (M,), float64 (M, 128))``.

    Raises:
        GalleryError: the file is missing, corrupt or not a feelinvideo gallery.
    """
    with Gallery(path) as gallery:
        return gallery.embeddings()
