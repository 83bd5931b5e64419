"""Naming accuracy on a labelled folder: ``DIR/<person>/*.jpg``.

The first photo (sorted by file name) of each person is enrolled into a temporary gallery
(a SQLite file in a temporary folder, or a temporary Rekognition collection deleted at the
end); every other photo is a probe. Each probe's largest face (MTCNN) is embedded (dlib) and
matched by the gallery, exactly as ``analyze`` names faces. Results: rank-1 accuracy (probes
named right / probes with a face), wrong names, unknowns, and the distances of right and
wrong matches; for the local gallery also the *genuine* distances (to the true person's
nearest enrolled face) and *impostor* distances (to the nearest other person), which show
where ``--tolerance`` separates the two.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageError
from ..galleries.enroll import find_photos, load_photo
from ..galleries.interface import Gallery, Photo
from ..models.dlib import face_encodings, pairwise_distances
from ..models.mtcnn import MtcnnDetector
from ..specs import GallerySpec


@dataclass
class Probe:
    """One probe photo: its file, true person, the name given (``""`` = unknown) and the
    match's distance (NaN when none or when the gallery gives a similarity)."""

    path: Path
    person: str
    named: str
    distance: float


@dataclass
class IdentityEvaluation:
    """The result of :func:`evaluate_identity`.

    Attributes:
        gallery: where the temporary gallery was (``sqlite`` or ``rekognition:<id>``).
        tolerance: the distance tolerance used (local gallery).
        enrolled: people enrolled (one photo each); probes: one :class:`Probe` per probe
            photo with a face; no_face: probe photos with no face found.
        genuine, impostor: local gallery only, float distances of each probe to its own
            person's nearest enrolled face and to the nearest other person's.
        skipped: people or photos left out, with the reason.
    """

    gallery: str
    tolerance: float
    enrolled: list[str]
    probes: list[Probe]
    no_face: int
    genuine: list[float] = field(default_factory=list)
    impostor: list[float] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def right(self) -> int:
        """Probes named as their own person."""
        return sum(p.named == p.person for p in self.probes)

    @property
    def wrong(self) -> list[Probe]:
        """Probes named as someone else (the costly error)."""
        return [p for p in self.probes if p.named and p.named != p.person]

    @property
    def unknown(self) -> int:
        """Probes left unnamed."""
        return sum(not p.named for p in self.probes)

    @property
    def accuracy(self) -> float | None:
        """Rank-1 accuracy over probes with a face (0-1), None with none."""
        return self.right / len(self.probes) if self.probes else None

    def as_dict(self) -> dict:
        """JSON-ready summary, with per-probe results and distance quantiles."""
        right = [p.distance for p in self.probes if p.named and p.named == p.person]
        wrong = [p.distance for p in self.wrong]
        return {
            "gallery": self.gallery,
            "tolerance": self.tolerance,
            "enrolled": self.enrolled,
            "probes": len(self.probes),
            "no_face": self.no_face,
            "right": self.right,
            "wrong": len(self.wrong),
            "unknown": self.unknown,
            "accuracy": self.accuracy,
            "distances": {
                "right_matches": quantiles(right),
                "wrong_matches": quantiles(wrong),
                "genuine": quantiles(self.genuine),
                "impostor": quantiles(self.impostor),
            },
            "results": [
                {
                    "photo": str(p.path),
                    "person": p.person,
                    "named": p.named,
                    "distance": None if np.isnan(p.distance) else round(p.distance, 4),
                }
                for p in self.probes
            ],
            "skipped": self.skipped,
        }


def quantiles(values: list[float]) -> dict:
    """``count, min, median, max`` (rounded to 4 decimals; None when empty or all NaN)."""
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return {"count": len(values), "min": None, "median": None, "max": None}
    return {
        "count": len(values),
        "min": round(float(np.min(finite)), 4),
        "median": round(float(np.median(finite)), 4),
        "max": round(float(np.max(finite)), 4),
    }


def evaluate_identity(
    folder: str | os.PathLike,
    tolerance: float = 0.6,
    collection_prefix: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    progress=None,
) -> IdentityEvaluation:
    """Enrol each person's first photo, probe the others, count right, wrong and unknown.

    Args:
        folder: ``DIR/<person>/*.jpg|jpeg|png`` (people with one photo are enrolled only).
        tolerance: largest embedding distance naming a face (euclidean; dlib's 0.6).
        collection_prefix: use a temporary Amazon Rekognition collection named
            ``<prefix>-<random>`` (created, then deleted) instead of a local gallery.
        region, profile: AWS settings (Rekognition only).
        progress: called with the number of probes done, or None.

    Returns:
        an :class:`IdentityEvaluation`.

    Raises:
        ImageError: the folder is missing or holds no photos, or no person has a second
            photo to probe with (before any model loads).
        GalleryError, BackendError: the gallery or the service failed.
    """
    people = find_photos(folder)
    if all(len(photos) < 2 for photos in people.values()):
        raise ImageError(
            f"{folder}: no probe photos: every person has one photo, and evaluation enrols "
            "each person's first photo and names the others; give some people two or more "
            "(DIR/<person>/*.jpg)"
        )
    with tempfile.TemporaryDirectory(prefix="feelinvideo-evaluate-") as tmp:
        if collection_prefix is not None:
            name = f"{collection_prefix}-{uuid.uuid4().hex[:12]}"
            spec = GallerySpec(collection=name, region=region, profile=profile, create=True)
        else:
            spec = GallerySpec(path=str(Path(tmp) / "evaluate.sqlite"), create=True)
        gallery = spec.open()
        try:
            return _evaluate(people, gallery, tolerance, load_photo, progress)
        finally:
            if collection_prefix is not None and gallery.created:
                gallery.delete_collection()
            gallery.close()


def _evaluate(people, gallery: Gallery, tolerance, load_photo, progress) -> IdentityEvaluation:
    detector = MtcnnDetector()
    where = gallery.location if gallery.location.startswith("rekognition:") else "local"
    result = IdentityEvaluation(f"temporary {where}", float(tolerance), [], [], 0)
    probes: list[tuple[str, Path]] = []
    for person, photos in people.items():
        try:
            enrolled = gallery.enroll(person, [Photo(photos[0], load_photo(photos[0]))])
        except ImageError as exc:
            result.skipped.append(f"{person}: {exc}")
            continue
        if not enrolled.used:
            result.skipped.append(f"{person}: {photos[0]} holds no usable face, not enrolled")
            continue
        result.enrolled.append(person)
        probes += [(person, p) for p in photos[1:]]
    known = gallery.embeddings() if hasattr(gallery, "embeddings") else None
    for done, (person, path) in enumerate(probes, 1):
        if person not in result.enrolled:
            continue
        try:
            image = load_photo(path)
        except ImageError as exc:
            result.skipped.append(str(exc))
            continue
        faces = detector.detect([image])[0]
        if not len(faces):
            result.no_face += 1
            continue
        face = faces[int(np.argmax(faces.area))]
        face.embedding = face_encodings(image, face.xyxy)
        match = gallery.match(image, face, tolerance)
        result.probes.append(Probe(path, person, str(match.name[0]), float(match.distance[0])))
        if known is not None and known[0]:
            names = np.array(known[0])
            dist = pairwise_distances(face.embedding, known[1])[0]
            if (names == person).any():
                result.genuine.append(float(dist[names == person].min()))
            if (names != person).any():
                result.impostor.append(float(dist[names != person].min()))
        if progress is not None:
            progress(done)
    return result


__all__ = ["IdentityEvaluation", "Probe", "evaluate_identity", "quantiles"]
