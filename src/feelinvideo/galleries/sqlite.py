"""The local face gallery: enrolled names and their face embeddings, in one SQLite file.

The gallery holds names and dlib 128-d face descriptors (see :mod:`feelinvideo.models.dlib`)
only: no face images and no photo file names, and nothing leaves the machine. Its default
place is :func:`feelinvideo.identity.gallery.default_gallery_path`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

import numpy as np

from ..errors import GalleryError
from ..faces import EMBEDDING_SIZE, Faces
from ..models.dlib import chip_encodings, face_chips, pairwise_distances
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
#: Seconds a write waits for another process's (SQLite's busy timeout).
BUSY_TIMEOUT_S = 30.0


def _writable(path: Path) -> bool:
    """Whether the gallery file and its folder (where SQLite writes its journal) may be
    written: ``access(2)``, which also answers no on a read-only mount (EROFS), for root too."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _uri(path: Path, **query: str) -> str:
    """An SQLite URI for ``path`` (https://sqlite.org/uri.html), e.g. ``mode=ro``."""
    args = "&".join(f"{k}={v}" for k, v in query.items())
    return f"file:{quote(str(path.resolve()))}?{args}"


def _locked(method):
    """Run the method holding the gallery's lock (one thread at a time on the connection)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class SqliteGallery:
    """The local face gallery: one SQLite file of names and dlib 128-d float64 embeddings,
    several per name. Implements :class:`feelinvideo.galleries.interface.Gallery`.

    Use as a context manager, or call :meth:`close`.

    Threads: one gallery may be used from any thread (a live watch opens it on the calling
    thread and names faces on its analysis thread): the connection is made with
    ``check_same_thread=False`` and every use holds a lock, as the :mod:`sqlite3` docs ask
    of a connection shared between threads.

    Processes: every write is one ``BEGIN IMMEDIATE`` transaction and waits up to
    :data:`BUSY_TIMEOUT_S` for another process's (SQLite's busy timeout), so two enrolments
    into one (new) gallery both keep their people. New galleries use SQLite's rollback
    journal, not WAL: switching a new file to WAL takes its lock without the busy timeout
    (two enrolments at once then failed with ``database is locked``, 4 of 40 tries with
    four processes), and a WAL file cannot be read where its ``-shm`` file cannot be made.

    Read-only: a gallery whose file or folder cannot be written (a read-only mount or
    share, or permissions) is opened read-only (SQLite ``mode=ro``; ``immutable=1`` for an
    older WAL gallery whose ``-shm`` cannot be made): it lists people and names faces, and
    :meth:`add`, :meth:`remove` and :meth:`enroll` raise a GalleryError saying it is
    read-only. :attr:`read_only` tells which.

    Args:
        path: the SQLite file.
        create: create the file (and its folder) when it does not exist, for writing
            (enrolment): a read-only gallery is then an error; otherwise a missing file is
            an error.
        detector: the face detector :meth:`enroll` uses (an object with
            ``detect(images) -> [Faces]``); default :class:`~feelinvideo.models.mtcnn.
            MtcnnDetector`, loaded on first use.

    Raises:
        GalleryError: the file is missing (``create=False``), is not an SQLite file, is an
            SQLite file of something else, or cannot be created, or (``create=True``) is
            read-only. One line, naming the file.
    """

    columns: tuple[str, ...] = ()

    def __init__(self, path: str | os.PathLike, create: bool = False, detector=None):
        self.path = Path(path).expanduser()
        self.location = str(self.path.resolve())
        self._detector = detector
        self._lock = threading.RLock()
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
            if not os.access(self.path.parent, os.W_OK):
                raise GalleryError(
                    f"{self.path}: cannot create the gallery: its folder is read-only"
                )
        #: True when the file or its folder cannot be written: reading only.
        self.read_only = exists and not _writable(self.path)
        if self.read_only and create:
            raise self._read_only_error()
        self._known: tuple[list[str], np.ndarray] | None = None
        self._db = self._connect(create)

    def _connect(self, create: bool) -> sqlite3.Connection:
        """The checked connection: read-write, else read-only (``mode=ro``, then
        ``immutable=1`` for a WAL file whose ``-shm`` cannot be made). A file that
        ``access(2)`` calls writable but that cannot be opened so (a share that refuses
        writes whatever the permission bits say) is tried read-only too, unless
        ``create`` asks to write; the first error is raised when nothing opens it."""
        read_only = [{"mode": "ro"}, {"mode": "ro", "immutable": "1"}]
        if self.read_only:
            tries = read_only
        else:
            tries = [{"mode": "rwc" if create else "rw"}] + ([] if create else read_only)
        first: GalleryError | None = None
        for query in tries:
            try:
                # autocommit mode: every write is an explicit BEGIN IMMEDIATE ... COMMIT
                db = sqlite3.connect(
                    _uri(self.path, **query),
                    uri=True,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                first = first or GalleryError(f"{self.path}: cannot open the gallery ({exc})")
                continue
            try:
                self._check(db, create and query["mode"] != "ro")
            except GalleryError as exc:
                db.close()
                first = first or exc
                continue
            except BaseException:
                db.close()
                raise
            self.read_only = query["mode"] == "ro"
            return db
        assert first is not None
        raise first

    @contextlib.contextmanager
    def _write(self):
        """A write transaction taken at once (``BEGIN IMMEDIATE``): committed when the block
        ends, rolled back on any error.

        Raises:
            GalleryError: the gallery is read-only.
        """
        if self.read_only:
            raise self._read_only_error()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _write_error(self, exc: sqlite3.Error) -> GalleryError:
        """A failed write as one line: read-only when SQLite found the file so
        (``SQLITE_READONLY``, e.g. a share whose permission bits said writable)."""
        if getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
            return self._read_only_error()
        return GalleryError(f"{self.path}: cannot write the gallery ({exc})")

    def _read_only_error(self) -> GalleryError:
        return GalleryError(
            f"{self.path}: the gallery is read-only (its file or folder cannot be written: "
            "a read-only disk, share or permissions); enrol into or remove from a writable copy"
        )

    @staticmethod
    def _tables(db: sqlite3.Connection) -> set[str]:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def _check(self, db: sqlite3.Connection, create: bool) -> None:
        try:
            db.execute("PRAGMA foreign_keys = ON")
            tables = self._tables(db)
            if not tables and create:
                db.execute("BEGIN IMMEDIATE")
                try:
                    if not self._tables(db):  # another process may have created it meanwhile
                        for statement in _SCHEMA:
                            db.execute(statement)
                        db.executemany(
                            "INSERT INTO meta VALUES (?, ?)",
                            [("format", _FORMAT), ("version", _VERSION), ("model", _MODEL)],
                        )
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                tables = self._tables(db)
            meta = dict(db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
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

    @_locked
    def close(self) -> None:
        """Close the file."""
        self._db.close()

    @_locked
    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{self.path}: corrupt gallery ({exc})") from None

    @_locked
    def people(self) -> dict[str, int]:
        """``{name: photo count}`` of every enrolled person, sorted by name."""
        return {
            name: int(count)
            for name, count in self._query(
                "SELECT p.name, COUNT(e.id) FROM people p LEFT JOIN embeddings e "
                "ON e.person_id = p.id GROUP BY p.id ORDER BY p.name"
            )
        }

    @_locked
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
            raise self._write_error(exc) from None
        self._known = None
        return int(count)

    @_locked
    def remove(self, name: str) -> int:
        """Remove a person; return how many embeddings went with them.

        Raises:
            GalleryError: nobody of that name is enrolled, or the file cannot be written.
        """
        name = name.strip()
        if self.read_only:
            raise self._read_only_error()
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
            raise self._write_error(exc) from None
        self._known = None
        return int(rows[0][0])

    @_locked
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
        return self.enroll_many([(name, photos)], replace=replace)[0]

    def enroll_many(
        self, people: list[tuple[str, list[Photo]]], replace: bool = False
    ) -> list[Enrolled]:
        """:meth:`enroll` for several people at once: each photo's largest face found and
        aligned (MTCNN, dlib's 5 points), then all their chips through the descriptor
        network in one call (16 chips a pass), then each person written as by
        :meth:`enroll` (:func:`feelinvideo.galleries.enroll.enroll_folder` calls it on a
        folder's photos, :data:`~feelinvideo.galleries.enroll.ENROLL_BATCH` at a time).

        Args:
            people: ``[(name, photos)]``, each name once.
            replace: replace each person's earlier faces.

        Returns:
            one :class:`Enrolled` per person, in order.

        Raises:
            GalleryError: the file cannot be written.
            BackendError: the models are missing.
        """
        if self.read_only:
            raise self._read_only_error()
        if self._detector is None:
            self._detector = MtcnnDetector()
        chips, owners, warnings = [], [], [[] for _ in people]
        for k, (_, photos) in enumerate(people):
            for photo in photos:
                faces = self._detector.detect([photo.image])[0]
                if not len(faces):
                    warnings[k].append(f"skipped {photo.path}: no face found")
                    continue
                if len(faces) > 1:
                    warnings[k].append(f"{photo.path}: {len(faces)} faces found, used the largest")
                largest = faces.xyxy[int(np.argmax(faces.area))][None]
                chips.append(face_chips(photo.image, largest)[0])
                owners.append(k)
        vectors = chip_encodings(np.array(chips)) if chips else np.zeros((0, EMBEDDING_SIZE))
        owners = np.array(owners, dtype=np.int64)
        out = []
        for k, (name, _) in enumerate(people):
            mine = vectors[owners == k]
            if not len(mine):
                out.append(Enrolled(0, self.people().get(name.strip(), 0), warnings[k]))
                continue
            out.append(Enrolled(len(mine), self.add(name, mine, replace=replace), warnings[k]))
        return out

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
        known = self._known
        if known is None:
            known = self._known = self.embeddings()
        names, vectors = known
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
