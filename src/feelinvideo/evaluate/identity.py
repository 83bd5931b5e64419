"""Naming accuracy on a labelled folder: ``DIR/<person>/*.jpg``.

The first photo (sorted by file name) of each person is enrolled into a temporary gallery
(a SQLite file in a temporary folder, or a temporary Rekognition collection deleted at the
end); every other photo is a probe. Each probe's largest face (MTCNN) is embedded (dlib) and
matched by the gallery, exactly as ``analyze`` names faces. Results: rank-1 accuracy (probes
named right / probes with a face), wrong names, unknowns, and the distances of right and
wrong matches; for the local gallery also the *genuine* distances (to the true person's
nearest enrolled face) and *impostor* distances (to the nearest other person), which show
where ``--tolerance`` separates the two.

With ``sizes`` (``--sizes``), every probe is also shown small: its photo scaled so that its
face is that many pixels wide, centred in a grey 1280x720 frame (a classroom's back row at
720p is about 54 px), found again by MTCNN in that frame, embedded and named the same way
(the size rule of :func:`feelinvideo.identity.naming.size_tolerance` included, as in
``analyze``). Results per size: faces found, rank-1, wrong names, unknowns, and the genuine
and impostor distances. The gallery stays the full-size enrolment photos.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageError, OptionError
from ..faces import Faces, box_iou
from ..galleries.enroll import ENROLL_BATCH, find_photos, load_photo
from ..galleries.interface import Gallery, Photo
from ..identity.naming import sized_matches
from ..models.dlib import chip_encodings, face_chips, pairwise_distances
from ..models.mtcnn import MtcnnDetector
from ..schema import DEFAULT_MIN_FACE_PX
from ..specs import GallerySpec

#: Frame the small probes are shown in (width, height in pixels): 720p.
FRAME_SIZE = (1280, 720)
#: Grey of the frame around a small probe.
BACKGROUND = 90
#: H.264 quality of the frames small probes are shown in (libx264's default rate factor).
VIDEO_CRF = 23


@dataclass
class Probe:
    """One probe: its photo, true person, the name given (``""`` = unknown) and the match's
    distance (NaN when none or when the gallery gives a similarity).

    Attributes:
        size: None for the photo as it is, else the face width in pixels it was shown at
            (``--sizes``); width: the found face's box width in pixels.
        genuine, impostor: local gallery only, the distance to the true person's nearest
            enrolled face and to the nearest other person's (NaN when not known).
    """

    path: Path
    person: str
    named: str
    distance: float
    size: int | None = None
    width: float = float("nan")
    genuine: float = float("nan")
    impostor: float = float("nan")


class _Named:
    """``right`` and ``wrong`` over a result's ``probes`` (a list of :class:`Probe`)."""

    probes: list[Probe]

    @property
    def right(self) -> int:
        """Probes named as their own person."""
        return sum(p.named == p.person for p in self.probes)

    @property
    def wrong(self) -> list[Probe]:
        """Probes named as someone else (the costly error)."""
        return [p for p in self.probes if p.named and p.named != p.person]


@dataclass
class SizeResult(_Named):
    """Naming at one face size (:attr:`IdentityEvaluation.by_size`).

    Attributes:
        size: face width in pixels the probes were shown at; shown: probes shown;
            found: those whose face MTCNN found again; probes: the :class:`Probe` of each.
    """

    size: int
    shown: int
    probes: list[Probe]

    def as_dict(self) -> dict:
        found = len(self.probes)
        return {
            "size_px": self.size,
            "shown": self.shown,
            "found": found,
            "right": self.right,
            "wrong": len(self.wrong),
            "unknown": sum(not p.named for p in self.probes),
            "accuracy": self.right / found if found else None,
            "genuine": quantiles([p.genuine for p in self.probes]),
            "impostor": quantiles([p.impostor for p in self.probes]),
            "wrong_names": [
                {
                    "photo": str(p.path),
                    "person": p.person,
                    "named": p.named,
                    "distance": _round(p.distance),
                }
                for p in self.wrong
            ],
            "results": [
                {
                    "photo": str(p.path),
                    "person": p.person,
                    "named": p.named,
                    "width_px": round(p.width, 1),
                    "distance": _round(p.distance),
                    "genuine": _round(p.genuine),
                    "impostor": _round(p.impostor),
                }
                for p in self.probes
            ],
        }


