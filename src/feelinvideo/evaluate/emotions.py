"""Emotion accuracy on a labelled folder: ``DIR/<emotion>/*.jpg|png``.

The layout of FER-2013 and RAF-DB exports: one folder per emotion, named with one of the
seven labels or a common synonym (``surprised``, ``happiness``, ``anger``...; see
:data:`SYNONYMS`). Each image is scored by the backend: with ``crops=True`` the whole image
is the face (48x48 FER-2013 images), otherwise the largest face the detector finds. Images
with no face are counted apart, not as errors. Results: accuracy, per-class recall and the
confusion matrix (:func:`sklearn.metrics.confusion_matrix`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageError
from ..galleries.enroll import load_photo
from ..schema import EMOTIONS
from ..specs import BackendSpec

#: Folder names taken as each emotion (lower-case), the seven labels included.
SYNONYMS: dict[str, str] = {
    **{e: e for e in EMOTIONS},
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "afraid": "fear",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "calm": "neutral",
}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: Images scored per backend call.
IMAGES_PER_CALL = 32


@dataclass
class EmotionEvaluation:
    """The result of :func:`evaluate_emotions`.

    Attributes:
        confusion: int64 (7, 7): rows the true emotion, columns the predicted one, EMOTIONS
            order, over the images in which a face was scored.
        images: images found; no_face: images in which no face was found (not scored).
        skipped: folders (and unreadable images) left out, with the reason.
    """

    confusion: np.ndarray
    images: int
    no_face: int
    skipped: list[str] = field(default_factory=list)

    @property
    def scored(self) -> int:
        """Images in which a face was scored."""
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float | None:
        """Share of scored images whose top emotion is the label (0-1), None with none."""
        return float(np.trace(self.confusion) / self.scored) if self.scored else None

    @property
    def recall(self) -> dict[str, float | None]:
        """Per true emotion, the share of its images predicted right (0-1; None: no images)."""
        totals = self.confusion.sum(axis=1)
        return {
            e: (float(self.confusion[k, k] / totals[k]) if totals[k] else None)
            for k, e in enumerate(EMOTIONS)
        }

    def as_dict(self) -> dict:
        """JSON-ready: ``images, scored, no_face, accuracy, recall, confusion, skipped``."""
        return {
            "images": self.images,
            "scored": self.scored,
            "no_face": self.no_face,
            "accuracy": self.accuracy,
            "recall": self.recall,
            "labels": list(EMOTIONS),
            "confusion": self.confusion.tolist(),
            "skipped": self.skipped,
        }


def find_labelled_images(folder: str | os.PathLike) -> tuple[dict[str, list[Path]], list[str]]:
    """``({emotion: [image paths, sorted]}, [skipped folders with the reason])``.

    Raises:
        ImageError: ``folder`` is missing, not a folder, or holds no emotion folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such folder (expected DIR/<emotion>/*.jpg)")
    found: dict[str, list[Path]] = {}
    skipped = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = SYNONYMS.get(sub.name.strip().lower())
        if label is None:
            skipped.append(f"{sub}: not one of the seven emotions ({', '.join(EMOTIONS)})")
            continue
        images = sorted(
            p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        found.setdefault(label, []).extend(images)
    if not any(found.values()):
        raise ImageError(
            f"{folder}: holds no emotion folders with images (expected DIR/<emotion>/*.jpg, "
            f"emotion one of {', '.join(EMOTIONS)})"
        )
    return found, skipped


def evaluate_emotions(folder: str | os.PathLike, crops: bool = False, backend=None, progress=None):
    """Score every labelled image and compare the top emotion with its folder's label.

    Args:
        folder: ``DIR/<emotion>/*.jpg|jpeg|png``.
        crops: the images are face crops (the whole image is the face; local backend: fer's
            model on the image, no detection).
        backend: a :class:`~feelinvideo.backends.protocol.Backend` (default local MTCNN + fer).
        progress: called with the number of images done after each backend call, or None.

    Returns:
        an :class:`EmotionEvaluation`.

    Raises:
        ImageError: the folder is missing or holds no emotion folder.
        BackendError: the models or service failed.
    """
    from sklearn.metrics import confusion_matrix

    found, skipped = find_labelled_images(folder)
    if backend is None:
        backend = BackendSpec().build()
    jobs = [(label, path) for label, paths in found.items() for path in paths]
    truth, predicted, no_face = [], [], 0
    for start in range(0, len(jobs), IMAGES_PER_CALL):
        batch, images = [], []
        for label, path in jobs[start : start + IMAGES_PER_CALL]:
            try:
                images.append(load_photo(path))
                batch.append(label)
            except ImageError as exc:
                skipped.append(str(exc))
        for label, scores in zip(batch, _score(images, crops, backend), strict=True):
            if scores is None:
                no_face += 1
                continue
            truth.append(label)
            predicted.append(EMOTIONS[int(np.argmax(scores))])
        if progress is not None:
            progress(min(start + IMAGES_PER_CALL, len(jobs)))
    matrix = (
        confusion_matrix(truth, predicted, labels=list(EMOTIONS))
        if truth
        else np.zeros((len(EMOTIONS), len(EMOTIONS)), np.int64)
    )
    return EmotionEvaluation(matrix.astype(np.int64), len(jobs), no_face, skipped)


def _score(images: list[np.ndarray], crops: bool, backend) -> list[np.ndarray | None]:
    """Seven scores per image (of the whole image with ``crops``, else of its largest face),
    None where no face was found."""
    if crops and hasattr(backend, "emotions"):
        boxes = [np.array([[0, 0, im.shape[1], im.shape[0]]], np.float32) for im in images]
        return [s[0] for s in backend.emotions.score_frames(images, boxes)]
    if crops:  # a service needs room around the face: give it a larger canvas
        images = [_upscaled(im) for im in images]
    out = []
    for faces in backend.analyze(images):
        out.append(faces.scores[int(np.argmax(faces.area))] if len(faces) else None)
    return out


def _upscaled(image: np.ndarray, side: int = 160) -> np.ndarray:
    import cv2

    scale = max(1.0, side / min(image.shape[:2]))
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
