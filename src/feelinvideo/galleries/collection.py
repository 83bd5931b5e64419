"""An Amazon Rekognition face collection as a feelinvideo gallery.

:class:`RekognitionCollection` implements :class:`feelinvideo.identity.gallery.Gallery`,
so enrolment, listing, removal and naming run the same code as for the local gallery:

* ``enroll``: ``IndexFaces`` per photo, ``ExternalImageId`` = the encoded name
  (:func:`~.adapter.encode_external_id`), ``MaxFaces=1``, ``QualityFilter="AUTO"``;
* ``people``: ``ListFaces`` (botocore's paginator, all pages), faces counted per name;
* ``remove``: ``ListFaces`` then ``DeleteFaces`` (at most 4096 face ids a request);
* ``match``: ``SearchFacesByImage`` on a crop of each face to name.

Source: Amazon Rekognition API reference (API version 2016-06-27),
https://docs.aws.amazon.com/rekognition/latest/APIReference/ (``CreateCollection``,
``IndexFaces``, ``ListFaces``, ``DeleteFaces``, ``SearchFacesByImage``).
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..backends.rekognition.adapter import (
    PERSON_COLUMN,
    SIMILARITY_COLUMN,
    best_match,
    decode_external_id,
    encode_external_id,
    encode_jpeg,
    face_crop,
    index_outcome,
)
from ..backends.rekognition.client import (
    DEFAULT_WORKERS,
    RekognitionError,
    RekognitionService,
    map_ordered,
)
from ..errors import GalleryError, ImageError
from ..faces import Faces
from .interface import Enrolled, Matches, Photo

#: ``FaceMatchThreshold`` of ``SearchFacesByImage`` by default (0-100), as the seed used.
DEFAULT_FACE_MATCH_THRESHOLD = 70.0
#: Most face ids one ``DeleteFaces`` request takes (API reference, ``DeleteFaces.FaceIds``).
DELETE_FACES_MAX = 4096
#: Faces per ``ListFaces`` page requested (the API allows up to 4096).
LIST_PAGE_SIZE = 1000

_COLLECTION_ID_RE = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")


class RekognitionCollection:
    """A Rekognition face collection holding enrolled people, one face per photo.

    Implements :class:`feelinvideo.identity.gallery.Gallery`. People are told apart by
    their faces' ``ExternalImageId`` (the encoded name); faces indexed by other tools
    without one are listed under "". :meth:`match` adds :attr:`columns` to ``faces.csv``:
    ``rek_person`` (the match's name, "" for none) and ``rek_similarity`` (0-100, NaN for
    no match or a face not looked at).

    Args:
        collection: the collection id (``[a-zA-Z0-9_.\\-]``, 1-255 characters).
        region, profile, endpoint_url: AWS region, named profile and service URL (default:
            the standard AWS configuration; see :class:`RekognitionService`).
        create: create the collection on the first :meth:`enroll` if it does not exist
            (``CreateCollection``); :attr:`created` then says whether it was.
        face_match_threshold: ``FaceMatchThreshold`` (0-100) of ``SearchFacesByImage``:
            the smallest similarity that names a face.
        workers: concurrent requests (>= 1).
        max_attempts: tries in all per request (default: :class:`RekognitionService`'s).
        service: a ready :class:`RekognitionService` to share (e.g. the backend's); else
            one is made from the arguments above.

    Raises:
        GalleryError: the collection id is not a valid one.
        ValueError: ``face_match_threshold`` is outside 0-100.
        MissingDependencyError: boto3 is not installed.
        RekognitionError: no credentials or region, unknown profile (one line).
    """

    columns: tuple[str, ...] = (PERSON_COLUMN, SIMILARITY_COLUMN)

    def __init__(
        self,
        collection: str,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        create: bool = False,
        face_match_threshold: float = DEFAULT_FACE_MATCH_THRESHOLD,
        workers: int = DEFAULT_WORKERS,
        max_attempts: int | None = None,
        service: RekognitionService | None = None,
    ):
        if not isinstance(collection, str) or not _COLLECTION_ID_RE.fullmatch(collection):
            raise GalleryError(
                f"Rekognition collection id {collection!r}: expected 1-255 characters of "
                "letters, digits, '_', '.' and '-'"
            )
        if not 0 <= face_match_threshold <= 100:
            raise ValueError(f"face_match_threshold must be in 0-100, got {face_match_threshold}")
        self.collection = collection
        self.location = f"rekognition:{collection}"
        self.face_match_threshold = float(face_match_threshold)
        self.workers = max(1, int(workers))
        self._own_service = service is None
        self.service = service or RekognitionService(
            region, profile, endpoint_url, max_attempts=max_attempts, max_connections=self.workers
        )
        self.region = self.service.region
        #: True once :meth:`enroll` created the collection (``create=True`` only).
        self.created = False
        self._create = create
        self._ensured = False
        self._face_ids: dict[str, list[str]] | None = None  # enroll's view of the collection

    def __repr__(self) -> str:
        return f"RekognitionCollection({self.collection!r}, region={self.region!r})"

    def __enter__(self) -> RekognitionCollection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections of the client this gallery made (not a shared one)."""
        if self._own_service:
            self.service.close()

    # ------------------------------------------------------------------ listing

    def _list(self) -> dict[str, list[str]]:
        """``{name: [FaceId, ...]}`` of every face in the collection (``ListFaces``, all pages).

        Raises:
            RekognitionError: unknown collection, access denied, network... (one line).
        """
        faces = self.service.list_all(
            "ListFaces", "Faces", page_size=LIST_PAGE_SIZE, CollectionId=self.collection
        )
        ids: dict[str, list[str]] = {}
        for face in faces:
            ids.setdefault(decode_external_id(face.get("ExternalImageId")), []).append(
                face.get("FaceId", "")
            )
        return ids

    def people(self) -> dict[str, int]:
        """``{name: faces indexed}`` of every person in the collection, sorted by name.

        Names are decoded ``ExternalImageId`` values (:func:`~.adapter.decode_external_id`);
        faces indexed without one count under "".

        Raises:
            RekognitionError: unknown collection, access denied, network... (one line).
        """
        ids = self._list()
        self._face_ids = ids
        return {name: len(ids[name]) for name in sorted(ids)}

    # ------------------------------------------------------------------ enrolment

    def _ensure_collection(self) -> None:
        """With ``create``, make the collection unless it exists (``CreateCollection``)."""
        if self._ensured or not self._create:
            return
        try:
            self.service.call("CreateCollection", CollectionId=self.collection)
            self.created = True
            self._face_ids = {}
        except RekognitionError as exc:
            if exc.code != "ResourceAlreadyExistsException":
                raise
        self._ensured = True

    def enroll(self, name: str, photos: list[Photo], replace: bool = False) -> Enrolled:
        """Index the largest face of each photo under ``name`` (``IndexFaces``).

        Each photo goes to ``IndexFaces`` with ``ExternalImageId`` = the encoded name,
        ``MaxFaces=1`` (the largest face) and ``QualityFilter="AUTO"``, concurrently on
        ``workers`` threads. With ``create``, the collection is created first if needed.
        A photo in which no face is indexed is skipped with a warning naming it (and the
        service's reasons, e.g. ``LOW_QUALITY``); one with several faces gives the largest,
        with a warning. ``replace=True`` deletes the person's earlier faces
        (``DeleteFaces``) once at least one new face is indexed, so a person whose new
        photos all fail keeps their old faces.

        Args:
            name: the person (non-empty; at most 255 characters once encoded).
            photos: the person's photos, RGB uint8 (H, W, 3) each.
            replace: replace the person's earlier faces instead of adding to them.

        Returns:
            :class:`Enrolled`: faces indexed from these photos, faces the collection now
            holds for the person, one warning per skipped or multi-face photo.

        Raises:
            GalleryError: the name cannot be an ``ExternalImageId`` (empty, too long).
            RekognitionError: unknown collection (without ``create``), access denied,
                network... (one line).
        """
        external_id = encode_external_id(name)
        warnings: list[str] = []
        jobs: list[tuple[Photo, bytes]] = []
        for photo in photos:
            try:
                jobs.append((photo, encode_jpeg(photo.image)))
            except ImageError as exc:
                warnings.append(f"skipped {photo.path}: {exc}")
        self._ensure_collection()
        if self._face_ids is None:
            self._face_ids = self._list()
        earlier = list(self._face_ids.get(name, []))

        def index(job: tuple[Photo, bytes]) -> dict:
            return self.service.call(
                "IndexFaces",
                CollectionId=self.collection,
                Image={"Bytes": job[1]},
                ExternalImageId=external_id,
                MaxFaces=1,
                QualityFilter="AUTO",
                DetectionAttributes=["DEFAULT"],
            )

        new_ids: list[str] = []
        for (photo, _), response in zip(jobs, map_ordered(index, jobs, self.workers), strict=True):
            records, found, reasons = index_outcome(response)
            if not records:
                why = f"face not indexed ({', '.join(reasons)})" if reasons else "no face found"
                warnings.append(f"skipped {photo.path}: {why}")
                continue
            if found > 1:
                warnings.append(f"{photo.path}: {found} faces found, used the largest")
            new_ids.extend(r.get("FaceId", "") for r in records)
        if new_ids and replace and earlier:
            self._delete(name, earlier)
            earlier = []
        if new_ids or name in self._face_ids:
            self._face_ids[name] = earlier + new_ids
        return Enrolled(used=len(new_ids), total=len(earlier) + len(new_ids), warnings=warnings)

    # ------------------------------------------------------------------ removal

    def _delete(self, name: str, face_ids: list[str]) -> int:
        """``DeleteFaces`` on ``face_ids``, 4096 a request; return how many were deleted.

        Raises:
            GalleryError: the service refused to delete some (e.g. a face associated to a
                Rekognition user); faces already gone are not an error.
        """
        deleted = 0
        refused: dict[str, int] = {}
        for start in range(0, len(face_ids), DELETE_FACES_MAX):
            response = self.service.call(
                "DeleteFaces",
                CollectionId=self.collection,
                FaceIds=face_ids[start : start + DELETE_FACES_MAX],
            )
            deleted += len(response.get("DeletedFaces") or [])
            for failure in response.get("UnsuccessfulFaceDeletions") or []:
                for reason in failure.get("Reasons") or ["UNKNOWN"]:
                    if reason != "FACE_NOT_FOUND":
                        refused[reason] = refused.get(reason, 0) + 1
        if refused:
            why = ", ".join(f"{n} {reason}" for reason, n in sorted(refused.items()))
            raise GalleryError(
                f"{self.location}: Rekognition did not delete every face of {name!r} ({why}); "
                f"{deleted} of {len(face_ids)} deleted"
            )
        return deleted

    def delete_collection(self) -> None:
        """Delete the whole collection and every face in it (``DeleteCollection``); used for
        the temporary collection of ``feelinvideo evaluate identity``.

        Raises:
            BackendError: the collection does not exist, access denied, network (one line).
        """
        self.service.call("DeleteCollection", CollectionId=self.collection)

    def remove(self, name: str) -> int:
        """Remove a person: delete all their faces (``ListFaces`` + ``DeleteFaces``).

        Returns:
            the number of faces deleted.

        Raises:
            GalleryError: nobody of that name is in the collection (the message lists who
                is), or the service refused to delete some faces.
            RekognitionError: unknown collection, access denied, network... (one line).
        """
        ids = self._list()
        if not ids.get(name):
            known = ", ".join(n for n in sorted(ids) if n) or "nobody"
            raise GalleryError(f"{self.location}: {name!r} is not enrolled (enrolled: {known})")
        deleted = self._delete(name, ids.pop(name))
        self._face_ids = ids
        return deleted

    # ------------------------------------------------------------------ naming

    def search(self, image: np.ndarray, xyxy: np.ndarray) -> tuple[str, float]:
        """``SearchFacesByImage`` on one face's crop -> ``(name, similarity 0-100)``.

        The crop is the box plus 25 % on each side, at least 80 px a side
        (:func:`~.adapter.face_crop`); ``MaxFaces=1``, ``FaceMatchThreshold`` =
        :attr:`face_match_threshold`. A crop in which Rekognition finds no face
        (``InvalidParameterException``, as the API reference documents for that case), a
        degenerate box, or no match give ``("", NaN)``.

        Raises:
            RekognitionError: unknown collection, access denied, network... (one line).
        """
        crop = face_crop(image, xyxy)
        if crop is None:
            return "", math.nan
        try:
            response = self.service.call(
                "SearchFacesByImage",
                CollectionId=self.collection,
                Image={"Bytes": encode_jpeg(crop)},
                FaceMatchThreshold=self.face_match_threshold,
                MaxFaces=1,
            )
        except RekognitionError as exc:
            if exc.code == "InvalidParameterException":
                return "", math.nan
            raise
        return best_match(response)

    def match(self, image: np.ndarray, faces: Faces, tolerance: float | None = None) -> Matches:
        """Name the faces of one frame that carry an embedding (:attr:`Faces.embedded`).

        Each such face's crop goes to :meth:`search`, concurrently on ``workers`` threads.
        ``tolerance`` (an embedding distance) is ignored: Rekognition's similarity and
        :attr:`face_match_threshold` decide.

        Args:
            image: the frame, RGB uint8 (H, W, 3).
            faces: its faces, boxes in its pixels.
            tolerance: ignored.

        Returns:
            :class:`Matches` with ``checked`` = :attr:`Faces.embedded`, ``name`` the match
            ("" for none), ``distance`` NaN, and ``data`` = ``{"rek_person": object (N,),
            "rek_similarity": float32 (N,) 0-100, NaN for no match or not checked}``.

        Raises:
            RekognitionError: unknown collection, access denied, network... (one line).
        """
        n = len(faces)
        checked = np.asarray(faces.embedded, dtype=bool).copy()
        names = np.full(n, "", dtype=object)
        similarity = np.full(n, np.nan, dtype=np.float32)
        rows = np.flatnonzero(checked).tolist()
        hits = map_ordered(lambda i: self.search(image, faces.xyxy[i]), rows, self.workers)
        for i, (name, score) in zip(rows, hits, strict=True):
            names[i], similarity[i] = name, score
        return Matches(
            checked=checked,
            name=names.copy(),
            distance=np.full(n, np.nan, dtype=np.float32),
            data={PERSON_COLUMN: names, SIMILARITY_COLUMN: similarity},
        )