@dataclass
class IdentityEvaluation(_Named):
    """The result of :func:`evaluate_identity`.

    Attributes:
        gallery: where the temporary gallery was (``sqlite`` or ``rekognition:<id>``).
        tolerance: the distance tolerance used (local gallery).
        enrolled: people enrolled (one photo each); probes: one :class:`Probe` per probe
            photo with a face; no_face: probe photos with no face found.
        genuine, impostor: local gallery only, float distances of each probe to its own
            person's nearest enrolled face and to the nearest other person's.
        skipped: people or photos left out, with the reason.
        by_size: one :class:`SizeResult` a size of ``--sizes`` (empty without it).
    """

    gallery: str
    tolerance: float
    enrolled: list[str]
    probes: list[Probe]
    no_face: int
    genuine: list[float] = field(default_factory=list)
    impostor: list[float] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    by_size: list[SizeResult] = field(default_factory=list)

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
            "sizes": [r.as_dict() for r in self.by_size],
        }


def _round(value: float) -> float | None:
    """4 decimals, None for NaN (JSON has no NaN)."""
    return None if not np.isfinite(value) else round(float(value), 4)


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
    sizes: Sequence[int] = (),
) -> IdentityEvaluation:
    """Enrol each person's first photo, probe the others, count right, wrong and unknown.

    Args:
        folder: ``DIR/<person>/*.jpg|jpeg|png`` (people with one photo are enrolled only).
        tolerance: largest embedding distance naming a face (euclidean; dlib's 0.6).
        collection_prefix: use a temporary Amazon Rekognition collection named
            ``<prefix>-<random>`` (created, then deleted) instead of a local gallery.
        region, profile: AWS settings (Rekognition only).
        progress: called with the number of probes done, or None.
        sizes: face widths in pixels (each >= 16) to also show every probe at, in a
            1280x720 frame (see the module docstring).

    Returns:
        an :class:`IdentityEvaluation`.

    Raises:
        ImageError: the folder is missing or holds no photos, or no person has a second
            photo to probe with (before any model loads).
        OptionError: a size is under 16 or over 640 pixels.
        GalleryError, BackendError: the gallery or the service failed.
    """
    sizes = sorted({int(s) for s in sizes})
    if sizes and not 16 <= sizes[0] <= sizes[-1] <= 640:
        raise OptionError(f"face sizes must be 16-640 pixels, got {sizes}")
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
            return _evaluate(people, gallery, tolerance, progress, sizes)
        finally:
            if collection_prefix is not None and gallery.created:
                gallery.delete_collection()
            gallery.close()


