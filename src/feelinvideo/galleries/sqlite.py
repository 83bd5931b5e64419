"""The local face gallery: enrolled names and their face embeddings, in one SQLite file.

The gallery holds names and dlib 128-d face descriptors (see :mod:`feelinvideo.models.dlib`)
only: no face images and no photo file names, and nothing leaves the machine. Its default
place is :func:`feelinvideo.identity.gallery.default_gallery_path`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import numpy as np

from ..errors import GalleryError
from ..faces import EMBEDDING_SIZE, Faces
from ..models.dlib import face_encodings, pairwise_distances
from ..models.mtcnn import MtcnnDetector
from .interface import Enrolled, Matches, Photo

_FORMAT = "feelinvideo-gallery"
_VERSION = "1"
_MODEL = "dlib_face_recognition_resnet_model_v1"
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    "CREATE TABLE embeddings (id INTEGER PRIMARY KEY, "
    "person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE, vector BLOB NOT NULL)",
)


class SqliteGallery:
    """The local face gallery: one SQLite file of names and dlib 128-d float64 embeddings,
    several per name. Implements :class:`feelinvideo.identity.gallery.Gallery`.

    Use as a context manager, or call :meth:`close`.

    Args:
        path: the SQLite file.
        create: create the file (and its folder) when it does not exist; otherwise a
            missing file is an error.
        detector: the face detector :meth:`enroll` uses (an object with
            ``detect(images) -> [Faces]``); default :class:`~feelinvideo.models.mtcnn.
            MtcnnDetector`, loaded on first use.

    Raises:
        GalleryError: the file is missing (``create=False``), is not an SQLite file, is an
            SQLite file of something else, or cannot be created. One line, naming the file.
    """

    columns: tuple[str, ...] = ()

    def __init__(self, path: str | os.PathLike, create: bool = False, detector=None):
        self.path = Path(path).expanduser()
        self.location = str(self.path.resolve())
        self._detector = detector
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
            # autocommit mode: every write is an explicit BEGIN IMMEDIATE ... COMMIT, so two
            # processes enrolling into one new gallery wait for each other (timeout 30 s)
            self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise GalleryError(f"{self.path}: cannot open the gallery ({exc})") from None
        self._known: tuple[list[str], np.ndarray] | None = None
        try:
            self._check(create)
        except BaseException:
            self._db.close()
            raise

    @contextlib.contextmanager
    def _write(self):
        """A write transaction taken at once (``BEGIN IMMEDIATE``): committed when the block
        ends, rolled back on any error."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _tables(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def _check(self, create: bool) -> None:
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            tables = self._tables()
            if not tables and create:
                self._db.execute("PRAGMA journal_mode = WAL")
                with self._write():
                    if not self._tables():  # another process may have created it meanwhile
                        for statement in _SCHEMA:
                            self._db.execute(statement)
                        self._db.executemany(
                            "INSERT INTO meta VALUES (?, ?)",
                            [("format", _FORMAT), ("version", _VERSION), ("model", _MODEL)],
                        )
                tables = self._tables()
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

    def __enter__(self) -> SqliteGallery:
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

    def people(self) -> dict[str, int]:
        """``{name: photo count}`` of every enrolled person, sorted by name."""
        return {
            name: int(count)
            for name, count in self._query(
                "SELECT p.name, COUNT(e.id) FROM people p LEFT JOIN embeddings e "
                "ON e.person_id = p.id GROUP BY p.id ORDER BY p.name"
            )
        }

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
            with self._write():
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
        self._known = None
        return int(count)

    def remove(self, name: str) -> int:
        """Remove a person; return how many embeddings went with them.

        Raises:
            GalleryError: nobody of that name is enrolled, or the file cannot be written.
        """
        name = name.strip()
        rows = self._query(
            "SELECT COUNT(e.id) FROM people p LEFT JOIN embeddings e ON e.person_id = p.id "
            "WHERE p.name = ? GROUP BY p.id",
            (name,),
        )
        if not rows:
            known = ", ".join(self.people()) or "nobody"
            raise GalleryError(f"{self.path}: {name!r} is not enrolled (enrolled: {known})")
        try:
            with self._write():
                self._db.execute("DELETE FROM people WHERE name = ?", (name,))
        except sqlite3.Error as exc:
            raise GalleryError(f"{self.path}: cannot write the gallery ({exc})") from None
        self._known = None
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

    def enroll(self, name: str, photos: list[Photo], replace: bool = False) -> Enrolled:
        """Enrol the largest face of each photo (MTCNN, then dlib's embedding) under ``name``.

        A photo with no face is skipped with a warning; a photo with several uses the
        largest, with a warning. With no usable photo nothing changes (``used`` 0).

        Raises:
            GalleryError: the file cannot be written.
            BackendError: the models are missing.
        """
        if self._detector is None:
            self._detector = MtcnnDetector()
        vectors, warnings = [], []
        for photo in photos:
            faces = self._detector.detect([photo.image])[0]
            if not len(faces):
                warnings.append(f"skipped {photo.path}: no face found")
                continue
            if len(faces) > 1:
                warnings.append(f"{photo.path}: {len(faces)} faces found, used the largest")
            largest = faces.xyxy[int(np.argmax(faces.area))][None]
            vectors.append(face_encodings(photo.image, largest)[0])
        if not vectors:
            return Enrolled(0, self.people().get(name.strip(), 0), warnings)
        total = self.add(name, np.array(vectors), replace=replace)
        return Enrolled(len(vectors), total, warnings)

    def match(self, image: np.ndarray, faces: Faces, tolerance: float) -> Matches:
        """Name each embedded face by its nearest enrolled embedding.

        A face takes the name of the enrolled person whose nearest embedding is closest,
        when that euclidean distance is within ``tolerance`` (dlib's 0.6: two photos of one
        person are usually under 0.6 apart; lower is stricter). ``image`` is not needed:
        the embeddings carry the faces.
        """
        out = Matches.none(len(faces))
        out.checked = faces.embedded
        if not out.checked.any():
            return out
        if self._known is None:
            self._known = self.embeddings()
        names, vectors = self._known
        if not names:
            return out
        rows = np.flatnonzero(out.checked)
        dist = pairwise_distances(faces.embedding[rows], vectors)  # (k, M)
        best = np.argmin(dist, axis=1)
        best_dist = dist[np.arange(len(rows)), best]
        for row, j, d in zip(rows, best, best_dist, strict=True):
            if d <= tolerance:
                out.name[row] = names[int(j)]
                out.distance[row] = d
        return out
