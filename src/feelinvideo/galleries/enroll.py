"""Enrolment: turn a folder of photos into gallery entries, the same way for every gallery.

``DIR/<name>.jpg`` (one photo a person, the file name is the person, as face_recognition
does) and ``DIR/<name>/*.jpg`` (several photos a person) may be mixed freely. Each person's
photos go to :meth:`feelinvideo.identity.gallery.Gallery.enroll`, whichever gallery it is
(the local SQLite file or a Rekognition collection).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import GalleryError, ImageError
from ..schema import is_unknown
from .interface import Gallery, Photo

#: Photo file extensions taken by :func:`find_photos` (case-insensitive).
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: Photos larger than this (longest side, pixels) are scaled down before detection.
MAX_PHOTO_SIDE = 1600
#: :func:`enroll_folder` loads people's photos until at least this many are loaded (or the
#: folder ends), then enrols them together: a gallery that embeds locally (the SQLite file's
#: ``enroll_many``) puts their faces through the descriptor network in one call, 16 chips a
#: pass (about 25 ms a chip at batch 16 here, ``bench/bench_embedding.py``). At most this
#: many photos (up to 1600 px: about 8 MB each) plus one person's are held at once.
ENROLL_BATCH = 16


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
        ImageError: the file is missing, not a readable image, or larger than PIL's
            decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 million
            pixels: no camera photo comes near it).
    """
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = Image.MAX_IMAGE_PIXELS
        raise ImageError(
            f"{path}: too large (over PIL's limit of {limit:,} pixels for a photo)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable image ({exc.__class__.__name__})") from None
    try:
        with im:
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
    """What :func:`enroll_folder` did.

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


def check_name(name: str) -> str:
    """The person's name, stripped.

    Raises:
        GalleryError: the name is empty, holds control characters (tab, newline: they
            would break ``gallery list``'s TSV), or is reserved for unknown people.
    """
    name = name.strip()
    if not name:
        raise GalleryError("a person needs a non-empty name")
    if any(not c.isprintable() for c in name):
        raise GalleryError(f"{name!r}: a name cannot hold control characters")
    if is_unknown(name):
        raise GalleryError(f"{name}: reserved for unknown people (unknown-N), not enrolled")
    return name


def enroll_folder(
    folder: str | os.PathLike, gallery: Gallery, replace: bool = False
) -> EnrollReport:
    """Enrol every person photographed in ``folder`` (see :func:`find_photos`) into ``gallery``.

    Each photo must hold a face: a photo with none is skipped with a warning naming it; a
    photo with several gives the largest face, with a warning. A person left with no usable
    photo (or with a refused name) is reported in ``skipped`` and not enrolled. Enrolling a
    person again adds the new photos; ``replace=True`` replaces the person's earlier ones.

    Args:
        folder: the photo folder.
        gallery: an open :class:`~feelinvideo.identity.gallery.Gallery`.
        replace: replace each enrolled person instead of adding to them.

    Returns:
        an :class:`EnrollReport`; ``enrolled`` is empty when nobody could be enrolled (the
        CLI then exits non-zero).

    Raises:
        ImageError: the folder is missing or holds no photos.
        GalleryError, BackendError: the gallery cannot be written.
    """
    people = find_photos(folder)
    report = EnrollReport()
    batch: list[tuple[str, list[Photo]]] = []
    for name, paths in people.items():
        try:
            name = check_name(name)
        except GalleryError as exc:
            report.skipped.append(name)
            report.warnings.append(str(exc))
            continue
        photos = []
        for path in paths:
            try:
                photos.append(Photo(path, load_photo(path)))
            except ImageError as exc:
                report.warnings.append(f"skipped {exc}")
        batch.append((name, photos))
        if sum(len(p) for _, p in batch) >= ENROLL_BATCH:
            _enroll_batch(gallery, batch, replace, report)
            batch = []
    if batch:
        _enroll_batch(gallery, batch, replace, report)
    return report


def _enroll_batch(
    gallery: Gallery, batch: list[tuple[str, list[Photo]]], replace: bool, report: EnrollReport
) -> None:
    """Enrol ``[(name, photos)]`` into ``gallery`` (together where it has ``enroll_many``,
    else person by person) and record the outcomes in ``report``."""
    wanted = [(name, photos) for name, photos in batch if photos]
    together = getattr(gallery, "enroll_many", None)
    if together is not None and wanted:
        outcomes = dict(zip([n for n, _ in wanted], together(wanted, replace=replace), strict=True))
    else:
        outcomes = {name: gallery.enroll(name, photos, replace=replace) for name, photos in wanted}
    for name, _ in batch:
        outcome = outcomes.get(name)
        if outcome is not None:
            report.warnings.extend(outcome.warnings)
        if outcome is None or not outcome.used:
            report.skipped.append(name)
            report.warnings.append(f"{name}: no usable photo, not enrolled")
            continue
        report.enrolled[name] = outcome.used
        report.totals[name] = outcome.total