def show_small(image: np.ndarray, xyxy: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A photo scaled so the face box ``xyxy`` (4,) is ``size`` pixels wide, the face
    centred in a grey :data:`FRAME_SIZE` frame (the rest of the photo cropped to it), then
    encoded and decoded as one H.264 frame (:func:`video_frame`), as a camera's video
    would bring it.

    Returns:
        ``(frame uint8 (720, 1280, 3) RGB, float (4,) the face box in the frame)``.
    """
    import cv2

    x1, y1, x2, y2 = (float(v) for v in xyxy)
    scale = size / max(1.0, x2 - x1)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
    width, height = FRAME_SIZE
    dx = int(round(width / 2 - (x1 + x2) / 2 * scale))
    dy = int(round(height / 2 - (y1 + y2) / 2 * scale))
    frame = np.full((height, width, 3), BACKGROUND, np.uint8)
    top, left = max(0, dy), max(0, dx)
    bottom, right = min(height, dy + small.shape[0]), min(width, dx + small.shape[1])
    frame[top:bottom, left:right] = small[top - dy : bottom - dy, left - dx : right - dx]
    return video_frame(frame), np.array([x1, y1, x2, y2]) * scale + np.array([dx, dy, dx, dy])


def video_frame(frame: np.ndarray, crf: int = VIDEO_CRF) -> np.ndarray:
    """``frame`` (uint8 (H, W, 3) RGB, even sides) after an H.264 round trip: libx264 at
    constant rate factor ``crf`` (23 is libx264's default), yuv420p, decoded by PyAV."""
    import io

    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10, options={"crf": str(crf)})
        stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], "yuv420p"
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def _evaluate(
    people, gallery: Gallery, tolerance: float, progress, sizes: list[int]
) -> IdentityEvaluation:
    detector = MtcnnDetector()
    # small probes are found down to 3/4 of their size (analyze's --min-face is the user's)
    small = MtcnnDetector(min_face_px=min(DEFAULT_MIN_FACE_PX, 0.75 * sizes[0])) if sizes else None
    where = gallery.location if gallery.location.startswith("rekognition:") else "local"
    result = IdentityEvaluation(f"temporary {where}", float(tolerance), [], [], 0)
    by_size = {size: SizeResult(size, 0, []) for size in sizes}
    probes: list[tuple[str, Path]] = []
    names = list(people)
    for start in range(0, len(names), ENROLL_BATCH):  # first photos, embedded together
        batch = []
        for person in names[start : start + ENROLL_BATCH]:
            first = people[person][0]
            try:
                batch.append((person, [Photo(first, load_photo(first))]))
            except ImageError as exc:
                result.skipped.append(f"{person}: {exc}")
        together = getattr(gallery, "enroll_many", None)
        if together is not None:
            outcomes = together(batch) if batch else []
        else:
            outcomes = [gallery.enroll(person, photos) for person, photos in batch]
        for (person, photos), enrolled in zip(batch, outcomes, strict=True):
            if not enrolled.used:
                result.skipped.append(
                    f"{person}: {photos[0].path} holds no usable face, not enrolled"
                )
                continue
            result.enrolled.append(person)
            probes += [(person, p) for p in people[person][1:]]
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
        shown: list[tuple[np.ndarray, Faces, int | None]] = [(image, face, None)]
        for size in sizes:
            frame, expected = show_small(image, face.xyxy[0], size)
            by_size[size].shown += 1
            found = small.detect([frame])[0]
            iou = box_iou(expected[None].astype(np.float32), found.xyxy)[0]
            if len(found) and iou.max() >= 0.3:
                shown.append((frame, found[int(np.argmax(iou))], size))
        # the photo's face at full size and at every size: aligned one by one, then one
        # network call, as analyze embeds a backend call's faces
        chips = np.concatenate([face_chips(img, f.xyxy) for img, f, _ in shown])
        for (img, f, size), vector in zip(shown, chip_encodings(chips), strict=True):
            f.embedding = vector[None]
            probe = _probe(gallery, known, img, f, person, path, tolerance, size)
            (result.probes if size is None else by_size[size].probes).append(probe)
        if progress is not None:
            progress(done)
    result.genuine = [p.genuine for p in result.probes if np.isfinite(p.genuine)]
    result.impostor = [p.impostor for p in result.probes if np.isfinite(p.impostor)]
    result.by_size = list(by_size.values())
    return result


def _probe(gallery, known, image, face: Faces, person, path, tolerance, size) -> Probe:
    """Name one face (1 row, its ``embedding`` set) as ``analyze`` does, size rule included."""
    match = sized_matches(face, gallery.match(image, face, tolerance), tolerance)
    width = float(face.xyxy[0, 2] - face.xyxy[0, 0])
    probe = Probe(path, person, str(match.name[0]), float(match.distance[0]), size, width)
    if known is not None and known[0]:
        names = np.array(known[0])
        dist = pairwise_distances(face.embedding, known[1])[0]
        if (names == person).any():
            probe.genuine = float(dist[names == person].min())
        if (names != person).any():
            probe.impostor = float(dist[names != person].min())
    return probe


__all__ = [
    "IdentityEvaluation",
    "Probe",
    "SizeResult",
    "evaluate_identity",
    "quantiles",
    "show_small",
]
