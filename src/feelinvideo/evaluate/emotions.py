"""Emotion accuracy on a labelled folder: ``DIR/<emotion>/*.jpg|png``.

The layout of FER-2013 and RAF-DB exports: one folder per emotion, named with one of the
seven labels or a common synonym (``surprised``, ``happiness``, ``anger``...; see
:data:`SYNONYMS`). Each image is scored by the backend: with ``crops=True`` the whole image
is the face (48x48 FER-2013 images), scored as the model was trained (the crop itself
resized to the model's input, no widening), otherwise the largest face the detector finds,
cropped by the backend's rule. Images with no face are counted apart, not as errors.
Results: accuracy, per-class recall and the confusion matrix.

With the local backend each image is also scored by a reference on the same faces, so that
what the preprocessing adds is measured in the same run: with ``crops`` the crop alone
(no mirror averaging), otherwise the detector's box itself
(:data:`feelinvideo.models.fer.BOX_RULE`). Accuracy through the pipeline by face size is
:mod:`feelinvideo.evaluate.placed`.
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
        rule: the preprocessing scored, in words (None: a service's own).
        reference: the same faces scored by the reference preprocessing, or None.
        reference_rule: the reference's preprocessing, in words.
    """

    confusion: np.ndarray
    images: int
    no_face: int
    skipped: list[str] = field(default_factory=list)
    rule: str | None = None
    reference: EmotionEvaluation | None = None
    reference_rule: str | None = None

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

    @property
    def gain(self) -> float | None:
        """Accuracy minus the reference's (-1 to 1), None without a reference."""
        if self.reference is None or self.accuracy is None or self.reference.accuracy is None:
            return None
        return self.accuracy - self.reference.accuracy

    def as_dict(self) -> dict:
        """JSON-ready: ``images, scored, no_face, accuracy, recall, labels, confusion, rule,
        reference_rule, reference_accuracy, skipped``."""
        return {
            "images": self.images,
            "scored": self.scored,
            "no_face": self.no_face,
            "accuracy": self.accuracy,
            "recall": self.recall,
            "labels": list(EMOTIONS),
            "confusion": self.confusion.tolist(),
            "rule": self.rule,
            "reference_rule": self.reference_rule,
            "reference_accuracy": None if self.reference is None else self.reference.accuracy,
            "skipped": self.skipped,
        }


def confusion_of(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """int64 (7, 7) confusion matrix from int arrays (N,) of EMOTIONS indices: rows the
    true emotion, columns the predicted one."""
    k = len(EMOTIONS)
    truth = np.asarray(truth, np.int64).reshape(-1)
    predicted = np.asarray(predicted, np.int64).reshape(-1)
    return np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k).astype(np.int64)


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
            model on the crop itself resized to its input, no detection, no widening, with
            the backend's mirror setting; the reference is the crop alone).
        backend: a :class:`~feelinvideo.backends.protocol.Backend` (default local MTCNN + fer).
        progress: called with the number of images done after each backend call, or None.

    Returns:
        an :class:`EmotionEvaluation` (with its ``reference`` for the local backend).

    Raises:
        ImageError: the folder is missing or holds no emotion folder.
        BackendError: the models or service failed.
    """
    found, skipped = find_labelled_images(folder)
    if backend is None:
        backend = BackendSpec().build()
    rules = _rules(crops, backend)
    jobs = [(label, path) for label, paths in found.items() for path in paths]
    truth = {name: [] for name in rules}
    predicted = {name: [] for name in rules}
    no_face = 0
    for start in range(0, len(jobs), IMAGES_PER_CALL):
        batch, images = [], []
        for label, path in jobs[start : start + IMAGES_PER_CALL]:
            try:
                images.append(load_photo(path))
                batch.append(EMOTIONS.index(label))
            except ImageError as exc:
                skipped.append(str(exc))
        scored = _score(images, crops, backend, rules)
        for name, per_image in scored.items():
            for label, scores in zip(batch, per_image, strict=True):
                if scores is None:
                    no_face += name == "production"
                    continue
                truth[name].append(label)
                predicted[name].append(int(np.argmax(scores)))
        if progress is not None:
            progress(min(start + IMAGES_PER_CALL, len(jobs)))
    result = {
        name: EmotionEvaluation(
            confusion_of(truth[name], predicted[name]),
            len(jobs),
            no_face,
            skipped if name == "production" else [],
            rule=None if rule is None else rule.describe("the crop itself" if crops else "box"),
        )
        for name, rule in rules.items()
    }
    out = result["production"]
    if "reference" in result:
        out.reference = result["reference"]
        out.reference_rule = out.reference.rule
    return out


def _rules(crops: bool, backend) -> dict:
    """name -> crop rule scored: ``production`` (None: the backend's own scores) and,
    where it differs, ``reference``."""
    if not hasattr(backend, "emotions"):
        return {"production": None}
    from ..models.fer import BOX_RULE, CropRule

    if crops:
        mine = CropRule(mirror=backend.emotions.crop.mirror)
        reference = CropRule()
    else:
        mine, reference = backend.emotions.crop, BOX_RULE
    return {"production": mine} | ({"reference": reference} if reference != mine else {})


def _score(images: list[np.ndarray], crops: bool, backend, rules: dict) -> dict:
    """Per rule, seven scores per image (of the whole image with ``crops``, else of its
    largest face), None where no face was found."""
    if rules.get("production") is None:
        if crops:  # a service needs room around the face: give it a larger canvas
            images = [_upscaled(im) for im in images]
        out = []
        for faces in backend.analyze(images):
            out.append(faces.scores[int(np.argmax(faces.area))] if len(faces) else None)
        return {"production": out}
    if crops:  # a crop has no landmarks: an aligning rule cuts it unturned
        boxes = [np.array([[0, 0, im.shape[1], im.shape[0]]], np.float32) for im in images]
        points = None
    else:
        largest = [
            faces[[int(np.argmax(faces.area))]] if len(faces) else faces
            for faces in backend.detector.detect(images)
        ]
        boxes = [faces.xyxy for faces in largest]
        points = [faces.landmarks for faces in largest]
    out = {}
    for name, rule in rules.items():
        scores = backend.emotions.score_frames(images, boxes, rule, points)
        out[name] = [s[0] if len(s) else None for s in scores]
    return out


def _upscaled(image: np.ndarray, side: int = 160) -> np.ndarray:
    import cv2

    scale = max(1.0, side / min(image.shape[:2]))
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
