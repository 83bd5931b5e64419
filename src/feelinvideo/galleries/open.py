"""Opening a gallery: the factory above both implementations (the local SQLite file and a
Rekognition collection), so the interface (:mod:`.interface`) imports neither."""

from __future__ import annotations

import os

from .collection import RekognitionCollection
from .interface import Gallery, default_gallery_path
from .sqlite import SqliteGallery


def open_gallery(
    path: str | os.PathLike | None = None,
    *,
    collection: str | None = None,
    create: bool = False,
    region: str | None = None,
    profile: str | None = None,
    face_match_threshold: float | None = None,
) -> Gallery:
    """Open a gallery: a Rekognition collection when ``collection`` is given, else the
    local SQLite file at ``path`` (default :func:`default_gallery_path`).

    Args:
        path: local gallery file.
        collection: Amazon Rekognition collection id (needs ``feelinvideo[aws]``).
        create: create the file or collection if it does not exist (enrolment).
        region, profile: AWS region and named profile (collection only).
        face_match_threshold: ``SearchFacesByImage`` similarity threshold 0-100 (collection
            only; default 70).

    Raises:
        GalleryError: the file is missing (without ``create``), corrupt or not a gallery.
        ValueError: both ``path`` and ``collection`` are given.
        MissingDependencyError, BackendError: for a collection, boto3 or AWS set-up missing.
    """
    if collection is not None:
        if path is not None:
            raise ValueError("give a gallery file or a Rekognition collection, not both")
        kwargs = (
            {} if face_match_threshold is None else {"face_match_threshold": face_match_threshold}
        )
        return RekognitionCollection(
            collection, region=region, profile=profile, create=create, **kwargs
        )
    return SqliteGallery(path if path is not None else default_gallery_path(), create=create)
